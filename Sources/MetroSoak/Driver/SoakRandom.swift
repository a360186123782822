/// SplitMix64: a tiny, fast, seedable PRNG (Steele, Lea, Flood 2014), so that
/// `metro soak --seed N` draws the same operations, targets and fault times on
/// every run. Not `SystemRandomNumberGenerator`: that one cannot be seeded.
public struct SoakRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// An exponential draw with mean `mean`: the gaps of a Poisson process.
    public mutating func exponential(mean: Double) -> Double { -mean * log1p(-unit()) }

    /// A generator of its own for one concern (load, chaos), so that adding draws
    /// to one does not shift the other's sequence.
    public mutating func split() -> SoakRandom { SoakRandom(seed: next()) }
}

/// Zipfian popularity over a list that grows (users sign up, videos get
/// processed): item k (0-based, oldest first) has weight 1/(k+1)^s. Keeps the
/// cumulative weights, so a draw is a binary search. s ≈ 1.1 gives the long
/// tail of real catalogues: a few items get most views.
public struct ZipfPicker: Sendable {
    public let exponent: Double
    private var cumulative: [Double] = []

    public init(exponent: Double = 1.1) { self.exponent = exponent }

    public var count: Int { cumulative.count }

    /// Makes room for one more item (the next index).
    public mutating func grow() {
        let weight = 1 / pow(Double(cumulative.count + 1), exponent)
        cumulative.append((cumulative.last ?? 0) + weight)
    }

    /// An index in 0..<count (nil while empty).
    public func pick(_ random: inout SoakRandom) -> Int? {
        guard let total = cumulative.last else { return nil }
        let target = random.unit() * total
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] > target { high = mid } else { low = mid + 1 }
        }
        return low
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
