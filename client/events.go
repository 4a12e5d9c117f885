package client

import (
	"bufio"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strings"
)

// maxEventBytes bounds one Server-Sent Events line: a "status" event
// carries a whole command object, original request included.
const maxEventBytes = 4 << 20

// progressEvent is the data of a "progress" event.
type progressEvent struct {
	Status     string   `json:"status"`
	Progress   *float64 `json:"progress"`
	ETASeconds *float64 `json:"eta_seconds"`
}

// followEvents follows GET /api/v1/commands/{id}/events (an extension), a
// Server-Sent Events stream of "status" events (data: the command object)
// and "progress" events (data: status, progress, eta_seconds), calling
// onUpdate for each. It returns the final command once the stream carries
// it. It returns a nil command and a nil error when the server has no
// event stream (any answer but 200 text/event-stream: an older server, a
// RenderIO-compatible one, a proxy in the way) or the stream ended before
// the final status: the caller then polls, which also reports an unknown
// id as the *Error of GET /commands/{id}. Only ctx's end is an error.
func (c *Client) followEvents(ctx context.Context, id string, onUpdate func(*Command)) (*Command, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/commands/"+escape(id)+"/events", nil, nil)
	if err != nil {
		return nil, nil
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, ctx.Err()
	}
	defer resp.Body.Close()
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode != http.StatusOK || mt != "text/event-stream" {
		return nil, nil
	}
	var (
		cmd   *Command
		event string
		data  []byte
	)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				event = value
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
			continue // comments (keep-alives), "retry", "id" and unknown fields are ignored
		}
		// A blank line dispatches the event.
		switch event {
		case "status":
			var got Command
			if json.Unmarshal(data, &got) != nil || got.CommandID == "" {
				return nil, nil // not what this client understands: poll
			}
			cmd = &got
			onUpdate(cmd)
			if cmd.Done() {
				return cmd, nil
			}
		case "progress":
			var p progressEvent
			if cmd != nil && json.Unmarshal(data, &p) == nil {
				next := *cmd
				next.Progress, next.ETASeconds = p.Progress, p.ETASeconds
				if p.Status != "" {
					next.Status = p.Status
				}
				cmd = &next
				onUpdate(cmd)
			}
		}
		event, data = "", nil
	}
	return nil, ctx.Err()
}
