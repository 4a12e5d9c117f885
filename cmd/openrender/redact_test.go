package main

import (
	"strings"
	"testing"
)

// The start-up block shows the database and storage URLs; no secret in
// them may reach the terminal or the logs it is copied to, whatever form
// the URL takes.
func TestRedactURLHidesSecrets(t *testing.T) {
	for _, raw := range []string{
		"postgres://app:s3cret@db.example:5432/openrender",
		"postgres://app@db.example/openrender?sslmode=require&password=s3cret",
		"s3://bucket?region=eu-west-1&secret_access_key=s3cret",
		"azblob://container?sas_token=s3cret",
		"postgres://app:s3cret%zz@db.example/openrender", // not a valid URL
		"postgres://app:s3cret@db.example/openrender\x7f",
	} {
		got := redactURL(raw)
		if strings.Contains(got, "s3cret") {
			t.Errorf("redactURL(%q) = %q: the secret shows", raw, got)
		}
	}
	// What is not secret stays readable.
	if got := redactURL("postgres://app:pw@db.example:5432/openrender?sslmode=require"); !strings.Contains(got, "db.example:5432/openrender") || !strings.Contains(got, "sslmode=require") || !strings.Contains(got, "app") {
		t.Errorf("redactURL hides too much: %q", got)
	}
	if got := redactURL("file:///var/lib/openrender/files"); got != "file:///var/lib/openrender/files" {
		t.Errorf("redactURL(file URL) = %q", got)
	}
}
