public import Foundation

/// What a soak run did and saw, as a Jepsen-style history: every operation the
/// load driver sent with what came back, every fault the chaos injected with
/// the time until the system was whole again, and the processes' samples.
///
/// The driver (`SoakDriver`) records it; the checker (`SoakChecker`) reads it
/// against the journal and the services; the report (`SoakReport.build`) sums
/// it up. It is also written as `history.json` next to the report, so a
/// verdict can be checked by hand. Times are nanoseconds since the run's start
/// on the monotonic clock (`startNs` 0 = `SoakHistory.startedAt`).
public struct SoakHistory: Codable, Sendable {
    /// Wall-clock time of `startNs` 0.
    public var startedAt: Date
    /// The broker's last seq when the run started: the checker replays from here.
    public var startSeq: UInt64
    public var operations: [SoakOperation]
    public var faults: [SoakFault]
    public var samples: [ProcessSample]

    public init(
        startedAt: Date, startSeq: UInt64, operations: [SoakOperation] = [], faults: [SoakFault] = [],
        samples: [ProcessSample] = []
    ) {
        self.startedAt = startedAt
        self.startSeq = startSeq
        self.operations = operations
        self.faults = faults
        self.samples = samples
    }
}

/// One operation of the load mix and its outcome.
public struct SoakOperation: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// `profile.create` (rpc or `POST /v1/users`).
        case signUp
        /// `profile.update` (rpc or `PATCH /v1/users/{id}`).
        case profileEdit
        /// `video.upload` (synthetic bytes, or a real clip with `--real-media`).
        case upload
        /// `video.watched`, published acknowledged.
        case view
        /// `recommendations.get` (through the gateway when present, else rpc).
        case recommend
    }

    public enum Outcome: String, Codable, Sendable {
        /// Acknowledged: the rpc answered, the HTTP status was 2xx, the publish was ACKed.
        case ok
        /// A clear error came back (an rpc ERROR, an HTTP 4xx/5xx, a publish ERROR).
        case failed
        /// No answer within the operation's deadline: indeterminate (it may have happened).
        case timedOut
    }

    public var kind: Kind
    public var startNs: UInt64
    public var endNs: UInt64
    public var outcome: Outcome
    /// The error's text (code and message) when `outcome` is not `ok`.
    public var error: String?
    /// The user it acted on (the created user's id for `signUp`, once known).
    public var userId: String?
    /// The video it acted on (the new video's id for `upload`, once known).
    public var videoId: String?
    /// The event id of what was published for it (`view`: the `video.watched` event).
    public var eventId: String?
    /// The seq the broker's ACK gave (acknowledged publishes only).
    public var seq: UInt64?
    /// The deadline it was sent with, in ms (rpc and HTTP requests).
    public var deadlineMs: UInt32?
    /// How it travelled: "rpc", "http" or "broker".
    public var via: String

    public init(
        kind: Kind, startNs: UInt64, endNs: UInt64, outcome: Outcome, error: String? = nil, userId: String? = nil,
        videoId: String? = nil, eventId: String? = nil, seq: UInt64? = nil, deadlineMs: UInt32? = nil, via: String
    ) {
        self.kind = kind
        self.startNs = startNs
        self.endNs = endNs
        self.outcome = outcome
        self.error = error
        self.userId = userId
        self.videoId = videoId
        self.eventId = eventId
        self.seq = seq
        self.deadlineMs = deadlineMs
        self.via = via
    }
}

/// One injected fault and how long the system took to be whole again.
public struct SoakFault: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// kill -9, then the supervisor's restart.
        case kill
        /// SIGSTOP, then SIGCONT after a few seconds.
        case pause
        /// The broker's journal writes fail with ENOSPC for a while.
        case diskFull
    }

    public var kind: Kind
    /// The instance it hit: "broker", "registry", "gateway", "profiles-1", "video-2", ...
    public var target: String
    /// When it was injected.
    public var startNs: UInt64
    /// When the fault itself ended (SIGCONT sent, space returned; = `startNs` for a kill).
    public var endNs: UInt64
    /// When the system was whole again (every instance registered, the broker ACKing
    /// a probe publish, the gateway ready); nil if it never was before the run ended.
    public var wholeAgainNs: UInt64?
    /// What happened, for a person: "pid 4242 killed; restarted as pid 4301".
    public var detail: String

    public init(kind: Kind, target: String, startNs: UInt64, endNs: UInt64, wholeAgainNs: UInt64?, detail: String) {
        self.kind = kind
        self.target = target
        self.startNs = startNs
        self.endNs = endNs
        self.wholeAgainNs = wholeAgainNs
        self.detail = detail
    }

    /// Seconds from the injection until the system was whole again.
    public var recoverySeconds: Double? {
        wholeAgainNs.map { Double($0 &- startNs) / 1e9 }
    }
}

/// One sample of one long-lived process (from /proc/<pid>/stat and status).
public struct ProcessSample: Codable, Sendable, Equatable {
    /// The instance name ("broker", "video-1", ...); a restarted process keeps its name.
    public var name: String
    public var pid: Int32
    public var tNs: UInt64
    /// Resident set size (VmRSS).
    public var rssBytes: UInt64
    /// User + system CPU time the process has used since it started.
    public var cpuSeconds: Double

    public init(name: String, pid: Int32, tNs: UInt64, rssBytes: UInt64, cpuSeconds: Double) {
        self.name = name
        self.pid = pid
        self.tNs = tNs
        self.rssBytes = rssBytes
        self.cpuSeconds = cpuSeconds
    }
}
