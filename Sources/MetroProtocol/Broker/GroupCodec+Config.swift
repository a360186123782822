/// JOIN's config json (protocol.md §4.10), read with `StrictJSON` like the
/// registry's bodies (§5.2): the numbers are JSON integers (no fraction, no
/// exponent, not `-0`), keys are unique, and `null` is no value. A member of the
/// wrong type is 104; a JSON integer outside its field's range (§4.10, the
/// ranges in `BrokerLimits`) is 108, never a value cut to a smaller width.
/// Unknown members are ignored, so a newer client's config still creates a group.
extension GroupCodec.Config {
    /// Decodes the config frame; an empty frame is the default config.
    package static func decode(_ bytes: [UInt8]) -> Result<Self, WireError> {
        Result { () throws(WireError) in
            guard !bytes.isEmpty else { return Self() }
            func typeError(_ what: String) -> WireError {
                WireError(.invalidJSON, "the config is a JSON object (protocol.md §4.10): \(what)")
            }
            let object: JSONObject
            do {
                guard case .object(let o) = try StrictJSON.parse(bytes) else { throw typeError("not an object") }
                object = o
            } catch let error as WireError {
                throw error
            } catch {
                throw typeError("\(error)")
            }
            func integer(_ key: String, _ range: ClosedRange<UInt64>, _ rangeText: String) throws(WireError) -> UInt64?
            {
                guard let value = object[key] else { return nil }
                switch value.unsignedInteger {
                case .value(let v)? where range.contains(v): return v
                case .value?, .outOfRange?: throw WireError(.invalidArgument, "\(key) is \(rangeText)")
                case nil: throw typeError("\(key) is not a JSON integer")
                }
            }
            var config = Self()
            if let value = object["prefixes"] {
                guard case .array(let items) = value else { throw typeError("prefixes is not a list") }
                var prefixes: [String] = []
                for item in items {
                    guard case .string(let p) = item else { throw typeError("a prefix is not a string") }
                    prefixes.append(p)
                }
                config.prefixes = prefixes
            }
            var start: String?
            if let value = object["start"] {
                guard case .string(let s) = value else { throw typeError("start is not a string") }
                start = s
            }
            config.startSeq = try integer("startSeq", 0...BrokerLimits.maxSeq, "0 to 2^63-1")
            let ack = BrokerLimits.groupAckTimeoutMs
            config.ackTimeoutMs = try integer(
                "ackTimeoutMs", UInt64(ack.lowerBound)...UInt64(ack.upperBound), "1 to 4294967295"
            ).map { Int($0) }
            let deliveries = BrokerLimits.groupMaxDeliveries
            config.maxDeliveries = try integer(
                "maxDeliveries", UInt64(deliveries.lowerBound)...UInt64(deliveries.upperBound), "1 to 1000000"
            ).map { Int($0) }
            config.batchBytes = try integer(
                "batchBytes", 0...UInt64(ReplayCodec.maxBatchBytes), "0 (the default, 65536) to 1048576"
            ).map { Int($0) }
            // Checked after the numbers, as JOIN always has (§4.10).
            if let start {
                guard let value = GroupStart(rawValue: start) else {
                    throw WireError(.invalidArgument, "start is \"earliest\" or \"latest\"")
                }
                config.start = value
            }
            return config
        }
    }
}
