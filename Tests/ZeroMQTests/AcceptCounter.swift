import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A plain TCP listener on loopback that accepts every connection, closes it at
/// once, and counts it: a peer that makes a ZeroMQ socket reconnect as fast as
/// its reconnect interval allows, with a count to wait on instead of a fixed
/// sleep (each attempt is at least a `connected` and a `connect-retried` event).
final class AcceptCounter: Sendable {
    let endpoint: String
    private let fd: Int32
    private let accepted = Atomic<Int>(0)

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 128) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        self.fd = fd
        endpoint = "tcp://127.0.0.1:\(UInt16(bigEndian: addr.sin_port))"
        // The thread holds the counter until `stop()` ends it; then `deinit` closes the fd.
        Thread { [self] in
            while true {
                let c = accept(self.fd, nil, nil)
                if c >= 0 {
                    close(c)
                    accepted.add(1, ordering: .relaxed)
                } else if errno != EINTR && errno != ECONNABORTED {
                    return  // `stop()` shut the listener down
                }
            }
        }.start()
    }

    var count: Int { accepted.load(ordering: .relaxed) }

    /// Ends the accept loop (shutdown wakes a blocked `accept`); the fd closes in `deinit`.
    func stop() { shutdown(fd, Int32(SHUT_RDWR)) }

    deinit { close(fd) }
}
