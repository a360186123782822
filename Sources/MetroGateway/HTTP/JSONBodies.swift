import Foundation
import HTTPTypes
public import Hummingbird

/// Reading JSON request bodies and writing JSON responses, the same way on every route.
enum JSONBodies {
    static let json = "application/json"

    /// The body as `T`: 415 unless it is `application/json`, 413 over `limit`
    /// bytes (never more is read), 400 naming the field that does not decode.
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int) async throws -> T {
        if let contentType = request.headers[.contentType],
            contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() != json
        {
            throw Problem(
                .unsupportedMediaType, "media-type", title: "Unsupported media type",
                detail: "the body must be \(json), not \(contentType)")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Problem.tooLarge(limit)
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw Self.problem(error)
        }
    }

    /// A 400 naming the field a `DecodingError` is about.
    static func problem(_ error: DecodingError) -> Problem {
        switch error {
        case .keyNotFound(let key, let c):
            return .invalid(path(c.codingPath + [key]), "\(path(c.codingPath + [key])): is required")
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            return .invalid(path(c.codingPath), "\(path(c.codingPath)): has the wrong type")
        case .dataCorrupted(let c):
            return .invalid(c.codingPath.isEmpty ? nil : path(c.codingPath), "the body is not valid JSON")
        @unknown default:
            return .invalid(nil, "the body does not decode")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// A JSON response of `bytes` (already encoded, e.g. an rpc response passed through).
    static func response(_ status: HTTPResponse.Status, _ bytes: [UInt8], headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = json
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A JSON response of `value`.
    static func response<T: Encodable>(_ status: HTTPResponse.Status, _ value: T, headers: HTTPFields = [:]) throws
        -> Response
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = Array(try encoder.encode(value))
        return response(status, bytes, headers: headers)
    }
}

/// Query parameters, checked: 400 naming the parameter.
extension Request {
    func query(_ name: String) -> String? {
        uri.queryParameters[Substring(name)].map(String.init)
    }

    func intQuery(_ name: String, in range: ClosedRange<Int>) throws(Problem) -> Int? {
        guard let raw = query(name) else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw .invalid(name, "\(name): an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}
