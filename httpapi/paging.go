package httpapi

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/openrender/openrender/template"
)

// List paging, as the contract sets it.
const (
	DefaultListLimit = 50
	MaxListLimit     = 100
)

// pageParams reads the limit and offset of a list request.
func pageParams(q url.Values) (limit, offset int, problems template.Errors) {
	limit = DefaultListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			problems = append(problems, template.NewFieldError(fmt.Sprintf("limit must be a whole number from 1 to %d", MaxListLimit), "query", "limit"))
		}
		limit = min(n, MaxListLimit) // integrations ask for more and page on; cap, don't refuse
	}
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			problems = append(problems, template.NewFieldError("offset must be a whole number, 0 or more", "query", "offset"))
		}
		offset = n
	}
	return limit, offset, problems
}
