package import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The service manager's side of `sd_notify(3)`, as systemd has it for a
/// `Type=notify` unit: a unix datagram socket bound at `path`, whose messages
/// (`READY=1\nSTATUS=…`) a reader thread collects in order. Give a process
/// `NOTIFY_SOCKET=<path>` to have it talk to this one. Shut down when released;
/// its thread then closes it.
package final class NotifySocket: Sendable {
    package let path: String
    /// Every datagram received so far, as text.
    package let messages = Watched([String]())
    private let descriptor: Int32

    /// Binds `<folder>/notify`.
    package init(in folder: String) throws {
        path = folder + "/notify"
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw POSIXError(.ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        descriptor = fd
        let messages = self.messages
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    let text = String(decoding: buffer[0..<n], as: UTF8.self)
                    messages.update { $0.append(text) }
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    close(fd)  // shut down by deinit; closed here, so never reused under a recv
                    return
                }
            }
        }
        thread.name = "test-notify"
        thread.start()
    }

    /// The messages that hold `assignment` (`READY=1`) as one of their lines.
    package func received(_ assignment: String) -> [String] {
        messages.value.filter { $0.split(separator: "\n").contains { $0 == assignment } }
    }

    /// Waits until some message holds `assignment`; false after `timeout`.
    package func wait(for assignment: String, timeout: Duration = .seconds(30)) async -> Bool {
        await messages.wait(timeout: timeout) { all in
            all.contains { $0.split(separator: "\n").contains { $0 == assignment } }
        }
    }

    deinit { shutdown(descriptor, Int32(SHUT_RDWR)) }
}
