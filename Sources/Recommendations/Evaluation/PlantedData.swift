/// The small data set `metro-reco-eval` ships (Benchmarks/reco-eval/data), made
/// with planted structure so that a model that learns co-occurrence must beat
/// popularity on it:
///
/// - `items` items in `clusters` clusters (item i is in cluster i % clusters);
///   across clusters, item popularity falls off like 1/(rank+1) (Zipf), so a
///   popularity baseline has something to find too;
/// - each user has one home cluster and rates `perUser` distinct items: with
///   probability `affinity` one from the home cluster (Zipf within it), else
///   one from the whole catalogue (Zipf overall);
/// - ratings 3–5 at home, 1–3 elsewhere; timestamps increase per user, so the
///   held-out last interaction is drawn like the others.
///
/// Deterministic for a seed (SplitMix64), on every platform.
public struct PlantedData: Sendable {
    public var users = 300
    public var items = 150
    public var clusters = 10
    public var perUser = 15
    public var affinity = 0.8
    public var seed: UInt64 = 42

    public init() {}

    public func generate() -> [Interaction] {
        var random = SplitMix64(seed: seed)
        let clusterSize = items / clusters
        var result: [Interaction] = []
        for u in 0..<users {
            let home = Int(random.next() % UInt64(clusters))
            var chosen = Set<Int>()
            var time: Int64 = 1_700_000_000 + Int64(u) * 10
            while chosen.count < perUser {
                let atHome = random.unit() < affinity
                let item =
                    atHome
                    ? home + clusters * random.zipf(clusterSize)
                    : random.zipf(items)
                guard chosen.insert(item).inserted else { continue }
                time += 3600 + Int64(random.next() % 3600)
                let rating = Double(atHome ? 3 + random.next() % 3 : 1 + random.next() % 3)
                result.append(Interaction(user: "u\(u)", item: "i\(item)", rating: rating, timestamp: time))
            }
        }
        return result
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, the same everywhere.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// 0..<n with P(k) ∝ 1/(k+1).
    mutating func zipf(_ n: Int) -> Int {
        let total = (1...n).reduce(0.0) { $0 + 1 / Double($1) }
        var target = unit() * total
        for k in 0..<n {
            target -= 1 / Double(k + 1)
            if target < 0 { return k }
        }
        return n - 1
    }
}
