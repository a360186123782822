/// Which connections of the consume socket were only an operator's STATS or
/// METRICS calls (protocol.md §4.5), so that their closes are not counted as
/// disconnections (`disconnects.consume`): `metro broker stats`, a dashboard or
/// a health check opens a connection, asks, and closes it, and each used to add
/// one "lost peer" to the counter meant for members and replays that went away.
///
/// Connections are known by their descriptor, as both the messages
/// (`MultipartBuffer.sourceDescriptor`) and the socket monitor's disconnection
/// events name them; libzmq reuses a descriptor once its connection is closed,
/// so the engine reads the monitors before it classifies a request that could
/// come from a reused one. A pure value; the loop thread owns it.
package struct AdminPeers {
    /// Descriptors whose connections sent only STATS or METRICS so far.
    private var adminOnly: Set<Int32> = []
    /// Descriptors whose connections sent anything else.
    private var others: Set<Int32> = []

    package init() {}

    package func isAdminOnly(_ fd: Int32) -> Bool { adminOnly.contains(fd) }

    /// A request came in on `fd`; `admin`: it is STATS or METRICS.
    package mutating func request(on fd: Int32, admin: Bool) {
        if admin {
            if !others.contains(fd) { adminOnly.insert(fd) }
        } else {
            adminOnly.remove(fd)
            others.insert(fd)
        }
    }

    /// The connection on `fd` closed; whether that counts as a disconnection (it
    /// did more than ask for STATS or METRICS, or never sent anything known).
    package mutating func closed(fd: Int32) -> Bool {
        others.remove(fd)
        return adminOnly.remove(fd) == nil
    }
}
