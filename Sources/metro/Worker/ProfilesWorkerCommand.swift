import ArgumentParser
import Profiles

/// `metro worker profiles`: one instance of the profiles service (issue 14 §3):
/// rpc `profile.create|get|update|history`, `video.watched` into the watch
/// history (group `profiles`), `profile.created|updated` through the outbox.
/// Its database is `<data>/profiles/profiles.sqlite`; instances on one host may
/// share it.
struct WorkerProfilesCommand: MetroCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles", abstract: "Run the profiles service (users, watch history).")

    @OptionGroup var worker: WorkerOptions
    @OptionGroup var global: GlobalOptions

    func run(_ process: ProcessBootstrap) async throws {
        try await runWorker(ProfilesService.definition(), options: worker, process: process)
    }
}
