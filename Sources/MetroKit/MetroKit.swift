// MetroKit: the client SDK of Metro.
//
// What it is for: services talk to the broker (`Publisher`, `Subscriber`, `Consumer`,
// `BrokerAdminClient`) and to the registry (`RegistryClient`, `ServiceAnnouncer`)
// through async Swift APIs, serve rpc (`RpcServer`, `RpcRouter`, `RpcMethod`) and
// call it by service name (`RpcClient`: balancing, deadlines, retries, circuit
// breakers; protocol.md §6); protocol.md is the contract they follow.
//
// One I/O-thread model for every client, and for `RpcServer` (`Runtime/IOThread.swift`): each client's
// sockets live on its own dedicated thread, made and closed there; async callers
// hand it commands through a locked queue and a wake-up pipe and suspend on
// continuations or read `AsyncStream`s. Nothing blocks Swift's cooperative pool.
//
// Life of a client: `init` starts no thread and opens no socket; the thread starts
// on first use. Every client has `close() async`, which stops the thread and waits
// for it without blocking a thread (safe twice, and from many tasks); `deinit` only
// asks the thread to stop. Clients that live as long as the process are
// swift-service-lifecycle `Service`s: `run()` starts the thread and returns when it
// ends, and graceful shutdown (or cancellation) stops it.
//
//     // Short-lived (a tool, a test): make, use, close.
//     let publisher = try Publisher(.init(ingest: "tcp://127.0.0.1:7701"))
//     let seq = try await publisher.publish(topic: "video.uploaded", payload: bytes)
//     await publisher.close()
//
//     // Process-long: a Service in the group, before the services that use it.
//     let publisher = try Publisher(.init(ingest: ingest))
//     let group = ServiceGroup(services: [publisher, gateway], logger: logger)
//     try await group.run()
//
// The exception is `BrokerAdminClient`: a stateless value for operator tools whose
// calls block the calling thread (one DEALER per call); call it off the pool, as
// `metro broker` does (`MetricsEndpoint.offThePool`).
//
// Errors: every client throws `MetroClientError` (a `code`, a `category` that maps
// to one HTTP status, the operation and the peer's wire error), plus
// `CancellationError` when the caller's task is cancelled.
