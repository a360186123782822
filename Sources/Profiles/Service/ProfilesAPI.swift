public import MetroKit

/// The profiles service's rpc methods, shared by the service and its callers
/// (the gateway, other services, tests): name, types and whether a retry is safe.
public enum ProfilesAPI {
    /// Not idempotent: a retry after a lost reply may find its own user (405,
    /// email taken) instead of creating a second one.
    public static let create = RpcMethod<CreateProfileRequest, User>("profile.create")
    public static let get = RpcMethod<GetProfileRequest, User>("profile.get", idempotent: true)
    /// Not idempotent as such; the version makes a repeated update a 405, never a double apply.
    public static let update = RpcMethod<UpdateProfileRequest, User>("profile.update")
    public static let history = RpcMethod<HistoryRequest, HistoryPage>("profile.history", idempotent: true)
}
