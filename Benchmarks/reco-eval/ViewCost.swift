import ArgumentParser
import Foundation
import GRDB
import Recommendations

/// `metro-reco-eval view-cost`: what one `video.watched` costs the model as its
/// user's history grows, with the co-occurrence window and, in the same run,
/// without it (a window larger than any history pairs every video of the user,
/// which is the model before `PairWindow`).
///
/// Per history length H: a SQLite file in a temporary folder (the service's
/// settings: WAL, synchronous=FULL), H catalogued videos watched by one user,
/// then `--views` first views of new videos by that user, each in its own
/// transaction like the handler's (`ModelUpdate.apply`), timed one by one.
/// Reports µs per view (p50, p99) and rows changed per view.
struct ViewCost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "view-cost",
        abstract: "A view's cost by the length of its user's history, with and without the window.")

    @Option(help: "History lengths, comma-separated.") var histories = "10,100,1000,3000"
    @Option(help: "Views timed per row.") var views = 200

    func run() throws {
        let lengths = histories.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        print("| history | window | µs/view p50 | p99 | rows changed/view |")
        print("|---:|---|---:|---:|---:|")
        for h in lengths {
            for window in [ModelParameters.standard.pairWindow, Int(Int32.max)] {
                let row = try measure(history: h, window: window)
                let label = window == Int(Int32.max) ? "none (every pair)" : "\(window)"
                print("| \(h) | \(label) | \(fixed(row.p50, 0)) | \(fixed(row.p99, 0)) | \(fixed(row.rows, 1)) |")
            }
        }
    }

    func measure(history: Int, window: Int) throws -> (p50: Double, p99: Double, rows: Double) {
        var parameters = ModelParameters.standard
        parameters.pairWindow = window
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reco-view-cost-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let pool = try DatabasePool(
            path: folder.appendingPathComponent("model.sqlite").path, configuration: configuration)
        var migrator = DatabaseMigrator()
        ModelSchema.register(in: &migrator)
        try migrator.migrate(pool)
        let base: Int64 = 1_767_225_600_000
        func video(_ n: Int) -> ModelEvent {
            .video(
                CatalogueVideo(
                    videoId: "v\(n)", title: "v\(n)", tags: [], durationMs: 100_000, processedAtMs: 1, eventId: "p\(n)")
            )
        }
        func view(_ n: Int) -> ModelEvent {
            .view(
                View(
                    eventId: "w\(n)", userId: "heavy", videoId: "v\(n)", watchedAtMs: base + Int64(n) * 1000,
                    secondsWatched: 60))
        }
        try pool.write { db in
            for n in 0..<(history + views) { try ModelUpdate.apply(video(n), parameters: parameters, in: db) }
            for n in 0..<history { try ModelUpdate.apply(view(n), parameters: parameters, in: db) }
        }
        var micros: [Double] = []
        var rows = 0
        for n in history..<(history + views) {
            let start = ContinuousClock.now
            rows += try pool.write { db in
                let before = db.totalChangesCount
                try ModelUpdate.apply(view(n), parameters: parameters, in: db)
                return db.totalChangesCount - before
            }
            let d = ContinuousClock.now - start
            micros.append(Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12)
        }
        micros.sort()
        return (
            micros[micros.count / 2], micros[min(micros.count - 1, micros.count * 99 / 100)],
            Double(rows) / Double(views)
        )
    }
}
