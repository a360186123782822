import MetroRuntime

extension ProfilesService {
    /// SEAM until the runtime serves rpc (branch `rpc-server` merged into
    /// `runtime`): the four `profile.*` methods are registered here.
    static func registerRpc(on service: inout ServiceDefinition, clock: @escaping @Sendable () -> Int64) {}
}
