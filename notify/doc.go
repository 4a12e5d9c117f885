// Package notify tells the outside world that a command finished.
//
// Two mechanisms live here:
//
//   - Webhooks (WebhookSender): the durable one. An event is written to the
//     state store in the same transaction that finishes the command, and the
//     sender delivers it by HTTP POST, signed, on a retry schedule that
//     survives restarts, with every attempt recorded. Several engine
//     processes share the work through leases in the store; none sends the
//     same attempt twice.
//   - Notifiers (Notifier): a small interface an embedding application
//     implements to hear about finished commands in-process (a Go callback,
//     a message bus). Notifiers are called once, after the outcome is
//     durable, by the process that finished the command; they are not
//     retried. Anything that must not be lost belongs in a webhook, or in
//     the notifier's own durable queue.
//
// Receivers written in Go verify deliveries with Verify, which accepts
// either signature the sender adds: the RenderIO-compatible
// X-Webhook-Signature (hex HMAC-SHA256 of the body) and the Standard Webhooks
// webhook-signature (base64 HMAC-SHA256 of "id.timestamp.body").
package notify
