package main

// The cloud storage drivers, so that --storage-url may name s3://, gs:// or
// azblob:// buckets. Only this binary links them: the engine, storage and
// httpapi packages depend on no cloud SDK, so a program embedding them
// pays for the drivers it imports and no others.
import (
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)
