import Foundation
import MetroProtocol

/// One frame of `metro top` as lines of text: a header, the broker (memory,
/// journal, rates), events by topic prefix, consumer groups, and the registry's
/// services. Columns are aligned; `colour` adds ANSI colours (only on a
/// terminal); every line is cut to `width` columns.
struct TopScreen {
    let brokerEndpoint: String
    let registryEndpoints: [String]
    var gatewayAddress: String? = nil
    /// The data folder was given with `--data-dir` (say when it holds no status).
    var dataFolderGiven = false
    let colour: Bool
    let width: Int

    func render(_ report: TopReport, interval: Double) -> [String] {
        var lines: [String] = []
        let clock = TailPrinter.isoTime(report.sample.wallNs)
        lines.append(
            paint("metro top", "1") + "  broker \(brokerEndpoint)  registry "
                + registryEndpoints.joined(separator: ",") + "  every \(String(format: "%.1f", interval))s  \(clock)")
        lines.append("")
        if let processes = report.sample.processes {
            lines += self.processes(
                processes, explicit: dataFolderGiven,
                now: Date(timeIntervalSince1970: Double(report.sample.wallNs) / 1e9))
        }
        switch report.sample.broker {
        case .success(let s):
            lines.append(
                paint("BROKER", "1") + "  up  head seq \(s.headSeq)  rss \(Self.bytes(s.rssBytes))  journal "
                    + "\(Self.bytes(s.journalSizeBytes)) in \(s.segments) segment\(s.segments == 1 ? "" : "s")  "
                    + "in \(Self.rate(report.inRate))/s  out \(Self.rate(report.outRate))/s")
            lines.append("")
            lines += table(
                header: ["TOPIC", "IN/S", "OUT/S", "IN", "OUT"], right: [false, true, true, true, true],
                rows: report.topics.map {
                    [$0.prefix, Self.rate($0.inRate), Self.rate($0.outRate), String($0.inTotal), String($0.outTotal)]
                }, empty: "no events since the broker started")
            lines.append("")
            lines += table(
                header: ["GROUP", "MEMBERS", "LAG", "PENDING", "REDELIVERED", "DEAD", "POSITION"],
                right: [false, true, true, true, true, true, true],
                rows: report.groups.map {
                    let g = $0.stats
                    return [
                        $0.name, String(g.members), String(g.lag), String(g.pending), String(g.redelivered),
                        g.deadLettered > 0 ? paint(String(g.deadLettered), "31") : "0", String(g.position),
                    ]
                }, empty: "no consumer groups")
            for group in report.groups {
                guard let stall = group.stats.stalled else { continue }
                lines.append(paint("GROUP \(group.name) STOPPED: \(stall.explanation(group: group.name))", "1;31"))
            }
        case .failure(let f):
            lines.append(paint("BROKER", "1") + "  " + paint("not answering, retrying: \(f.description)", "1;31"))
        }
        lines.append("")
        if let result = report.sample.gateway {
            lines += gateway(result, report.gateway)
            lines.append("")
        }
        switch report.sample.registry {
        case .success:
            var rows: [[String]] = []
            for service in report.services {
                for (i, instance) in service.instances.enumerated() {
                    rows.append([
                        i == 0 ? service.name : "", instance.instance, instance.endpoints.joined(separator: ","),
                        Self.age(instance.ageMilliseconds), Self.age(instance.sinceHeartbeatMilliseconds),
                        Self.age(instance.leaseLeftMilliseconds),
                    ])
                }
            }
            lines += table(
                header: ["SERVICE", "INSTANCE", "ENDPOINT", "AGE", "HEARTBEAT", "LEASE LEFT"],
                right: [false, false, false, true, true, true], rows: rows, empty: "no registered services")
        case .failure(let f):
            lines.append(paint("REGISTRY", "1") + "  " + paint("not answering, retrying: \(f.description)", "1;31"))
        }
        lines.append("")
        lines.append(paint("q quit", "2"))
        return lines.map(cut)
    }

