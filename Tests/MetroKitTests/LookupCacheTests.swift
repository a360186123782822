import MetroProtocol
import Testing

@testable import MetroKit

@Suite struct LookupCacheTests {
    let result = LookupResult(
        service: "svc", instances: [InstanceInfo(instance: "a", epoch: 1, endpoints: ["tcp://h:1"], metadata: [:])])

    @Test func storesAndServesFreshResults() {
        let cache = LookupCache(maxAge: .seconds(60))
        let (miss, generation) = cache.get("svc")
        #expect(miss == nil)
        cache.store(result, generation: generation)
        #expect(cache.get("svc").result == result)
    }

    @Test func aResultFetchedBeforeAnInvalidationIsNotStored() {
        let cache = LookupCache(maxAge: .seconds(60))
        let generation = cache.get("svc").generation
        cache.invalidate("svc")  // an event arrived while the LOOKUP was in flight
        cache.store(result, generation: generation)
        #expect(cache.get("svc").result == nil)
    }

    @Test func invalidationDropsOnlyThatService() {
        let cache = LookupCache(maxAge: .seconds(60))
        cache.store(result, generation: cache.get("svc").generation)
        var other = result
        other.service = "other"
        cache.store(other, generation: cache.get("other").generation)
        cache.invalidate("svc")
        #expect(cache.get("svc").result == nil)
        #expect(cache.get("other").result == other)
        cache.invalidateAll()
        #expect(cache.get("other").result == nil)
    }

    @Test func aZeroMaxAgeDisablesTheCache() {
        let cache = LookupCache(maxAge: .zero)
        cache.store(result, generation: cache.get("svc").generation)
        #expect(cache.get("svc").result == nil)
    }
}
