import MetroProtocol

/// The durable state of every consumer group, as stored in `groups.state` in the
/// data folder (format: protocol.md Appendix C). Pure encoding; `GroupStore` does
/// the file work. Little-endian, with a CRC-32C over everything before it:
///
/// ```
/// "MTRGRP01"  u32 groups
/// per group: u16 name-len, name, u16 prefixes, (u16 len, bytes)*, u32 ackTimeoutMs,
///            u32 maxDeliveries, u64 position, u32 pending, (u64 seq, u32 deliveries)*
/// u32 crc32c
/// ```
enum GroupStateCodec {
    static let magic: [UInt8] = Array("MTRGRP01".utf8)

    struct Group: Equatable, Sendable {
        var name: String
        var config: ConsumerGroup.Config
        var position: UInt64
        /// seq → deliveries so far.
        var pending: [UInt64: Int]
    }

    static func encode(_ groups: [Group]) -> [UInt8] {
        var out = magic
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { out += $0 } }
        func u32(_ v: UInt64) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        u32(UInt64(groups.count))
        for g in groups.sorted(by: { $0.name < $1.name }) {
            let name = Array(g.name.utf8)
            u16(name.count)
            out += name
            u16(g.config.prefixes.count)
            for p in g.config.prefixes {
                u16(p.count)
                out += p
            }
            u32(g.config.ackTimeoutNs / 1_000_000)
            u32(UInt64(g.config.maxDeliveries))
            u64(g.position)
            u32(UInt64(g.pending.count))
            for (seq, n) in g.pending.sorted(by: { $0.key < $1.key }) {
                u64(seq)
                u32(UInt64(n))
            }
        }
        u32(UInt64(CRC32C.checksum(out)))
        return out
    }

    /// Decodes a whole file; nil if it is short, corrupt or not this format.
    static func decode(_ bytes: [UInt8]) -> [Group]? {
        guard bytes.count >= magic.count + 8, bytes.starts(with: magic) else { return nil }
        let body = Array(bytes.dropLast(4))
        var at = magic.count
        func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard at + n <= body.count else { return nil }
            defer { at += n }
            return body[at..<(at + n)]
        }
        func int(_ n: Int) -> UInt64? {
            take(n).map { $0.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }
        }
        guard let crc = int32(bytes.suffix(4)), CRC32C.checksum(body) == crc else { return nil }
        guard let count = int(4) else { return nil }
        var groups: [Group] = []
        for _ in 0..<count {
            guard let nameLength = int(2), let name = take(Int(nameLength)), let prefixCount = int(2) else {
                return nil
            }
            var prefixes: [[UInt8]] = []
            for _ in 0..<prefixCount {
                guard let n = int(2), let p = take(Int(n)) else { return nil }
                prefixes.append(Array(p))
            }
            guard let ackMs = int(4), let maxDeliveries = int(4), let position = int(8), let pendingCount = int(4)
            else { return nil }
            // Values a JOIN could not have made (§4.10 ranges) mean a damaged file.
            guard BrokerLimits.groupAckTimeoutMs.contains(Int(ackMs)),
                BrokerLimits.groupMaxDeliveries.contains(Int(maxDeliveries)), position <= BrokerLimits.maxSeq
            else { return nil }
            var pending: [UInt64: Int] = [:]
            for _ in 0..<pendingCount {
                guard let seq = int(8), let n = int(4), seq <= BrokerLimits.maxSeq else { return nil }
                pending[seq] = Int(n)
            }
            groups.append(
                Group(
                    name: String(decoding: name, as: UTF8.self),
                    config: .init(
                        prefixes: prefixes, ackTimeoutNs: ackMs * 1_000_000, maxDeliveries: Int(maxDeliveries)),
                    position: position, pending: pending))
        }
        return at == body.count ? groups : nil
    }

    private static func int32(_ b: some Collection<UInt8>) -> UInt32? {
        guard b.count == 4 else { return nil }
        return b.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}
