/// What the load knows about the system it built: the users it signed up
/// (with their profile version, for edits) and the videos it uploaded, first
/// pending, then processed (views and recommendations pick among these, with
/// zipfian popularity: the oldest are the most popular).
///
/// Videos are zipfian with s = 1.1, the long tail of real catalogues. Users are
/// zipfian too, but milder (s = `userActivityExponent`): with s = 1.1 the first
/// of ~3,400 users made 16% of all views (about 6,400 distinct-ish videos in 10
/// minutes, 10 a second), and since the recommendations model pairs each view
/// with everything its user watched before (`ModelUpdate`), that one user's
/// views cost thousands of row upserts each: the worker fell behind on a load
/// no real audience makes. With s = 0.6 the most active user makes 1.6%.
actor LoadState {
    private var random: SoakRandom
    private var users: [(id: String, version: Int64)] = []
    private var userIndex: [String: Int] = [:]
    private var userPopularity = ZipfPicker(exponent: LoadState.userActivityExponent)
    private var editing: Set<String> = []
    private var videos: [String] = []
    private var videoPopularity = ZipfPicker()
    private(set) var pending: [String] = []
    private var signUps = 0

    /// How skewed user activity is (views, recommendations, edits per user).
    static let userActivityExponent = 0.6

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
