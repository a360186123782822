import Foundation

/// How `metro dlq` prints: an aligned table, one dead letter in full, or JSON.
enum DlqText {
    static func json(_ object: [String: Any]) -> String {
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data ?? Data(), as: UTF8.self)
    }

    /// One row per dead letter under a header; with resolutions, a STATUS column.
    static func table(_ letters: [DeadLetter], resolutions: [UInt64: DlqResolution]) -> String {
        guard !letters.isEmpty else { return "no dead letters\n" }
        var rows = [["SEQ", "GROUP", "REASON", "DELIVERIES", "TOPIC", "ORIG SEQ", "TIME", "STATUS", "DETAIL"]]
        for d in letters {
            let status = resolutions[d.seq].map { $0.action.rawValue } ?? "open"
            rows.append([
                String(d.seq), d.group, d.reason, String(d.deliveries), d.topic, String(d.originalSeq),
                TailPrinter.isoTime(d.time), status, d.detail ?? "",
            ])
        }
        return Columns.render(rows)
    }

    static func detail(_ d: DeadLetter, resolution: DlqResolution?, colour: Bool) -> String {
        var lines = [
            "dead letter #\(d.seq)  \(TailPrinter.isoTime(d.time))",
            "  group        \(d.group)",
            "  reason       \(d.reason)\(d.detail.map { ": \($0)" } ?? "")",
            "  deliveries   \(d.deliveries)",
            "  original     \(d.topic) seq \(d.originalSeq) id \(d.originalIDText.isEmpty ? "-" : d.originalIDText)",
            "  headers      \(json(d.headers))",
        ]
        if let r = resolution {
            var line = "  resolution   \(r.action.rawValue) by \(r.by) at \(TailPrinter.isoTime(r.time))"
            if let id = r.republishedID { line += " as id \(id)" }
            if let seq = r.republishedSeq { line += " seq \(seq)" }
            lines.append(line)
        } else {
            lines.append(
                "  resolution   open (republish: metro dlq republish \(d.seq); drop: metro dlq purge \(d.seq))")
        }
        lines.append("  payload")
        let printer = TailPrinter(json: false, colour: colour)
        if let value = try? JSONValue.parse(d.payload) {
            lines.append(printer.render(value, indent: "    "))
        } else {
            lines.append("    " + PayloadText.oneLine(d.payload))
        }
        return lines.joined(separator: "\n")
    }
}

/// Left-aligned text columns, two spaces apart, the first row a header.
enum Columns {
    static func render(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces) + "\n"
        }.joined()
    }
}
