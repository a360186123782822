import Yams

/// What one identity of the allow-list may do (protocol.md §7.3, §7.8): the topic
/// prefixes it may publish, subscribe to, replay and consume, the service
/// names it may register, and the rpc method-name prefixes it may call on a
/// worker's rpc socket. A value, checked by the broker and the registry on
/// every request of a secure connection; `unrestricted` is an identity that says
/// no `permissions:` (all access, as before permissions existed).
///
/// A topic (or a subscription, replay or group prefix) is permitted when it
/// starts with one of the action's prefixes, byte for byte, the way ZeroMQ and
/// Metro match prefixes everywhere else (§2.4): `video.` permits `video.uploaded`
/// and a subscription to `video.up`, not one to `vid` or to the empty prefix.
/// The empty prefix `""` permits everything. An empty list permits nothing.
public struct Permissions: Sendable, Hashable {
    /// The actions a permission list names: the YAML keys of `permissions:`.
    public enum Action: String, Sendable, CaseIterable {
        case publish, subscribe, replay, consume, register, call
    }

    /// Topic prefixes, by action (`register` is not here).
    public let publish: [[UInt8]]
    public let subscribe: [[UInt8]]
    public let replay: [[UInt8]]
    public let consume: [[UInt8]]
    /// Service names it may REGISTER (and HEARTBEAT, DEREGISTER); `"*"` is any name.
    public let register: [String]
    /// Method-name prefixes it may call on a worker's rpc socket (§6, §7.10);
    /// `""` is every method.
    public let call: [[UInt8]]

    public init(
        publish: [String] = [], subscribe: [String] = [], replay: [String] = [], consume: [String] = [],
        register: [String] = [], call: [String] = []
    ) {
        self.publish = publish.map { Array($0.utf8) }
        self.subscribe = subscribe.map { Array($0.utf8) }
        self.replay = replay.map { Array($0.utf8) }
        self.consume = consume.map { Array($0.utf8) }
        self.register = register
        self.call = call.map { Array($0.utf8) }
    }

    /// Everything: an identity listed without `permissions:`.
    public static let unrestricted = Permissions(
        publish: [""], subscribe: [""], replay: [""], consume: [""], register: ["*"], call: [""])
    /// Nothing: `permissions: {}`, or a user id no longer on the list.
    public static let nothing = Permissions()

    /// The prefixes of a topic action (`register` has none: use `mayRegister`).
    public func prefixes(_ action: Action) -> [[UInt8]] {
        switch action {
        case .publish: publish
        case .subscribe: subscribe
        case .replay: replay
        case .consume: consume
        case .call: call
        case .register: []
        }
    }

    /// Whether `topic` (a topic, or a prefix asked for) starts with one of
    /// `action`'s prefixes. Loop thread of the broker: no allocation.
    @inline(__always)
    public func allows(_ action: Action, _ topic: UnsafeRawBufferPointer) -> Bool {
        for prefix in prefixes(action) where prefix.count <= topic.count {
            let same = prefix.withUnsafeBytes { p in
                p.count == 0 || memcmpEqual(p.baseAddress!, topic.baseAddress!, p.count)
            }
            if same { return true }
        }
        return false
    }

    /// `allows` for bytes in an array.
    public func allows(_ action: Action, _ topic: [UInt8]) -> Bool {
        topic.withUnsafeBytes { allows(action, $0) }
    }

    /// Whether it may register (heartbeat, deregister) instances of `service`.
    public func mayRegister(_ service: String) -> Bool {
        register.contains { $0 == "*" || $0 == service }
    }
}

@inline(__always)
private func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    for i in 0..<n where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
        return false
    }
    return true
}

extension Permissions {
    /// Reads an identity's `permissions:` mapping (protocol.md §7.3): only the
    /// six keys of `Action`, each a list of strings; a missing key is an empty
    /// list, except `call`: missing, every method may be called (lists written
    /// before `call` existed keep their rpc access; `call: []` is none). Topic prefixes are at most 255 bytes of the topic alphabet (§2.4)
    /// plus `$`; a `*` is refused with the hint that prefixes are not globs.
    /// Service names follow §5.2, or are `"*"`.
    static func parse(_ node: Node, identity: String) throws(PermissionsError) -> Permissions {
        if node.scalar?.string.isEmpty == true || node.string == "null" { return .nothing }
        guard let fields = node.mapping else {
            throw PermissionsError("identity '\(identity)': 'permissions' must be a mapping")
        }
        var lists: [Action: [String]] = [:]
        for (key, value) in fields {
            guard let action = key.string.flatMap(Action.init(rawValue:)) else {
                throw PermissionsError(
                    "identity '\(identity)': unknown permission '\(key.string ?? "?")' "
                        + "(publish, subscribe, replay, consume, register, call)")
            }
            let items: [String]
            if value.scalar?.string.isEmpty == true || value.string == "null" {
                items = []
            } else if let sequence = value.sequence {
                items = try sequence.map { (item) throws(PermissionsError) -> String in
                    guard let text = item.scalar?.string else {
                        throw PermissionsError("identity '\(identity)': '\(action.rawValue)' lists a non-string")
                    }
                    return text
                }
            } else {
                throw PermissionsError("identity '\(identity)': '\(action.rawValue)' must be a list")
            }
            for item in items {
                let problem =
                    switch action {
                    case .register: Self.serviceProblem(item)
                    case .call: Self.methodProblem(item)
                    default: Self.prefixProblem(item)
                    }
                if let problem {
                    throw PermissionsError("identity '\(identity)': \(action.rawValue) '\(item)': \(problem)")
                }
            }
            lists[action] = items
        }
        return Permissions(
            publish: lists[.publish] ?? [], subscribe: lists[.subscribe] ?? [], replay: lists[.replay] ?? [],
            consume: lists[.consume] ?? [], register: lists[.register] ?? [], call: lists[.call] ?? [""])
    }

    /// A method-name prefix: at most 128 bytes of a method name's alphabet (§6.3).
    private static func methodProblem(_ prefix: String) -> String? {
        if prefix.contains("*") { return "prefixes are byte prefixes, not patterns: write 'profile.', not 'profile.*'" }
        guard prefix.utf8.count <= 128 else { return "longer than a method name (128 bytes)" }
        let ok = prefix.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E
                || c == 0x5F || c == 0x2D
        }
        return ok ? nil : "a method name has only letters, digits, '.', '_' and '-'"
    }

    private static func prefixProblem(_ prefix: String) -> String? {
        if prefix.contains("*") { return "prefixes are byte prefixes, not patterns: write 'video.', not 'video.*'" }
        guard prefix.utf8.count <= 255 else { return "longer than a topic (255 bytes)" }
        let ok = prefix.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E
                || c == 0x5F || c == 0x2D || c == 0x24
        }
        return ok ? nil : "a topic prefix has only letters, digits, '.', '_', '-' and '$'"
    }

    private static func serviceProblem(_ name: String) -> String? {
        if name == "*" { return nil }
        let bytes = Array(name.utf8)
        let ok =
            (1...63).contains(bytes.count) && bytes[0] >= 0x61 && bytes[0] <= 0x7A && bytes.last != 0x2D
            && bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        return ok ? nil : "not a service name (protocol.md §5.2) nor '*'"
    }
}

/// Why a `permissions:` mapping was refused (wrapped into the allow-list's error).
struct PermissionsError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
