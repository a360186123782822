import ArgumentParser
import MetroRuntime
import Recommendations

/// `metro worker recommendations`: one instance of the recommendations service
/// (issue 15): rpc `recommendations.get|stats|seen`, and `video.processed`,
/// `video.watched`, `profile.created|updated` into its model (group
/// `recommendations`). Its database is `<data>/recommendations/recommendations.sqlite`.
///
/// `--rebuild` first feeds the four topics from the start of the journal into
/// the database (normally a fresh one), then serves as usual; the ready line
/// comes once the rebuild has caught up with the journal.
struct WorkerRecommendationsCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "recommendations", abstract: "Run the recommendations service (model of views and tags).")

    @OptionGroup var worker: WorkerOptions
    @OptionGroup var global: GlobalOptions

    @Flag(help: "Before serving, rebuild the model from the start of the journal (the consumed topics).")
    var rebuild = false

    func run(_ process: ProcessBootstrap) async throws {
        try await runWorker(
            RecommendationsService.definition(), options: worker, process: process,
            adjust: { $0.rebuildFromJournal = rebuild })
    }
}
