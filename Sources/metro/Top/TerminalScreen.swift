import Foundation
import Synchronization
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// The terminal while `metro top` runs, as htop leaves it: the alternate screen
/// (what was on the terminal comes back at exit), the cursor hidden, and stdin
/// in non-canonical mode without echo so that one `q` quits. `restore()` undoes
/// all three; `TopCommand` calls it on every way out (q, SIGINT, SIGTERM, an
/// error). Keys are read by a thread of its own that polls stdin, so the
/// cooperative pool never blocks on a read.
final class TerminalScreen: Sendable {
    private let saved: Mutex<termios?>
    private let stopping = Atomic<Bool>(false)
    private let reader: Mutex<DedicatedThread?> = Mutex(nil)

    /// Enters the alternate screen and raw-ish input (only what is a terminal).
    init() {
        var original = termios()
        if isatty(0) == 1, tcgetattr(0, &original) == 0 {
            var raw = original
            raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
            withUnsafeMutableBytes(of: &raw.c_cc) { cc in
                cc[Int(VMIN)] = 1
                cc[Int(VTIME)] = 0
            }
            tcsetattr(0, TCSANOW, &raw)
            saved = Mutex(original)
        } else {
            saved = Mutex(nil)
        }
        Self.write("\u{1B}[?1049h\u{1B}[?25l\u{1B}[H\u{1B}[2J")
    }

    /// Draws a frame over the previous one: home, each line cleared to its end,
    /// then the rest of the screen cleared (no flicker from a full clear).
    func draw(_ lines: [String]) {
        Self.write("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\u{1B}[J")
    }

    /// A stream of the bytes typed, until `restore()`.
    func keys() -> AsyncStream<UInt8> {
        let (stream, continuation) = AsyncStream<UInt8>.makeStream()
        let thread = DedicatedThread(name: "metro-top-keys") { [self] in
            var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            var byte: UInt8 = 0
            while !stopping.load(ordering: .acquiring) {
                guard poll(&fds, 1, 100) > 0 else { continue }
                guard read(0, &byte, 1) == 1 else { break }  // end of input: no more keys
                continuation.yield(byte)
            }
            continuation.finish()
        }
        reader.withLock { $0 = thread }
        thread.start()
        return stream
    }

    /// Leaves the terminal as it was: cursor shown, main screen back, input mode restored.
    func restore() async {
        stopping.store(true, ordering: .releasing)
        if let thread = reader.withLock({ $0 }) { await thread.join() }
        Self.write("\u{1B}[?25h\u{1B}[?1049l")
        if var original = saved.withLock({ $0 }) { tcsetattr(0, TCSANOW, &original) }
    }

    /// The terminal's width in columns (80 when unknown).
    static var columns: Int {
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    private static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
