import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Crash windows that tests make reachable : with
/// `METRO_FAULT_CRASH_AT=after-commit` the process kills itself with SIGKILL the
/// first time an event's effect has committed and its ACK is not yet sent; with
/// `after-outbox-commit`, the first time a transaction that published events has
/// committed and the relay has not yet sent them. Read only by the runtime, once,
/// at start; unset (the default) costs one comparison per commit.
struct FaultPoints: Sendable {
    enum Point: String, Sendable {
        case afterCommit = "after-commit"
        case afterOutboxCommit = "after-outbox-commit"
    }

    static let variable = "METRO_FAULT_CRASH_AT"
    let armed: Point?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        armed = environment[Self.variable].flatMap(Point.init(rawValue:))
    }

    /// SIGKILLs the process if `point` is the armed one (nothing is flushed: that is the point).
    func reach(_ point: Point) {
        guard point == armed else { return }
        FileHandle.standardError.write(Data("metro: fault injection: SIGKILL at \(point.rawValue)\n".utf8))
        Glibc.kill(getpid(), SIGKILL)
    }
}
