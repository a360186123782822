import Foundation

/// Writes a broker configuration for `metro up --config` with the broker's four
/// endpoints from `e` (ingest, publish, events, consume), the metrics endpoint
/// (`""`: none) and `more` YAML after them; returns its path. The tests that start
/// `metro up` on ports of their own share it.
func writeBrokerConfig(in folder: String, _ e: [String], metrics: String = "", more: String = "") throws -> String {
    let path = folder + "/broker.yaml"
    try """
    endpoints:
      ingest: \(e[0])
      publish: \(e[1])
      events: \(e[2])
      consume: \(e[3])
      metrics: "\(metrics)"
    \(more)
    """.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
