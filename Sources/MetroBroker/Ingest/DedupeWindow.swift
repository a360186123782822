/// Remembers recently published event ids and their seqs, so that a retried
/// PUBLISH is answered with its original seq instead of being stored twice
/// (protocol.md §4.2.3). Pure: the caller passes the time (ns), tests pass any.
///
/// An id is forgotten once it is older than `window`, or when more than
/// `maxEntries` ids are held (oldest first). Memory is bounded by `maxEntries`.
///
/// Design (the broker looks an id up for every acknowledged publish, so this is
/// on the hot path; a `[[UInt8]: UInt64]` cost an allocation, a byte-by-byte
/// SipHash and array compares per event, and ~100 bytes per entry):
/// - An id is reduced to a `Key`: two 64-bit SipHash values of the id under
///   different domain bytes, with the process's random hashing seed. Ids are
///   compared by this 128-bit keyed hash, not by their bytes: with 10^6 ids held
///   the chance that a new id matches an old one by accident is ~10^-33 per
///   lookup, and without the seed nobody can construct such a pair on purpose.
/// - Entries live in a FIFO ring in insertion (= time) order, 32 bytes each, so
///   expiry and eviction pop the head. The ring grows by doubling up to
///   `maxEntries`.
/// - An open-addressing table (linear probing, at most half full) maps a key to
///   its ring position; removal shifts later entries back, so there are no
///   tombstones and lookups stay short. Each slot also holds 32 bits of the key,
///   so a miss (a new id, the common case) rarely touches the ring: one cache
///   miss per lookup instead of several once the window is large.
package struct DedupeWindow: Sendable {
    /// An event id reduced to its 128-bit keyed hash. Compute it once per event.
    package struct Key: Hashable, Sendable {
        let a: UInt64
        let b: UInt64

        init(a: UInt64, b: UInt64) {
            self.a = a
            self.b = b
        }

        package init(_ id: UnsafeRawBufferPointer) {
            var h1 = Hasher()
            h1.combine(UInt8(1))
            h1.combine(bytes: id)
            var h2 = Hasher()
            h2.combine(UInt8(2))
            h2.combine(bytes: id)
            a = UInt64(UInt(bitPattern: h1.finalize()))
            b = UInt64(UInt(bitPattern: h2.finalize()))
        }

        package init(_ id: [UInt8]) {
            self = id.withUnsafeBytes { Key($0) }
        }
    }

    private struct Entry {
        var key: Key
        var seq: UInt64
        var time: UInt64
    }

    package let window: UInt64
    package let maxEntries: Int
    /// `capacity` slots; the live ones run from `head`, `count` of them, wrapping.
    private var ring: [Entry]
    private var capacity: Int
    private var head = 0
    package private(set) var count = 0
    /// By key: (32 bits of the key) << 32 | (ring position + 1); 0 where free.
    /// Its size is a power of two.
    private var slots: [UInt64]
    private var mask: Int
    private static let empty: UInt64 = 0
    private static let unused = Entry(key: Key(a: 0, b: 0), seq: 0, time: 0)
    private static let initialCapacity = 1024

    package init(windowNanoseconds: UInt64, maxEntries: Int) {
        precondition(maxEntries > 0 && maxEntries <= Int(Int32.max) / 2)
        self.window = windowNanoseconds
        self.maxEntries = maxEntries
        capacity = min(maxEntries, Self.initialCapacity)
        ring = [Entry](repeating: Self.unused, count: capacity)
        let tableSize = Self.tableSize(for: capacity)
        slots = [UInt64](repeating: Self.empty, count: tableSize)
        mask = tableSize - 1
    }

    /// The seq an id was stored under, if it is still inside the window at `now`.
    package mutating func lookup(_ key: Key, now: UInt64) -> UInt64? {
        expire(now: now)
        guard let slot = find(key) else { return nil }
        return ring[Self.position(slots[slot])].seq
    }

    /// Reads the table slot where each key's probe starts, and returns them folded
    /// together (keep the result somewhere, or the compiler drops the reads).
    /// Once the window holds 10^5–10^6 ids every probe misses the cache; the
    /// reads here are independent, so the CPU overlaps their misses, and the
    /// `lookup`/`insert` that follow for the same keys find the slots cached.
    package func warm(_ keys: UnsafeBufferPointer<Key>) -> UInt64 {
        var folded: UInt64 = 0
        slots.withUnsafeBufferPointer { table in
            for key in keys { folded ^= table[home(key)] }
        }
        return folded
    }

    /// Remembers `key` as stored under `seq` at `time`. Ids are inserted in time
    /// order; inserting a key already held keeps its first seq.
    package mutating func insert(_ key: Key, seq: UInt64, time: UInt64) {
        guard find(key) == nil else { return }
        if count == maxEntries { evictOldest() }
        if count == capacity { grow() }
        let position = (head + count) % capacity
        ring[position] = Entry(key: key, seq: seq, time: time)
        count += 1
        place(key, at: position)
    }

    /// Forgets ids older than the window.
    package mutating func expire(now: UInt64) {
        while count > 0, ring[head].time &+ window < now { evictOldest() }
    }

    // MARK: Internals

    private static func tableSize(for capacity: Int) -> Int {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        return size
    }

    @inline(__always) private static func tag(_ key: Key) -> UInt64 { key.a & 0xFFFF_FFFF_0000_0000 }
    @inline(__always) private static func position(_ slot: UInt64) -> Int { Int(slot & 0xFFFF_FFFF) - 1 }
    @inline(__always) private func home(_ key: Key) -> Int { Int(truncatingIfNeeded: key.a) & mask }

    /// The table slot holding `key`, or nil.
    private func find(_ key: Key) -> Int? {
        let tag = Self.tag(key)
        var i = home(key)
        while true {
            let slot = slots[i]
            if slot == Self.empty { return nil }
            if slot & 0xFFFF_FFFF_0000_0000 == tag && ring[Self.position(slot)].key == key { return i }
            i = (i + 1) & mask
        }
    }

    private mutating func place(_ key: Key, at position: Int) {
        var i = home(key)
        while slots[i] != Self.empty { i = (i + 1) & mask }
        slots[i] = Self.tag(key) | UInt64(position + 1)
    }

    private mutating func evictOldest() {
        var i = home(ring[head].key)
        while Self.position(slots[i]) != head { i = (i + 1) & mask }
        removeSlot(i)
        head = (head + 1) % capacity
        count -= 1
    }

    /// Linear-probing removal: moves each later entry of the cluster back into
    /// the hole unless its home slot lies between the hole and where it is.
    private mutating func removeSlot(_ slot: Int) {
        var hole = slot
        var j = (slot + 1) & mask
        while slots[j] != Self.empty {
            let home = home(ring[Self.position(slots[j])].key)
            if (j - home) & mask >= (j - hole) & mask {
                slots[hole] = slots[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        slots[hole] = Self.empty
    }

    /// Doubles the ring (up to `maxEntries`), unrolling it to start at 0, and
    /// rebuilds the table for the new size.
    private mutating func grow() {
        let newCapacity = min(maxEntries, 2 * capacity)
        var unrolled = [Entry](repeating: Self.unused, count: newCapacity)
        for k in 0..<count { unrolled[k] = ring[(head + k) % capacity] }
        ring = unrolled
        capacity = newCapacity
        head = 0
        let tableSize = Self.tableSize(for: newCapacity)
        slots = [UInt64](repeating: Self.empty, count: tableSize)
        mask = tableSize - 1
        for position in 0..<count { place(ring[position].key, at: position) }
    }
}
