/// Which consume connection each group member joined on, so that the broker
/// loses a member as soon as its connection closes (protocol.md §4.10,
/// "Redelivery") instead of after 3 silent heartbeat intervals: a member killed
/// with -9 has its TCP connection closed by its kernel at once, and libzmq's
/// socket monitor reports the close within the broker's monitor period.
///
/// A connection is known by its descriptor, the one number both a message
/// (`MultipartBuffer.sourceDescriptor`, `ZMQ_SRCFD`) and the monitor's
/// `disconnected` event carry; the routing id that ROUTER hands the loop is not
/// in the monitor's events (libzmq 4.3.4; `ZMQ_ROUTER_NOTIFY`, which would say
/// it, is a draft option that Debian's build refuses with EINVAL). libzmq
/// reuses a descriptor as soon as its connection is closed, and the close of
/// *any* earlier connection on it (a member's, a replay's, a STATS call's) may
/// still be unread: read after the JOIN was recorded, it would lose the new
/// member. So the engine reads the monitors before it records a JOIN; libzmq
/// queues a connection's `disconnected` event before it closes the descriptor,
/// so the read always finds the earlier close. A pure value; the loop thread
/// owns it.
package struct MemberConnections {
    /// The routing id of the member connection on each descriptor.
    private var members: [Int32: [UInt8]] = [:]

    package init() {}

    package var count: Int { members.count }

    /// The connection `routingID` on `fd` joined a group (the monitors read first).
    package mutating func record(fd: Int32, routingID: [UInt8]) { members[fd] = routingID }

    /// The connection on `fd` closed: the routing id of the member it carried, if any.
    package mutating func closed(fd: Int32) -> [UInt8]? { members.removeValue(forKey: fd) }
}
