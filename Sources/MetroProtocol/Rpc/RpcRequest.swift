/// One call on the rpc socket (protocol.md §6.1), as a DEALER sends it:
///
/// ```
/// C: ["metro/1"] ["REQUEST"] [request-id] [method] [deadline-ms: u32] [headers: json] [body]
/// ```
///
/// `decode` is what a server runs on every message; `encode` is what callers send.
public struct RpcRequest: Hashable, Sendable {
    /// The number of frames of a REQUEST, version and command included.
    public static let frameCount = 7

    /// 1–64 opaque bytes chosen by the caller, unique among its calls in flight on the connection.
    public var requestID: [UInt8]
    /// 1–128 bytes of `A-Z a-z 0-9 . _ -` (`profile.get`).
    public var method: String
    /// The caller's remaining budget when it sent the call; 0 means already expired.
    public var deadlineMilliseconds: UInt32
    public var headers: RpcHeaders
    /// Opaque bytes; MetroKit's typed methods put JSON here.
    public var body: [UInt8]

    public init(
        requestID: [UInt8], method: String, deadlineMilliseconds: UInt32, headers: RpcHeaders = .init(),
        body: [UInt8] = []
    ) {
        self.requestID = requestID
        self.method = method
        self.deadlineMilliseconds = deadlineMilliseconds
        self.headers = headers
        self.body = body
    }

    /// The request's frames, version first.
    public func encode() -> [[UInt8]] {
        [
            WireProtocol.versionBytes, RpcCommand.request.frame, requestID, Array(method.utf8),
            BigEndian.bytes32(deadlineMilliseconds), headers.encode(), body,
        ]
    }

    /// Why a message is not a usable REQUEST: the error to answer, and the request
    /// id to answer it with when the message had a readable one (§3.1, §6.3).
    public struct Failure: Error, Hashable, Sendable {
        public let error: WireError
        public let requestID: [UInt8]?

        /// The ERROR to send back.
        public var reply: RpcReply { .error(error, requestID: requestID) }
    }

    /// Decodes and validates a message (after the ROUTER's routing id). The checks
    /// run in the order of protocol.md §6.3, so each input has one answer.
    public static func decode(
        _ frames: [[UInt8]], maxBodyBytes: Int = RpcLimits.defaultMaxBodyBytes
    ) -> Result<RpcRequest, Failure> {
        // The context frame (§3.1): the third frame, whenever it is a usable id.
        let id = frames.count > 2 && RpcLimits.isUsableRequestID(frames[2]) ? frames[2] : nil
        func fail(_ code: WireErrorCode, _ message: String) -> Result<RpcRequest, Failure> {
            .failure(Failure(error: WireError(code, message), requestID: id))
        }
        guard let version = frames.first, !version.isEmpty else {
            return fail(.malformedMessage, "the message has no version frame; expected \"\(WireProtocol.version)\"")
        }
        guard version == WireProtocol.versionBytes else {
            return fail(.unsupportedVersion, "this rpc server speaks \"\(WireProtocol.version)\" only")
        }
        guard frames.count >= 2 else { return fail(.malformedMessage, "the message has no command frame") }
        guard frames[1] == RpcCommand.request.frame else {
            return fail(.unknownCommand, "unknown command; an rpc server knows REQUEST only")
        }
        guard frames.count == frameCount else {
            return fail(.malformedMessage, "REQUEST has \(frameCount) frames, this message has \(frames.count)")
        }
        guard let id else {
            return fail(
                .malformedMessage,
                "the request id has \(frames[2].count) bytes; it must have 1-\(RpcLimits.maxRequestIDBytes)")
        }
        if let e = RpcLimits.validateMethod(frames[3]) { return .failure(Failure(error: e, requestID: id)) }
        guard let deadline = BigEndian.uint32(frames[4]) else {
            return fail(.malformedMessage, "deadline-ms is a u32 (4 bytes), this frame has \(frames[4].count)")
        }
        let headers: RpcHeaders
        switch RpcHeaders.decode(frames[5]) {
        case .success(let h): headers = h
        case .failure(let e): return .failure(Failure(error: e, requestID: id))
        }
        guard frames[6].count <= maxBodyBytes else {
            return fail(.tooLarge, "the body has \(frames[6].count) bytes; at most \(maxBodyBytes) are allowed")
        }
        return .success(
            RpcRequest(
                requestID: id, method: String(decoding: frames[3], as: UTF8.self), deadlineMilliseconds: deadline,
                headers: headers, body: frames[6]))
    }
}
