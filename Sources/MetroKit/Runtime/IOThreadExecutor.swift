/// A `TaskExecutor` that runs its jobs on an `IOThread`, between the loop's turns:
/// the job goes through the thread's command queue like any command, so a job
/// enqueued by the thread itself (a task it just created, the usual case) costs no
/// wake-up, and one enqueued from elsewhere (a task resuming after an `await`) wakes
/// the thread like a command does.
///
/// For `RpcServer.Options.handlersOnIOThread`: a handler that runs here starts and
/// answers without leaving the thread that owns the socket — no cooperative-pool
/// thread is woken to start it and no wake-up brings its answer back. The price: the
/// thread runs nothing else while a job runs, so only short, non-blocking work
/// belongs here.
///
/// Threading: `enqueue` from any thread; `wrap` runs on the I/O thread only.
final class IOThreadExecutor: TaskExecutor {
    /// Queues a job as a command of the owning thread; false once the thread stopped.
    private let post: @Sendable (UnownedJob) -> Bool

    init(post: @escaping @Sendable (UnownedJob) -> Bool) { self.post = post }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        // The thread has stopped: the job goes to the global executor, so its task
        // ends (its answer finds the thread gone and is dropped) instead of never resuming.
        if !post(unowned) { globalConcurrentExecutor.enqueue(ExecutorJob(unowned)) }
    }

    /// I/O thread: runs one job that `post` delivered.
    func run(_ job: UnownedJob) { job.runSynchronously(on: asUnownedTaskExecutor()) }
}
