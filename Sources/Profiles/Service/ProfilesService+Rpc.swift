import Foundation
import MetroKit
import MetroProtocol
import MetroRuntime

extension ProfilesService {
    /// The four `profile.*` methods (`ProfilesAPI`). Reads use a snapshot; writes
    /// are one transaction each, with the event they publish.
    static func registerRpc(on service: inout ServiceDefinition, clock: @escaping @Sendable () -> Int64) {
        service.rpc(ProfilesAPI.create) { request, context, store in
            try await answering {
                try await store.write(context) { tx in
                    let id = RandomUUID.string()
                    let user = try UserStore.create(request, id: id, nowMs: clock(), in: tx.db)
                    try tx.publish(
                        topic: ProfileTopics.created, event: ProfileCreated(user: user), schema: ProfileTopics.schema)
                    return user
                }
            }
        }
        // The two reads answer from one indexed lookup each: inline (RpcPlacement).
        service.rpc(ProfilesAPI.get, placement: .inline) { request, _, store in
            try await answering { try await store.read { try UserStore.get(id: request.id, in: $0) } }
        }
        service.rpc(ProfilesAPI.update) { request, context, store in
            try await answering {
                try await store.write(context) { tx in
                    let user = try UserStore.update(request, nowMs: clock(), in: tx.db)
                    let event = ProfileUpdated(user: user, changed: request.fieldNames)
                    try tx.publish(topic: ProfileTopics.updated, event: event, schema: ProfileTopics.schema)
                    return user
                }
            }
        }
        service.rpc(ProfilesAPI.history, placement: .inline) { request, _, store in
            try await answering { try await store.read { try HistoryStore.page(request, in: $0) } }
        }
    }

    /// Runs `body`, turning the domain's refusals into rpc codes, in this one
    /// place: invalid → 403 bad-request, not found → 404, conflict → 405.
    static func answering<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ProfileError {
            switch error.kind {
            case .invalid: throw RpcError.badRequest(error.message)
            case .notFound: throw RpcError.notFound(error.message)
            case .conflict: throw RpcError.conflict(error.message)
            }
        }
    }
}
