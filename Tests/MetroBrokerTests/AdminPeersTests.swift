import MetroBroker
import Testing

@Suite struct AdminPeersTests {
    @Test func aStatsOnlyConnectionIsNotADisconnection() {
        var peers = AdminPeers()
        peers.request(on: 7, admin: true)
        peers.request(on: 7, admin: true)
        #expect(peers.isAdminOnly(7))
        let closed = peers.closed(fd: 7)
        #expect(!closed)
    }

    @Test func aConnectionThatDidMoreIsOneEvenIfItAskedForStatsFirst() {
        var peers = AdminPeers()
        peers.request(on: 7, admin: true)
        peers.request(on: 7, admin: false)
        peers.request(on: 7, admin: true)
        #expect(!peers.isAdminOnly(7))
        let closed = peers.closed(fd: 7)
        #expect(closed)
    }

    @Test func aReusedDescriptorStartsAfresh() {
        var peers = AdminPeers()
        peers.request(on: 7, admin: false)
        let first = peers.closed(fd: 7)
        #expect(first)
        peers.request(on: 7, admin: true)
        let second = peers.closed(fd: 7)
        #expect(!second)
        // A connection nothing was heard from counts (it may have been refused a frame).
        let silent = peers.closed(fd: 9)
        #expect(silent)
    }
}
