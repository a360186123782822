/// `MetroProtocol` holds every frame Metro puts on the wire and the codecs for
/// them, with no I/O: the sockets live elsewhere. `docs/protocol.md` is the
/// contract; the types here follow its sections, and its test vectors are
/// decoded by `MetroProtocolTests`.
package enum WireProtocol {
    /// The first frame of every command on Metro's request sockets (ingest,
    /// consume, registry, rpc): `metro/1`. A peer that sends another version
    /// gets error 100 (`unsupportedVersion`). protocol.md §2.2.
    package static let version = "metro/1"
    package static let versionBytes: [UInt8] = Array(version.utf8)

    /// The largest frame Metro accepts anywhere unless configured lower
    /// (payloads are the only large frame). protocol.md §2.6.
    package static let defaultMaxFrameBytes = 1 << 20
}
