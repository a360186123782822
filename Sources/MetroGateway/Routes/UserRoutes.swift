import Foundation
import HTTPTypes
import Hummingbird
import MetroKit
import Profiles

/// `/v1/users`: the profiles service (`ProfilesAPI`) and recommendations per user.
/// A user's `version` is its entity tag: `GET` and every write answer `ETag: "<version>"`,
/// and `PATCH` must send `If-Match` with the version it read (428 without, 409 when stale).
extension Gateway {
    func addUserRoutes(_ table: RouteTable) {
        let up = RouteTable.upstream
        let limit = configuration.maxJSONBodyBytes
        table.add(.post, "/v1/users", up.union([201, 409, 413, 415]), access: .operatorOnly) { request, context in
            let body = try await JSONBodies.decode(CreateProfileRequest.self, request, limit: limit)
            let (user, bytes) = try await self.profiles.value(ProfilesAPI.create, body, context, reading: UserTag.self)
            return JSONBodies.response(
                .created, bytes, headers: [.location: "/v1/users/\(user.id)", .eTag: Self.etag(user)])
        }
        table.add(.get, "/v1/users/{id}", up.union([200, 404]), access: .userInPath("id")) { _, context in
            let id = try context.parameters.require("id")
            let (user, bytes) = try await self.profiles.value(
                ProfilesAPI.get, GetProfileRequest(id: id), context, reading: UserTag.self)
            return JSONBodies.response(.ok, bytes, headers: [.eTag: Self.etag(user)])
        }
        table.add(
            .patch, "/v1/users/{id}", up.union([200, 404, 409, 413, 415, 428]), access: .userInPath("id")
        ) { request, context in
            let id = try context.parameters.require("id")
            let version = try Self.ifMatch(request.headers[.ifMatch])
            let fields = try await JSONBodies.decode(ProfileChanges.self, request, limit: limit)
            let update = UpdateProfileRequest(
                id: id, version: version, displayName: fields.displayName, email: fields.email,
                favouriteTags: fields.favouriteTags)
            let (user, bytes) = try await self.profiles.value(
                ProfilesAPI.update, update, context, reading: UserTag.self)
            return JSONBodies.response(.ok, bytes, headers: [.eTag: Self.etag(user)])
        }
        table.add(.get, "/v1/users/{id}/history", up.union([200, 404]), access: .userInPath("id")) { request, context in
            let id = try context.parameters.require("id")
            let page = HistoryRequest(
                userId: id, limit: try request.intQuery("limit", in: 1...100), cursor: request.query("cursor"))
            return JSONBodies.response(.ok, try await self.profiles.call(ProfilesAPI.history, page, context))
        }
        table.add(.get, "/v1/users/{id}/recommendations", up.union([200, 404]), access: .userInPath("id")) {
            request, context in
            let id = try context.parameters.require("id")
            let query = RecommendationsQuery(userId: id, limit: try request.intQuery("limit", in: 1...100))
            return JSONBodies.response(
                .ok, try await self.recommendations.call(RecommendationMethods.get, query, context))
        }
    }

    static func etag(_ user: UserTag) -> String { "\"\(user.version)\"" }

    /// The version in `If-Match` (`"3"`, `W/"3"` or `3`): 428 without one, 400 when it is not a version.
    static func ifMatch(_ header: String?) throws(Problem) -> Int64 {
        guard let header else {
            throw Problem(
                .preconditionRequired, "precondition-required", title: "If-Match is required",
                detail: "send If-Match with the ETag (version) of the user you read", field: "If-Match")
        }
        var text = Substring(header.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.count >= 2, text.first == "\"", text.last == "\"" { text = text.dropFirst().dropLast() }
        guard let version = Int64(text), version >= 1 else {
            throw .invalid("If-Match", "If-Match: the user's version as its ETag, e.g. \"3\"")
        }
        return version
    }
}

/// What the user routes read of a `User` themselves (its id for `Location`, its
/// version for `ETag`); the user's JSON passes through as the service sent it.
/// Decoding two fields builds no strings or arrays for the rest of the user.
struct UserTag: Decodable, Sendable {
    var id: String
    var version: Int64
}

/// The body of `PATCH /v1/users/{id}`: the fields to change (the version travels in `If-Match`).
struct ProfileChanges: Codable, Sendable {
    var displayName: String?
    var email: String?
    var favouriteTags: [String]?
}
