// MetroRuntime: what a Metro service stands on (issue 14 §2).
//
// What it is for: a service author declares a `ServiceDefinition` (a name, GRDB
// migrations, rpc methods, event handlers) and runs it as a `ServiceRuntime`, a
// swift-service-lifecycle `Service`. The runtime keeps the service's SQLite database
// (`ServiceStore`), records each handled event's id in the same transaction as its
// effect (the inbox: a redelivery changes nothing), writes published events to an
// outbox table in that transaction and sends them with acknowledged publish after
// the commit (`OutboxRelay`), joins consumer groups and ACKs only after the commit,
// dead-letters what it can never handle, registers the rpc endpoint, and shuts down
// in the order `ServiceRuntime` documents. MetroKit's clients stay free of GRDB:
// this is a library product of its own.
//
// Threading — nothing here blocks Swift's cooperative pool:
// - Sockets stay on their I/O threads: the `Consumer`s, the `Publisher` of the
//   relay, the `RegistryClient` and the rpc server each own their sockets on their
//   own `IOThread` (MetroKit). The runtime's tasks hand them commands (`ack`,
//   `publish`) through their queues and await continuations or `AsyncStream`s.
// - SQLite work runs on GRDB's queues: `DatabasePool` has one writer queue and a
//   pool of reader queues; `read`/`write`/`commit` are GRDB's async accessors, which
//   suspend the calling task while the closure runs there. Opening and migrating
//   the database (which may wait on another process's lock) run on a dedicated thread.
// - Handlers are tasks: each event subscription runs at most `concurrency` handler
//   tasks (a task group) and each rpc call is a task of the rpc server; a handler
//   that does blocking work of its own must move it off the pool itself.
// - Shutdown waits by suspending (task groups, continuations), never by sleeping a thread.
//
//     var echo = ServiceDefinition(name: "echo")
//     echo.migrations { m in m.registerMigration("v1") { db in try db.create(table: ...) } }
//     echo.on(group: "echo", topics: ["echo."], as: Said.self) { event, context in
//         try await context.commit { tx in ...; try tx.publish(topic: "echo.recorded", event: ...) }
//     }
//     let runtime = ServiceRuntime(echo, configuration: .init(...))
//     try await ServiceGroup(services: [runtime], gracefulShutdownSignals: [.sigterm], logger: logger).run()
