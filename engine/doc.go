// Package engine runs FFmpeg commands as a service: it accepts commands,
// keeps them durable in a state store, runs them with ffmpeg on a pool of
// workers and stores their outputs in blob storage.
//
// The engine is composed of interfaces, so it links no particular backend:
// a store.Store (store/sqlite by default), a storage.Storage (a gocloud.dev
// bucket opened by URL), and a queue.Queue (queue.Memory by default).
//
// # Embedding
//
// An application opens the parts, makes an Engine, and starts and stops it
// with its own lifetime:
//
//	st, _ := store.Open(ctx, "sqlite://data/openrender.db")   // import _ ".../store/sqlite"
//	bucket, _ := blobstore.Open(ctx, "file://data/files", blobstore.Options{PublicURL: base, Signer: signer})
//	eng, _ := engine.New(engine.Config{Store: st, Storage: bucket, WorkDir: "data/work"})
//	if err := eng.Start(ctx); err != nil { ... }   // probes the ffmpeg sandbox, starts workers
//	defer eng.Stop(stopCtx)                        // lets running commands finish, then releases them
//
// Every Config field has a documented default. From there, commands go in
// through Submit (or over HTTP: httpapi.New(eng, ...) is an http.Handler to
// mount on the app's router) and come out through Wait, Get and List, through
// webhooks, and through Config.Notifiers, Go callbacks called once per
// finished command. The engine links no concrete backend: the app imports
// the store driver and the bucket driver (gocloud.dev/blob/s3blob, ...) it
// uses, and pays for no other. The repository's examples/ directory holds
// whole programs: embed (an app's own ServeMux), router (chi), storage
// (file://, mem:// or S3 by one flag), notifier and receiver.
//
// # A command's life
//
// Submit validates a request (the template package checks the command and
// its aliases; the engine checks URLs, metadata and limits), records the
// command as QUEUED and pushes its id onto the queue. From then on it is
// durable and will reach SUCCESS or FAILED.
//
// A worker pops the id and claims the command in the store with a lease.
// While the command runs, the worker renews the lease on a heartbeat; if a
// worker dies, its lease expires and the recovery sweep (which runs at Start
// and every Config.SweepInterval) queues the command again for another
// worker. Engine processes that share a work dir also hold a lock file each,
// so a process that died on this host is noticed at once. A command that
// loses its worker Config.MaxWorkerLosses times ends FAILED with
// WORKER_LOST, so a command that crashes every worker can't loop forever.
//
// Running a command means: downloading each input through an SSRF-safe
// client into the command's own work dir, running ffmpeg as an argv (never
// a shell) in that dir with a minimal environment and a time limit, then
// checking, probing and uploading each declared output. Every failure ends
// the command FAILED with one of the contract's error_status values and a
// message the user can act on. The result is recorded only while the worker
// still holds the lease, so a command finishes exactly once.
//
// Stop lets running commands finish within its context's deadline, then
// stops them and releases them back to QUEUED, so that the next engine to
// start runs them at once.
package engine
