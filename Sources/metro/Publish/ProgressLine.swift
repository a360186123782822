import Foundation
import Synchronization

/// The live progress line of a `metro publish` stream on stderr: rewritten in
/// place (`\r`) on a terminal four times a second, one line a second otherwise
/// (a log or a test reads whole lines).
final class ProgressLine: Sendable {
    private let stats: PublishStats
    private let topic: String
    private let fireAndForget: Bool
    private let total: Int
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(stats: PublishStats, topic: String, fireAndForget: Bool, total: Int) {
        self.stats = stats
        self.topic = topic
        self.fireAndForget = fireAndForget
        self.total = total
    }

    func start() {
        let terminal = isatty(2) == 1
        task.withLock {
            $0 = Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: terminal ? .milliseconds(250) : .seconds(1))
                    if Task.isCancelled { break }
                    write(terminal: terminal, final: false)
                }
            }
        }
    }

    func stop() async {
        guard let running = task.withLock({ $0 }) else { return }
        running.cancel()
        await running.value
        if isatty(2) == 1 { write(terminal: true, final: true) }
    }

    private func write(terminal: Bool, final: Bool) {
        let s = stats.snapshot(topic: topic, fireAndForget: fireAndForget)
        var text = "\(topic): sent \(s.sent)/\(total)"
        if !fireAndForget { text += ", acked \(s.acked)" }
        text += ", errors \(s.errors), \(Int(s.ratePerSecond.rounded()))/s"
        if let p99 = s.p99Ms { text += ", p99 \(String(format: "%.2f", p99)) ms" }
        let line = terminal ? "\r\u{1B}[2K" + text + (final ? "\n" : "") : text + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
