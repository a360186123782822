/// The headers of an rpc request (protocol.md §6.2): a strict JSON object of at most
/// 4 KiB whose known members are strings; unknown members are ignored, so new
/// optional members keep `metro/1`.
///
/// Here, in MetroProtocol, rather than in MetroKit: the codec reads and writes them,
/// and MetroKit's `RpcContext` and the rpc client both speak this one type.
public struct RpcHeaders: Hashable, Sendable {
    /// End-to-end correlation id (`requestId`), e.g. the gateway's X-Request-Id;
    /// servers log it as metadata. Not the frame's request id, which only pairs a
    /// reply with its call on one connection.
    public var requestID: String?
    /// W3C-style trace context (`traceparent`); it flows on into the events the handler publishes.
    public var traceparent: String?
    /// The incarnation the caller means, as the registry names it:
    /// `<service>/<instance>@<epoch>` (`profiles/profiles-1@1796315579940739584`). A
    /// server of another incarnation answers 408 wrong-instance without running the
    /// handler: the caller reached an endpoint that another process now holds.
    public var target: String?

    public init(requestID: String? = nil, traceparent: String? = nil, target: String? = nil) {
        self.requestID = requestID
        self.traceparent = traceparent
        self.target = target
    }

    /// `<service>/<instance>@<epoch>`, the `target` of one incarnation. The names'
    /// grammars (§5.2) have neither `/` nor `@`, so the form is unambiguous.
    public static func target(service: String, instance: String, epoch: UInt64) -> String {
        "\(service)/\(instance)@\(epoch)"
    }

    /// The frame: sorted keys, absent members left out (`{}` when both are nil). The
    /// bytes `WireJSON` would give, written directly (one call per rpc).
    public func encode() -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(
            48 + (requestID?.utf8.count ?? 0) + (traceparent?.utf8.count ?? 0) + (target?.utf8.count ?? 0))
        if let requestID { JSONStringWriter.appendMember("requestId", requestID, to: &out) }
        if let target {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            JSONStringWriter.appendMember("target", target, to: &out)
        }
        if let traceparent {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            JSONStringWriter.appendMember("traceparent", traceparent, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Reads a headers frame strictly: 105 above 4 KiB, 103 when not UTF-8, 104 when
    /// not strict JSON (§5.2's rules), not an object, or a known member is not a string.
    public static func decode(_ bytes: [UInt8]) -> Result<RpcHeaders, WireError> {
        guard bytes.count <= RpcLimits.maxHeadersBytes else {
            return .failure(
                WireError(
                    .tooLarge, "the headers have \(bytes.count) bytes; at most \(RpcLimits.maxHeadersBytes) are allowed"
                ))
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .failure(WireError(.invalidUTF8, "the headers are not valid UTF-8"))
        }
        let value: JSONValue
        do {
            value = try StrictJSON.parse(bytes)
        } catch {
            return .failure(WireError(.invalidJSON, "the headers are not valid JSON: \(error)"))
        }
        guard case .object(let object) = value else {
            return .failure(WireError(.invalidJSON, "the headers are not a JSON object"))
        }
        var headers = RpcHeaders()
        let members = [
            ("requestId", \RpcHeaders.requestID), ("target", \RpcHeaders.target),
            ("traceparent", \RpcHeaders.traceparent),
        ]
        for (key, path) in members {
            switch object[key] {
            case nil: continue
            case .string(let s)?: headers[keyPath: path] = s
            case _?: return .failure(WireError(.invalidJSON, "the headers member '\(key)' is not a string"))
            }
        }
        return .success(headers)
    }

    /// The members as `WireJSON` encodes them: the reference `encode()` is tested against.
    struct Members: Encodable {
        let requestId: String?
        let target: String?
        let traceparent: String?
    }
}
