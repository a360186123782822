/// The seqs of a consumer group that wait for a member, kept in ascending order
/// so that delivering "oldest first" needs no sort (protocol.md §4.10).
///
/// A sorted array: new events arrive in seq order and are appended (O(1)); a NAKed
/// or timed-out event goes back by binary search; the dispatcher takes seqs from
/// the front and removes what it handed out in one pass (`removeAll(where:)`).
/// Before, the ready set was a `Set` sorted on every dispatch: O(n log n) per ACK
/// with a backlog of n.
///
/// Threading: a value inside `ConsumerGroup`, owned by the broker's loop thread.
struct ReadySeqs: Equatable, Sequence {
    private(set) var seqs: [UInt64] = []

    var count: Int { seqs.count }
    var isEmpty: Bool { seqs.isEmpty }

    func makeIterator() -> IndexingIterator<[UInt64]> { seqs.makeIterator() }

    /// Inserts `seq` in order; a seq already present stays once.
    mutating func insert(_ seq: UInt64) {
        guard let last = seqs.last, seq <= last else {
            seqs.append(seq)
            return
        }
        let i = index(of: seq)
        if i < seqs.count && seqs[i] == seq { return }
        seqs.insert(seq, at: i)
    }

    mutating func remove(_ seq: UInt64) {
        let i = index(of: seq)
        if i < seqs.count && seqs[i] == seq { seqs.remove(at: i) }
    }

    func contains(_ seq: UInt64) -> Bool {
        let i = index(of: seq)
        return i < seqs.count && seqs[i] == seq
    }

    /// Removes the seqs for which `taken` says so, keeping the order.
    mutating func removeAll(where taken: (UInt64) -> Bool) { seqs.removeAll(where: taken) }

    /// The first position whose seq is not below `seq`.
    private func index(of seq: UInt64) -> Int {
        var low = 0
        var high = seqs.count
        while low < high {
            let mid = (low + high) / 2
            if seqs[mid] < seq { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
