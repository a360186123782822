/// Reads the JSON bodies of registry requests (protocol.md §5.2–§5.6) with
/// `StrictJSON`, answering steps 6 and 7 of §5.3: 103 for a body that is not
/// UTF-8, 104 for one that is not strict JSON, not an object, or lacks a field or
/// has it with the wrong type, and only then a field's own §5.2 error.
///
/// Integer fields take "JSON integers" only (`JSONValue.unsignedInteger`): `1e3`,
/// `1.0` and `-0` are the wrong type (104); `-1` is an integer out of the field's
/// range, which is `ttl_ms`'s 304 and `epoch`'s 104 (§5.2).
enum RegistryBody {
    static func registration(
        _ bytes: [UInt8], ttlRange: ClosedRange<UInt64>
    ) -> Result<Registration, WireError> {
        Result { () throws(WireError) in
            let f = try Fields(bytes, what: "REGISTER")
            let service = try f.string("service")
            let instance = try f.string("instance")
            let epoch = try f.epoch()
            let endpoints = try f.strings("endpoints")
            let metadata = try f.stringMap("metadata") ?? [:]
            let ttl = try f.unsigned("ttl_ms")
            // An out-of-range ttl_ms is checked last, after the other fields' own
            // errors, as `validate` would: a placeholder inside the range stands in.
            let r = Registration(
                service: service, instance: instance, epoch: epoch, endpoints: endpoints, metadata: metadata,
                ttlMilliseconds: ttl.value ?? ttlRange.lowerBound)
            if let e = r.validate(ttlRange: ttlRange) { throw e }
            guard ttl.value != nil else {
                throw WireError(
                    .ttlOutOfRange,
                    "ttl_ms \(ttl.text.prefix(40)) is outside \(ttlRange.lowerBound)...\(ttlRange.upperBound)")
            }
            return r
        }
    }

    static func instanceKey(_ bytes: [UInt8], what: String) -> Result<InstanceKey, WireError> {
        Result { () throws(WireError) in
            let f = try Fields(bytes, what: what)
            let key = InstanceKey(
                service: try f.string("service"), instance: try f.string("instance"), epoch: try f.epoch())
            if let e = key.validate() { throw e }
            return key
        }
    }

    /// The members of one body, with the 104 for each way a field can be missing or mistyped.
    private struct Fields {
        let object: JSONObject
        let what: String

        init(_ bytes: [UInt8], what: String) throws(WireError) {
            self.what = what
            guard String(validating: bytes, as: UTF8.self) != nil else {
                throw WireError(.invalidUTF8, "the \(what) body is not valid UTF-8")
            }
            let value: JSONValue
            do {
                value = try StrictJSON.parse(bytes)
            } catch {
                throw WireError(.invalidJSON, "the \(what) body is not valid JSON: \(error)")
            }
            guard case .object(let object) = value else {
                throw WireError(.invalidJSON, "the \(what) body is not a JSON object")
            }
            self.object = object
        }

        func required(_ key: String) throws(WireError) -> JSONValue {
            guard let v = object[key] else {
                throw WireError(.invalidJSON, "the \(what) body lacks the required field '\(key)'")
            }
            return v
        }

        func wrongType(_ key: String, _ expected: String) -> WireError {
            WireError(.invalidJSON, "the \(what) body has a wrong type at '\(key)': expected \(expected)")
        }

        func string(_ key: String) throws(WireError) -> String {
            guard case .string(let s) = try required(key) else { throw wrongType(key, "a string") }
            return s
        }

        static let integerForm = "a JSON integer (digits, no fraction, exponent or leading zero)"

        /// An unsigned integer field; `value` is nil when it is an integer outside 0..<2^64.
        func unsigned(_ key: String) throws(WireError) -> (value: UInt64?, text: String) {
            let v = try required(key)
            guard let reading = v.unsignedInteger, case .number(let text) = v else {
                throw wrongType(key, Self.integerForm)
            }
            if case .value(let n) = reading { return (n, text) }
            return (nil, text)
        }

        /// `epoch`: §5.2 answers 104 for anything but an unsigned 64-bit integer.
        func epoch() throws(WireError) -> UInt64 {
            guard let n = try unsigned("epoch").value else {
                throw WireError(.invalidJSON, "the \(what) body's epoch is not an integer in 0..<2^64")
            }
            return n
        }

        func strings(_ key: String) throws(WireError) -> [String] {
            guard case .array(let elements) = try required(key) else { throw wrongType(key, "an array of strings") }
            var out: [String] = []
            for e in elements {
                guard case .string(let s) = e else { throw wrongType(key, "an array of strings") }
                out.append(s)
            }
            return out
        }

        /// An optional object of string values; nil when absent (null is a wrong type).
        func stringMap(_ key: String) throws(WireError) -> [String: String]? {
            guard let v = object[key] else { return nil }
            guard case .object(let o) = v else { throw wrongType(key, "an object of strings") }
            var out: [String: String] = [:]
            for (k, value) in zip(o.keys, o.values) {
                guard case .string(let s) = value else { throw wrongType(key, "an object of strings") }
                // Distinct in bytes (StrictJSON checked) yet equal as Swift Strings:
                // canonically equivalent spellings of one key, which a map cannot hold apart.
                guard out.updateValue(s, forKey: k) == nil else {
                    throw WireError(.invalidJSON, "the \(what) body's \(key) has two keys that are the same text")
                }
            }
            return out
        }
    }
}
