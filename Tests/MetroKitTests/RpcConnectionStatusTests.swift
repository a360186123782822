import Testing
import ZeroMQ

@testable import MetroKit

/// How one read of an rpc connection's monitor is folded into changes, for the
/// orders in which libzmq can hand the events over when the I/O thread was busy.
@Suite struct RpcConnectionStatusTests {
    /// Folds `events` as one read, starting from `status`.
    static func read(_ events: [MonitorEvent.Kind], from status: inout RpcConnectionStatus)
        -> RpcConnectionStatus.Changes
    {
        var changes = RpcConnectionStatus.Changes()
        for kind in events { status.apply(kind, value: kind == .handshakeFailedAuth ? 400 : 0, to: &changes) }
        return status.settle(changes)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        /// Whether a first handshake came in an earlier read.
        let wasUp: Bool
        let events: [MonitorEvent.Kind]
        let changes: RpcConnectionStatus.Changes
        let state: RpcConnectionStatus.State
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "a first handshake sends what is parked", wasUp: false, events: [.handshakeSucceeded],
            changes: .up, state: .up),
        // The case that used to lose the break: only "up" was reported, so the calls
        // out on the broken connection waited for their deadline.
        Case(
            name: "a break and the reconnect in one read report both", wasUp: true,
            events: [.disconnected, .connectRetried, .handshakeSucceeded], changes: [.broke, .up], state: .up),
        Case(
            name: "a break alone leaves it down", wasUp: true, events: [.disconnected], changes: .broke,
            state: .down),
        Case(
            name: "up and broken within one read is a break, nothing sent", wasUp: false,
            events: [.handshakeSucceeded, .disconnected], changes: .broke, state: .down),
        Case(
            name: "a refusal then a handshake sends the parked calls", wasUp: false,
            events: [.connectRetried, .handshakeSucceeded], changes: .up, state: .up),
        Case(
            name: "a disconnect before any handshake is a refusal, not a break", wasUp: false,
            events: [.disconnected], changes: .refused, state: .down),
    ]

    @Test(arguments: cases) func oneRead(_ c: Case) {
        var s = RpcConnectionStatus()
        if c.wasUp { _ = Self.read([.handshakeSucceeded], from: &s) }
        #expect(Self.read(c.events, from: &s) == c.changes)
        #expect(s.state == c.state)
    }

    /// After a break, the reconnect attempts that fail are refusals of a connection
    /// that is down: nothing more broke.
    @Test func retriesAfterABreakAreRefusals() {
        var s = RpcConnectionStatus()
        _ = Self.read([.handshakeSucceeded], from: &s)
        #expect(Self.read([.disconnected], from: &s) == .broke)
        #expect(Self.read([.connectRetried], from: &s) == .refused)
    }

    @Test func aRefusedKeyIsKeptUntilAHandshakeSucceeds() {
        var s = RpcConnectionStatus()
        #expect(Self.read([.handshakeFailedAuth, .disconnected], from: &s) == .refused)
        #expect(s.keyRefusal == 400)
        #expect(Self.read([.handshakeSucceeded], from: &s) == .up)
        #expect(s.keyRefusal == nil)
    }
}