    /// The gateway's line (rates over the interval) and its upstreams' limits.
    private func gateway(_ result: Result<GatewayFigures, TopFailure>, _ rates: TopReport.GatewayRates?) -> [String] {
        let address = gatewayAddress ?? "?"
        guard case .success(let g) = result else {
            if case .failure(let f) = result {
                return [paint("GATEWAY", "1") + "  " + paint("http://\(address): \(f.description)", "1;31")]
            }
            return []
        }
        var line = paint("GATEWAY", "1") + "  up  http://\(address)  requests \(Int(g.requests))"
        if let r = rates {
            let p99 = r.p99.map { $0.isFinite ? "p99 ≤ \(Self.seconds($0))" : "p99 > the last bucket" } ?? "p99 -"
            line += "  req/s \(Self.rate(r.requests))  \(p99)  4xx/s \(Self.rate(r.status4xx))"
            line += "  429/s " + (r.tooMany > 0 ? paint(Self.rate(r.tooMany), "33") : Self.rate(r.tooMany))
            line += "  5xx/s " + (r.status5xx > 0 ? paint(Self.rate(r.status5xx), "31") : Self.rate(r.status5xx))
        } else {
            line += "  req/s -"
        }
        let shed = g.shedByReason.sorted { $0.key < $1.key }.filter { $0.value > 0 }
        return [line, ""]
            + table(
                header: ["UPSTREAM", "LIMIT", "IN FLIGHT"], right: [false, true, true],
                rows: g.upstreams.sorted { $0.key < $1.key }.map {
                    [$0.key, String(Int($0.value.limit)), String(Int($0.value.inFlight))]
                },
                empty: "no upstream called yet")
            + (shed.isEmpty
                ? [] : ["shed since start: " + shed.map { "\($0.key) \(Int($0.value))" }.joined(separator: ", ")])
    }

    /// Seconds as `850µs`, `12ms`, `1.5s`.
    static func seconds(_ s: Double) -> String {
        if s < 0.001 { return "\(Int((s * 1e6).rounded()))µs" }
        if s < 1 { return String(format: "%g", (s * 1e3 * 10).rounded() / 10) + "ms" }
        return String(format: "%g", (s * 10).rounded() / 10) + "s"
    }

    /// A header row (bold on a terminal) and aligned rows; `right` columns are right-aligned.
    func table(header: [String], right: [Bool], rows: [[String]], empty: String) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { visible($0[c]) }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - visible(cell))
                return right[c] ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }
        var out = [paint(line(header), "1;7")]
        out += rows.isEmpty ? [paint("  " + empty, "2")] : rows.map(line)
        return out
    }

    func paint(_ s: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }

    /// Characters a person sees: the text without its colour codes.
    private func visible(_ s: String) -> Int {
        var n = 0
        var escaping = false
        for ch in s {
            if escaping {
                if ch == "m" { escaping = false }
            } else if ch == "\u{1B}" {
                escaping = true
            } else {
                n += 1
            }
        }
        return n
    }

    /// The line cut to `width` visible columns (colour codes kept whole, reset at the cut).
    private func cut(_ s: String) -> String {
        guard visible(s) > width else { return s }
        var out = ""
        var n = 0
        var escaping = false
        for ch in s {
            if escaping {
                out.append(ch)
                if ch == "m" { escaping = false }
            } else if ch == "\u{1B}" {
                escaping = true
                out.append(ch)
            } else if n < width {
                out.append(ch)
                n += 1
            }
        }
        return colour ? out + "\u{1B}[0m" : out
    }

    static func rate(_ r: Double?) -> String {
        guard let r else { return "-" }
        return String(format: "%.1f", r)
    }

    static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    /// Milliseconds as `850ms`, `12.3s`, `4m05s`, `2h03m`.
    static func age(_ ms: UInt64) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
        let s = ms / 1000
        if s < 3600 { return "\(s / 60)m" + String(format: "%02d", Int32(s % 60)) + "s" }
        return "\(s / 3600)h" + String(format: "%02d", Int32((s / 60) % 60)) + "m"
    }
}
