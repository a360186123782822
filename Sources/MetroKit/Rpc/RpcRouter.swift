import Foundation
import Logging
public import MetroProtocol

/// Typed rpc methods by name, as one `RpcHandler` for `RpcServer` (protocol.md §6.4).
///
/// A call to a name nobody registered is 400 `unknown-method`. The body is read
/// strictly (`StrictJSONDecoder`): not UTF-8, not strict JSON (§5.2's rules: no
/// duplicate keys, no trailing commas, ...), or not the method's `Request` (a
/// missing field, a wrong type, `1.0` or `1e3` for an integer) → 403 `bad-request`. A handler throwing `RpcError` answers with its code and message;
/// any other error is 107 `internal-error` with the error's description (no stack).
/// A response that does not encode as JSON is 107 too.
public struct RpcRouter: Sendable {
    private var handlers: [String: RpcHandler] = [:]

    public init() {}

    /// The registered method names, sorted.
    public var methods: [String] { handlers.keys.sorted() }

    /// Registers `handler` for `method`. Registering one name twice is a programmer error (trap).
    public mutating func register<Request, Response>(
        _ method: RpcMethod<Request, Response>,
        _ handler: @escaping @Sendable (Request, RpcContext) async throws -> Response
    ) {
        add(method.name, handler, decode: { Self.decode(Request.self, from: $0) }, encode: Self.encode)
    }

    /// Registers `handler` for a method whose answer is a head and raw bytes (§6.9).
    public mutating func register<Request, Head>(
        _ method: RpcBytesReplyMethod<Request, Head>,
        _ handler: @escaping @Sendable (Request, RpcContext) async throws -> RpcBytes<Head>
    ) {
        add(method.name, handler, decode: { Self.decode(Request.self, from: $0) }, encode: { $0.encode() })
    }

    /// Registers `handler` for a method whose request is a head and raw bytes (§6.9):
    /// a body not of that form, or whose head is not the method's `Head`, is 403.
    public mutating func register<Head, Response>(
        _ method: RpcBytesRequestMethod<Head, Response>,
        _ handler: @escaping @Sendable (RpcBytes<Head>, RpcContext) async throws -> Response
    ) {
        add(method.name, handler, decode: RpcBytes<Head>.decode, encode: Self.encode)
    }

    /// A typed handler: the request read by `decode` (its failure is the 403 to
    /// answer), the answer written by `encode`.
    private mutating func add<Request, Response>(
        _ name: String, _ handler: @escaping @Sendable (Request, RpcContext) async throws -> Response,
        decode: @escaping @Sendable ([UInt8]) -> Result<Request, WireError>,
        encode: @escaping @Sendable (Response) -> Result<[UInt8], WireError>
    ) {
        precondition(handlers[name] == nil, "rpc method \"\(name)\" registered twice")
        handlers[name] = { inbound in
            let request: Request
            switch decode(inbound.body) {
            case .success(let r): request = r
            case .failure(let e): return .error(e)
            }
            let response: Response
            do {
                response = try await handler(request, inbound.context)
            } catch let e as RpcError {
                return .error(e.wireError)
            } catch {
                inbound.logger.warning(
                    "rpc handler failed", metadata: ["method": .string(inbound.method), "error": "\(error)"])
                return .error(WireError(.internalError, "\(name) failed: \(error)"))
            }
            switch encode(response) {
            case .success(let body): return .reply(body)
            case .failure(let e): return .error(e)
            }
        }
    }

    /// Also registers a raw handler (bytes in, bytes out) under `name`.
    public mutating func register(raw name: String, _ handler: @escaping RpcHandler) {
        _ = declaredMethodName(name)
        precondition(handlers[name] == nil, "rpc method \"\(name)\" registered twice")
        handlers[name] = handler
    }

    /// The router as the server's handler.
    public var handler: RpcHandler {
        let handlers = self.handlers
        return { inbound in
            guard let h = handlers[inbound.method] else {
                return .error(WireError(.unknownMethod, "this service has no method \"\(inbound.method)\""))
            }
            return await h(inbound)
        }
    }

    /// Reads a body strictly as `T`; the failure is the 403 to answer.
    public static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8]) -> Result<T, WireError> {
        guard String(validating: body, as: UTF8.self) != nil else {
            return .failure(WireError(.badRequest, "the body is not valid UTF-8"))
        }
        do {
            return .success(try StrictJSONDecoder().decode(T.self, from: body))
        } catch let error as StrictJSON.SyntaxError {
            return .failure(WireError(.badRequest, "the body is not valid JSON: \(error)"))
        } catch let DecodingError.keyNotFound(key, context) {
            return .failure(WireError(.badRequest, "the body lacks the field '\(path(context, key.stringValue))'"))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            return .failure(WireError(.badRequest, "the body has a wrong type at '\(path(context))'"))
        } catch let DecodingError.dataCorrupted(context) {
            return .failure(WireError(.badRequest, "the body has an invalid value at '\(path(context))'"))
        } catch {
            return .failure(WireError(.badRequest, "the body does not decode: \(error)"))
        }
    }

    /// Writes a response as JSON (sorted keys, like `WireJSON`); the failure is the 107 to answer.
    public static func encode<T: Encodable>(_ value: T) -> Result<[UInt8], WireError> {
        do {
            return .success(Array(try encoder.encode(value)))
        } catch {
            return .failure(WireError(.internalError, "the response does not encode as JSON: \(error)"))
        }
    }

    /// One encoder for every answer and call (Foundation's is `Sendable`; its
    /// options are set once here and never changed).
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static func path(_ context: DecodingError.Context, _ last: String? = nil) -> String {
        (context.codingPath.map(\.stringValue) + (last.map { [$0] } ?? [])).joined(separator: ".")
    }
}
