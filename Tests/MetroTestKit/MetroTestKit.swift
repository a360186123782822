// MetroTestKit: the harness that starts real `metro` processes for the system
// tests (and for `metro soak`), and talks to them as a foreign client would.
//
// - `MetroProcess` starts one `metro` command; `waitUntilReady()` returns the
//   endpoints of its `ready {json}` line (docs/operations.md, "Readiness line").
//   `BrokerHarness` and `RegistryUnderTest` are a broker and a registry on
//   ephemeral loopback ports; `FakeBroker` stands in for a broker's fan-out.
// - `eventually`/`waitFor` poll a condition nobody signals; `freeze()` stops a
//   process (SIGSTOP) until /proc says it stopped; `FaultInjection` preloads a
//   failing disk; `DocumentedExample` runs protocol.md's pyzmq blocks.
// - `closing` is the async `defer` that closes MetroKit clients.
//
// The rule of the whole API: it is async and never blocks a thread of Swift's
// cooperative pool. Waits for a process (its ready line, its exit, its last
// output) suspend on a continuation that the kit's reader threads or Foundation's
// termination handler resume (`Watched`); blocking ZeroMQ and TCP receives run
// on a thread of their own (`offPool`); conditions that nothing signals are
// polled with `Task.sleep`. Errors are thrown with messages that name what was
// awaited; the kit does not depend on swift-testing.
//
// A consequence worth knowing: because no wait holds a pool thread any more,
// more suites run at once than when ~50 synchronous tests blocked the pool's
// two threads here (docs/performance.md has the before/after runs). A test that
// counts requests must rule out client retries (a late ACK under that load makes
// the Publisher retry after its `ackTimeout`), and a test must not change what a
// client does after a restart only once the restart returned: the client's own
// thread can act before the test task resumes.
//
// Everything here is `package`: only this package's tests and tools use it.
