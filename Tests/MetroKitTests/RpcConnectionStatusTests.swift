import Testing
import ZeroMQ

@testable import MetroKit

/// How one read of an rpc connection's monitor is folded into changes, for the
/// orders in which libzmq can hand the events over when the I/O thread was busy.
@Suite struct RpcConnectionStatusTests {
    /// Folds `events` as one read, starting from `status`.
    func read(_ events: [MonitorEvent.Kind], from status: inout RpcConnectionStatus) -> RpcConnectionStatus.Changes {
        var changes = RpcConnectionStatus.Changes()
        for kind in events { status.apply(kind, value: kind == .handshakeFailedAuth ? 400 : 0, to: &changes) }
        return status.settle(changes)
    }

    func upStatus() -> RpcConnectionStatus {
        var s = RpcConnectionStatus()
        _ = read([.handshakeSucceeded], from: &s)
        return s
    }

    @Test func aFirstHandshakeSendsWhatIsParked() {
        var s = RpcConnectionStatus()
        #expect(read([.handshakeSucceeded], from: &s) == .up)
        #expect(s.state == .up)
    }

    /// The case that used to lose the break: the reconnect's handshake arrived in the
    /// same read as the disconnect, and only "up" was reported, so the calls out on
    /// the broken connection waited for their deadline.
    @Test func aBreakAndTheReconnectInOneReadReportBoth() {
        var s = upStatus()
        #expect(read([.disconnected, .connectRetried, .handshakeSucceeded], from: &s) == [.broke, .up])
        #expect(s.state == .up)
    }

    @Test func aBreakAloneLeavesItDown() {
        var s = upStatus()
        #expect(read([.disconnected], from: &s) == .broke)
        #expect(s.state == .down)
        // The retries that follow are refusals of a connection that is down: nothing more broke.
        #expect(read([.connectRetried], from: &s) == .refused)
    }

    @Test func upAndBrokenWithinOneReadIsABreakAndNothingIsSent() {
        var s = RpcConnectionStatus()
        #expect(read([.handshakeSucceeded, .disconnected], from: &s) == .broke)
        #expect(s.state == .down)
    }

    @Test func aRefusalFollowedByAHandshakeSendsTheParkedCalls() {
        var s = RpcConnectionStatus()
        #expect(read([.connectRetried, .handshakeSucceeded], from: &s) == .up)
    }

    @Test func aDisconnectBeforeAnyHandshakeIsARefusalNotABreak() {
        var s = RpcConnectionStatus()
        #expect(read([.disconnected], from: &s) == .refused)
        #expect(s.state == .down)
    }

    @Test func aRefusedKeyIsKeptUntilAHandshakeSucceeds() {
        var s = RpcConnectionStatus()
        #expect(read([.handshakeFailedAuth, .disconnected], from: &s) == .refused)
        #expect(s.keyRefusal == 400)
        #expect(read([.handshakeSucceeded], from: &s) == .up)
        #expect(s.keyRefusal == nil)
    }
}
