package main

// The cloud storage drivers, so that --storage-url may name s3://, gs:// or
// azblob:// buckets. Only this binary links them: the engine, storage and
// httpapi packages depend on no cloud SDK, so a program embedding them
// pays for the drivers it imports and no others.
//
// The same holds for the queue drivers of --queue-url and the Postgres
// store of --database-url (imported by serve.go).
import (
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"

	_ "github.com/openrender/openrender/queue/natsqueue"
	_ "github.com/openrender/openrender/queue/pubsubqueue"
)
