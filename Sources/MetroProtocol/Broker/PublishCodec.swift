/// Fire-and-forget publish into the publish (XSUB) socket (protocol.md §4.3):
///
/// ```
/// C: [topic] [payload]
/// C: [topic] [headers] [payload]
/// ```
package enum PublishCodec {
    /// Why the broker drops a message received on the publish socket.
    package enum DropCause: String, Sendable, CaseIterable {
        case malformed  // not 2 or 3 frames
        case invalidTopic = "invalid_topic"
        case tooLarge = "too_large"
    }

    /// nil when the message is a valid fire-and-forget publish.
    @inlinable
    package static func check(_ frames: some FrameSequence, maxPayloadBytes: Int) -> DropCause? {
        let n = frames.frameCount
        guard n == 2 || n == 3 else { return .malformed }
        if frames.withFrame(0, { Topic.validatePublishable($0) }) != nil { return .invalidTopic }
        if n == 3, frames.withFrame(1, { $0.count }) > BrokerLimits.maxHeadersBytes { return .tooLarge }
        if frames.withFrame(n - 1, { $0.count }) > maxPayloadBytes { return .tooLarge }
        return nil
    }
}
