/// What the load knows about the system it built: the users it signed up
/// (with their profile version, for edits) and the videos it uploaded, first
/// pending, then processed (views and recommendations pick among these, with
/// zipfian popularity: the oldest are the most popular).
actor LoadState {
    private var random: SoakRandom
    private var users: [(id: String, version: Int64)] = []
    private var userIndex: [String: Int] = [:]
    private var userPopularity = ZipfPicker()
    private var editing: Set<String> = []
    private var videos: [String] = []
    private var videoPopularity = ZipfPicker()
    private(set) var pending: [String] = []
    private var signUps = 0

    init(random: SoakRandom) { self.random = random }

    var userCount: Int { users.count }
    var processedCount: Int { videos.count }

    func nextSignUpNumber() -> Int {
        signUps += 1
        return signUps
    }

    func addUser(id: String, version: Int64) {
        guard userIndex[id] == nil else { return }
        userIndex[id] = users.count
        users.append((id, version))
        userPopularity.grow()
    }

    func pickUser() -> String? { userPopularity.pick(&random).map { users[$0].id } }

    func pickVideo() -> String? { videoPopularity.pick(&random).map { videos[$0] } }

    /// A user to edit that no other edit holds (edits of one user are serial:
    /// two at once would fail each other's version check); nil if none found.
    func beginEdit() -> (id: String, version: Int64)? {
        for _ in 0..<4 {
            guard let i = userPopularity.pick(&random) else { return nil }
            let user = users[i]
            if editing.insert(user.id).inserted { return user }
        }
        return nil
    }

    func endEdit(id: String, newVersion: Int64?) {
        editing.remove(id)
        if let newVersion, let i = userIndex[id] { users[i].version = newVersion }
    }

    func uploaded(_ videoId: String) { pending.append(videoId) }

    /// Moves pending videos to the processed list (or drops failed ones).
    func settled(processed: [String], failed: [String]) {
        let done = Set(processed + failed)
        pending.removeAll { done.contains($0) }
        for id in processed {
            videos.append(id)
            videoPopularity.grow()
        }
    }

    func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) } }
    func unit() -> Double { random.unit() }
}
