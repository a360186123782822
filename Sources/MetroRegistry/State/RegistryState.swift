package import MetroProtocol

/// `MetroRegistry` is Metro's service registry: the pure membership state
/// (`RegistryState`), the ROUTER poll loop that serves it (`RegistryServer`), and the
/// publisher of membership events (`MembershipPublisher`). protocol.md §5 is the contract.
///
/// `RegistryState` is the registry's whole memory, a value with no I/O and no clock
/// of its own: every method takes `now` (monotonic nanoseconds) from the caller, so
/// tests drive leases with a fake clock. It decides; the server loop only moves bytes
/// and carries out what the state returns (membership events to publish).
///
/// Epoch rules (§5.4): for one (service, instance) key the live incarnation is the
/// registered epoch. REGISTER with the same epoch refreshes it (a retried request is
/// harmless); an older epoch is 301 `stale-epoch`; a newer epoch while the old lease is
/// live is 305 `instance-conflict` (the registry cannot tell a restart from a second
/// process, so it never lets one silently displace a live lease). HEARTBEAT and
/// DEREGISTER must name the live epoch: older is 301, unknown or newer is 300.
package struct RegistryState: Sendable {
    /// Monotonic time in nanoseconds, from whatever clock the owner injects.
    package typealias Instant = UInt64

    /// One live incarnation and its lease.
    package struct Entry: Hashable, Sendable {
        package var registration: Registration
        package var registeredAt: Instant
        package var lastHeartbeat: Instant
        package var expiresAt: Instant {
            // Clamped so a configured TTL of centuries cannot overflow.
            lastHeartbeat &+ min(registration.ttlMilliseconds, UInt64.max / 4_000_000) * 1_000_000
        }

        func status(now: Instant) -> InstanceStatus {
            let r = registration
            return InstanceStatus(
                service: r.service, instance: r.instance, epoch: r.epoch, endpoints: r.endpoints,
                metadata: r.metadata, ttlMilliseconds: r.ttlMilliseconds,
                ageMilliseconds: (now &- registeredAt) / 1_000_000,
                sinceHeartbeatMilliseconds: (now &- lastHeartbeat) / 1_000_000,
                leaseLeftMilliseconds: expiresAt > now ? (expiresAt - now) / 1_000_000 : 0)
        }

        var info: InstanceInfo {
            InstanceInfo(
                instance: registration.instance, epoch: registration.epoch,
                endpoints: registration.endpoints, metadata: registration.metadata)
        }
    }

    /// What a successful REGISTER did.
    package enum RegisterOutcome: Hashable, Sendable {
        /// A new incarnation: publish `registered`.
        case added
        /// The same incarnation again; `changed` when endpoints, metadata or TTL differ
        /// (then `registered` is published again so caches refresh).
        case refreshed(changed: Bool)
    }

    private var services: [String: [String: Entry]] = [:]
    /// No lease ends before this instant (a lower bound; heartbeats only push leases out).
    private var earliestExpiry: Instant = .max
    package private(set) var count = 0

    package init() {}

    /// When the next lease may run out; the server sleeps no longer than this.
    package var nextExpiry: Instant? { earliestExpiry == .max ? nil : earliestExpiry }

    package mutating func register(_ r: Registration, now: Instant) -> Result<RegisterOutcome, WireError> {
        guard let live = services[r.service]?[r.instance], live.expiresAt > now else {
            if services[r.service]?[r.instance] == nil { count += 1 }
            services[r.service, default: [:]][r.instance] = Entry(
                registration: r, registeredAt: now, lastHeartbeat: now)
            noteLease(until: services[r.service]![r.instance]!.expiresAt)
            return .success(.added)
        }
        if r.epoch < live.registration.epoch {
            return .failure(
                WireError(
                    .staleEpoch,
                    "\(r.key) is from an earlier incarnation: epoch \(live.registration.epoch) is live"))
        }
        if r.epoch > live.registration.epoch {
            let left = (live.expiresAt - now) / 1_000_000
            return .failure(
                WireError(
                    .instanceConflict,
                    "instance '\(r.instance)' of '\(r.service)' is held by a live process with epoch \(live.registration.epoch) "
                        + "(lease left \(left) ms); register again once it deregisters or its lease runs out"))
        }
        var entry = live
        let changed = entry.registration != r
        entry.registration = r
        entry.lastHeartbeat = now
        services[r.service]![r.instance] = entry
        noteLease(until: entry.expiresAt)
        return .success(.refreshed(changed: changed))
    }

    /// Renews the lease of `key`'s incarnation; returns the TTL granted.
    package mutating func heartbeat(_ key: InstanceKey, now: Instant) -> Result<UInt64, WireError> {
        switch liveEntry(key, now: now) {
        case .failure(let e): return .failure(e)
        case .success(var entry):
            entry.lastHeartbeat = now
            services[key.service]![key.instance] = entry
            return .success(entry.registration.ttlMilliseconds)
        }
    }

    /// Removes `key`'s incarnation; returns it, for the `deregistered` event.
    package mutating func deregister(_ key: InstanceKey, now: Instant) -> Result<Registration, WireError> {
        switch liveEntry(key, now: now) {
        case .failure(let e): return .failure(e)
        case .success(let entry):
            remove(key.service, key.instance)
            return .success(entry.registration)
        }
    }

    /// The healthy instances of `service`, sorted by instance id.
    package func lookup(_ service: String, now: Instant) -> LookupResult {
        let entries = (services[service] ?? [:]).values.filter { $0.expiresAt > now }
        return LookupResult(service: service, instances: entries.map(\.info).sorted { $0.instance < $1.instance })
    }

    /// Every live instance with its lease, sorted by service then instance id.
    package func list(now: Instant) -> ListResult {
        let all = services.values.flatMap(\.values).filter { $0.expiresAt > now }.map { $0.status(now: now) }
        return ListResult(instances: all.sorted { ($0.service, $0.instance) < ($1.service, $1.instance) })
    }

    /// Removes every instance whose lease ran out by `now` and returns them, for the
    /// `expired` events. Cheap when nothing can have expired yet.
    package mutating func sweep(now: Instant) -> [Registration] {
        guard now >= earliestExpiry else { return [] }
        var expired: [Registration] = []
        var next: Instant = .max
        for (service, instances) in services {
            for (id, entry) in instances {
                if entry.expiresAt <= now {
                    expired.append(entry.registration)
                    remove(service, id)
                } else {
                    next = min(next, entry.expiresAt)
                }
            }
        }
        earliestExpiry = next
        return expired.sorted { ($0.service, $0.instance) < ($1.service, $1.instance) }
    }

    private func liveEntry(_ key: InstanceKey, now: Instant) -> Result<Entry, WireError> {
        guard let entry = services[key.service]?[key.instance], entry.expiresAt > now else {
            return .failure(WireError(.unknownInstance, "the registry does not know \(key); register again"))
        }
        if key.epoch < entry.registration.epoch {
            return .failure(
                WireError(
                    .staleEpoch, "\(key) is from an earlier incarnation: epoch \(entry.registration.epoch) is live"))
        }
        if key.epoch > entry.registration.epoch {
            return .failure(
                WireError(
                    .unknownInstance,
                    "the registry does not know \(key) (epoch \(entry.registration.epoch) is live); register again"))
        }
        return .success(entry)
    }

    private mutating func remove(_ service: String, _ instance: String) {
        guard services[service]?.removeValue(forKey: instance) != nil else { return }
        count -= 1
        if services[service]?.isEmpty == true { services.removeValue(forKey: service) }
    }

    private mutating func noteLease(until expiry: Instant) {
        earliestExpiry = min(earliestExpiry, expiry)
    }
}
