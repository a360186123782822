/// The gateway's figures for `metro top`, read from its Prometheus text
/// (`GET /metrics`; the series are in docs/operations.md, "The gateway"): the
/// front door is where an overload or a lost service shows first, as shed
/// requests and 5xx, so the live view carries it beside the broker and registry.
///
/// Counters are totals since the gateway started; `TopReport` turns two samples
/// into rates, and two samples of the latency histogram into the p99 of the
/// requests in between.
struct GatewayFigures: Sendable, Equatable {
    /// Requests answered, by status class (`2xx`, `3xx`, `4xx`, `5xx`), every route
    /// but `/metrics` (scrapes, `metro top`'s own among them).
    var requestsByClass: [String: Double] = [:]
    /// Of the 4xx, the 429s: requests the gateway shed or that carried a 429 upstream.
    var tooMany: Double = 0
    /// Requests the gateway refused itself before any upstream, by reason (`limit`, ...).
    var shedByReason: [String: Double] = [:]
    /// Each upstream service's adaptive concurrency limit and calls in flight now.
    var upstreams: [String: Upstream] = [:]
    /// The request-duration histogram summed over routes: cumulative count at or
    /// below each bucket's upper bound (seconds; `+Inf` as `.infinity`).
    var durationBuckets: [Double: Double] = [:]

    struct Upstream: Sendable, Equatable {
        var limit: Double = 0
        var inFlight: Double = 0
    }

    var requests: Double { requestsByClass.values.reduce(0, +) }
    var shed: Double { shedByReason.values.reduce(0, +) }

    /// The figures in `text`; lines of other series, comments and lines that do not
    /// parse are skipped (an older or newer gateway may export more or less).
    static func parse(_ text: String) -> GatewayFigures {
        var figures = GatewayFigures()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let sample = Sample(line) else { continue }
            switch sample.name {
            case "metro_gateway_requests_total":
                // `metro top`'s own scrapes are not traffic.
                guard sample.labels["route"] != "/metrics", let status = sample.labels["status"].flatMap({ Int($0) })
                else { continue }
                figures.requestsByClass["\(status / 100)xx", default: 0] += sample.value
                if status == 429 { figures.tooMany += sample.value }
            case "metro_gateway_shed_total":
                figures.shedByReason[sample.labels["reason"] ?? "?", default: 0] += sample.value
            case "metro_gateway_concurrency_limit":
                figures.upstreams[sample.labels["service"] ?? "?", default: Upstream()].limit = sample.value
            case "metro_gateway_in_flight":
                figures.upstreams[sample.labels["service"] ?? "?", default: Upstream()].inFlight = sample.value
            case "metro_gateway_request_duration_seconds_bucket":
                guard sample.labels["route"] != "/metrics", let le = sample.labels["le"],
                    let bound = le == "+Inf" ? .infinity : Double(le)
                else { continue }
                figures.durationBuckets[bound, default: 0] += sample.value
            default:
                continue
            }
        }
        return figures
    }

    /// The smallest bucket bound under which `quantile` of the requests between
    /// `before` and `self` fell (an upper bound on that quantile, in seconds); nil
    /// without a request in between or when a count went down (a restart).
    func latencyQuantile(_ quantile: Double, since before: GatewayFigures) -> Double? {
        let bounds = durationBuckets.keys.sorted()
        guard let last = bounds.last else { return nil }
        let total = durationBuckets[last, default: 0] - before.durationBuckets[last, default: 0]
        guard total > 0 else { return nil }
        for bound in bounds {
            let delta = durationBuckets[bound, default: 0] - before.durationBuckets[bound, default: 0]
            if delta < 0 { return nil }
            if delta >= quantile * total { return bound }
        }
        return last
    }

    /// One line of the text format: `name{key="value",...} value [timestamp]`.
    struct Sample {
        var name: String
        var labels: [String: String] = [:]
        var value: Double

        init?(_ line: Substring) {
            let chars = Array(line.utf8)
            var i = 0
            while i < chars.count, chars[i] != UInt8(ascii: "{"), chars[i] != UInt8(ascii: " ") { i += 1 }
            name = String(decoding: chars[0..<i], as: UTF8.self)
            if i < chars.count, chars[i] == UInt8(ascii: "{") {
                i += 1
                while i < chars.count, chars[i] != UInt8(ascii: "}") {
                    var keyEnd = i
                    while keyEnd < chars.count, chars[keyEnd] != UInt8(ascii: "=") { keyEnd += 1 }
                    guard keyEnd + 1 < chars.count, chars[keyEnd + 1] == UInt8(ascii: "\"") else { return nil }
                    let key = String(decoding: chars[i..<keyEnd], as: UTF8.self)
                    var j = keyEnd + 2
                    var value: [UInt8] = []
                    while j < chars.count, chars[j] != UInt8(ascii: "\"") {
                        if chars[j] == UInt8(ascii: "\\"), j + 1 < chars.count {
                            j += 1
                            value.append(chars[j] == UInt8(ascii: "n") ? UInt8(ascii: "\n") : chars[j])
                        } else {
                            value.append(chars[j])
                        }
                        j += 1
                    }
                    guard j < chars.count else { return nil }
                    labels[key] = String(decoding: value, as: UTF8.self)
                    i = j + 1
                    if i < chars.count, chars[i] == UInt8(ascii: ",") { i += 1 }
                }
                guard i < chars.count else { return nil }
                i += 1
            }
            let rest = String(decoding: chars[i...], as: UTF8.self).split(separator: " ")
            guard let first = rest.first, let value = Double(first) else { return nil }
            self.value = value
        }
    }
}
