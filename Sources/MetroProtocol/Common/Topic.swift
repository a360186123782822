/// Topic names (protocol.md §2.4).
///
/// A topic is 1...255 bytes of ASCII: dot-separated segments of letters, digits,
/// `_` and `-` (`video.uploaded`, `user-42.watched`). Topics that start with `$`
/// are reserved for Metro itself (`$metro.heartbeat`, `$registry.registered`):
/// clients may subscribe to them but not publish on them, except the prefixes
/// in `componentPrefixes`, which Metro's own processes (the registry) publish
/// through the broker like any other client. Subscriptions are
/// byte prefixes of topics, matched by ZeroMQ itself, so `video.` matches every
/// `video.*` topic and the empty prefix matches all.
package enum Topic {
    package static let maxBytes = 255
    package static let reservedPrefix: UInt8 = UInt8(ascii: "$")

    /// Checks a topic that a client wants to publish on; nil if valid. Inlinable
    /// with a one-pass fast path: the broker checks every event's topic, and the
    /// generic, cross-module call was ~5% of its loop.
    @inlinable
    package static func validatePublishable(_ bytes: some Collection<UInt8>) -> WireError? {
        let fast = bytes.withContiguousStorageIfAvailable { isPlainWellFormed(UnsafeRawBufferPointer($0)) }
        if fast == true { return nil }
        return validatePublishableSlowly(bytes)
    }

    /// Whether `raw` is a valid topic that does not start with `$` (the common case).
    @inlinable
    package static func isPlainWellFormed(_ raw: UnsafeRawBufferPointer) -> Bool {
        guard raw.count >= 1 && raw.count <= maxBytes else { return false }
        var afterDot = true  // a leading '.' is an empty segment
        for i in 0..<raw.count {
            let b = raw[i]
            if b == UInt8(ascii: ".") {
                if afterDot { return false }
                afterDot = true
                continue
            }
            let ok =
                (b &- UInt8(ascii: "a")) < 26 || (b &- UInt8(ascii: "A")) < 26 || (b &- UInt8(ascii: "0")) < 10
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
            if !ok { return false }
            afterDot = false
        }
        return !afterDot
    }

    @usableFromInline
    static func validatePublishableSlowly(_ bytes: some Collection<UInt8>) -> WireError? {
        if let first = bytes.first, first == reservedPrefix,
            !componentPrefixes.contains(where: { bytes.starts(with: $0) })
        {
            return WireError(.invalidTopic, "topics starting with '$' are reserved for Metro")
        }
        return validate(bytes)
    }

    /// Reserved prefixes that Metro components publish on through the broker's
    /// ordinary publish sockets (protocol.md §2.4): the registry's membership events.
    package static let componentPrefixes: [[UInt8]] = [Array(registryPrefix.utf8)]

    /// Checks the grammar of any topic, reserved ones included; nil if valid.
    package static func validate(_ bytes: some Collection<UInt8>) -> WireError? {
        guard !bytes.isEmpty else { return WireError(.invalidTopic, "the topic is empty") }
        guard bytes.count <= maxBytes else {
            return WireError(.invalidTopic, "the topic has \(bytes.count) bytes; at most \(maxBytes) are allowed")
        }
        var previous: UInt8 = UInt8(ascii: ".")
        for (i, b) in bytes.enumerated() {
            let ok: Bool
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                ok = true
            case UInt8(ascii: "."):
                ok = previous != UInt8(ascii: ".")
            case reservedPrefix:
                ok = i == 0
            default:
                ok = false
            }
            guard ok else {
                return WireError(
                    .invalidTopic, "byte \(i) of the topic (0x\(String(b, radix: 16))) breaks the topic grammar")
            }
            previous = b
        }
        if previous == UInt8(ascii: ".") {
            return WireError(.invalidTopic, "the topic ends with '.'")
        }
        return nil
    }

    /// Reserved topics Metro publishes on.
    package static let heartbeat = "$metro.heartbeat"
    package static let registryPrefix = "$registry."
}
