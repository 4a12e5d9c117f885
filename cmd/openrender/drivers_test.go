package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The library packages link no cloud SDK: only this binary (drivers.go)
// does, so an app embedding the engine with local storage pays for none.
func TestLibrariesLinkNoCloudSDK(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	libs := []string{"engine", "storage", "storage/blobstore", "httpapi", "store/sqlite", "queue"}
	for i, l := range libs {
		libs[i] = "github.com/openrender/openrender/" + l
	}
	out, err := exec.Command(goBin, append([]string{"list", "-deps"}, libs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, sdk := range []string{"github.com/aws/", "cloud.google.com/", "github.com/Azure/", "gocloud.dev/blob/s3blob",
			"gocloud.dev/blob/gcsblob", "gocloud.dev/blob/azureblob",
			// Nor a database or broker client: those come with the
			// store and queue drivers, which only the binary imports.
			"github.com/jackc/", "github.com/nats-io/", "github.com/rabbitmq/", "gocloud.dev/pubsub"} {
			if strings.HasPrefix(dep, sdk) {
				t.Errorf("a library package depends on %s", dep)
			}
		}
	}
	// And the binary does link the drivers --storage-url relies on.
	out, err = exec.Command(goBin, "list", "-deps", "github.com/openrender/openrender/cmd/openrender").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, d := range []string{"gocloud.dev/blob/s3blob", "gocloud.dev/blob/gcsblob", "gocloud.dev/blob/azureblob",
		"github.com/openrender/openrender/store/postgres", "github.com/openrender/openrender/queue/natsqueue",
		"github.com/openrender/openrender/queue/pubsubqueue", "gocloud.dev/pubsub/rabbitpubsub"} {
		if !strings.Contains(string(out), d+"\n") {
			t.Errorf("cmd/openrender does not link %s", d)
		}
	}
}
