/// Helpers shared by the system tests for building raw frames.

/// The UTF-8 bytes of `s`, as one frame.
package func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A small seeded random generator (SplitMix64) for repeatable garbage input:
/// a failing random case can be replayed from its seed.
package struct SplitMix64: RandomNumberGenerator {
    package var state: UInt64
    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating package func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// Random multipart messages for the garbage-input tests of the request sockets
/// (broker and registry alike). Each message has 1...`maxFrames` frames. With
/// even odds its first frame is the protocol version and its second a known
/// command, so that the checks behind the version and the command run too; a
/// later frame is one of `bodies` one time in three (when given). Every other
/// frame is 0...`maxFrameBytes` random bytes. Seeded: a failure repeats.
package struct GarbageMessages {
    package var rng: SplitMix64
    package let version: [UInt8]
    package let commands: [String]
    package let bodies: [[UInt8]]
    package let maxFrames: Int
    package let maxFrameBytes = 300

    package init(seed: UInt64, version: [UInt8], commands: [String], bodies: [[UInt8]] = [], maxFrames: Int = 9) {
        rng = SplitMix64(seed: seed)
        (self.version, self.commands, self.bodies, self.maxFrames) = (version, commands, bodies, maxFrames)
    }

    package mutating func next() -> [[UInt8]] {
        (0..<Int.random(in: 1...maxFrames, using: &rng)).map { i in
            if i == 0 && Bool.random(using: &rng) { return version }
            if i == 1 && Bool.random(using: &rng) { return bytes(commands.randomElement(using: &rng)!) }
            if i >= 2, !bodies.isEmpty, Int.random(in: 0..<3, using: &rng) == 0 {
                return bodies.randomElement(using: &rng)!
            }
            return rng.bytes(Int.random(in: 0...maxFrameBytes, using: &rng))
        }
    }
}
