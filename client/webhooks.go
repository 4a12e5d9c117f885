package client

import (
	"context"

	"github.com/openrender/openrender/api"
)

// PutWebhookConfig sets the account's webhook: url receives a POST when
// each command ends, signed with secret when it is not empty. It also
// re-enables a disabled webhook.
func (c *Client) PutWebhookConfig(ctx context.Context, url, secret string) error {
	body := map[string]string{"url": url}
	if secret != "" {
		body["secret"] = secret
	}
	return c.do(ctx, "PUT", "/webhook-config", nil, body, nil)
}

// GetWebhookConfig returns the account's webhook; Configured is false when
// there is none. The secret is never returned.
func (c *Client) GetWebhookConfig(ctx context.Context) (*api.WebhookConfig, error) {
	var out api.WebhookConfig
	if err := c.do(ctx, "GET", "/webhook-config", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWebhookConfig removes the account's webhook.
func (c *Client) DeleteWebhookConfig(ctx context.Context) error {
	return c.do(ctx, "DELETE", "/webhook-config", nil, nil, nil)
}

// ListDeliveriesOptions pages the webhook delivery log and filters it by
// command.
type ListDeliveriesOptions struct {
	Limit     int
	Offset    int
	CommandID string
}

// ListWebhookDeliveries returns a page of the delivery log (an extension),
// every attempt newest first.
func (c *Client) ListWebhookDeliveries(ctx context.Context, o ListDeliveriesOptions) (*api.WebhookDeliveryList, error) {
	q := ListOptions{Limit: o.Limit, Offset: o.Offset}.query()
	if o.CommandID != "" {
		q.Set("command_id", o.CommandID)
	}
	var out api.WebhookDeliveryList
	if err := c.do(ctx, "GET", "/webhook-deliveries", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RedeliverWebhook sends a delivery's event again, at once, as a new
// attempt (an extension).
func (c *Client) RedeliverWebhook(ctx context.Context, deliveryID string) (*api.Redelivery, error) {
	var out api.Redelivery
	if err := c.do(ctx, "POST", "/webhook-deliveries/"+escape(deliveryID)+"/redeliver", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
