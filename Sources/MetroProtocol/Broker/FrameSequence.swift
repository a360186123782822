/// Read access to the frames of one received multipart message, so the same
/// validation code serves the broker (frames held by libzmq, read in place) and
/// clients and tests (frames as `[[UInt8]]`).
package protocol FrameSequence {
    var frameCount: Int { get }
    func withFrame<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R
}

extension Array: FrameSequence where Element == [UInt8] {
    package var frameCount: Int { count }
    package func withFrame<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        self[index].withUnsafeBytes(body)
    }
}

extension FrameSequence {
    @inlinable
    func frameEquals(_ index: Int, _ expected: [UInt8]) -> Bool {
        withFrame(index) { raw in
            guard raw.count == expected.count else { return false }
            // An index loop: the generic `elementsEqual` was a visible cost per event.
            return expected.withUnsafeBytes { want in
                for i in 0..<want.count where raw[i] != want[i] { return false }
                return true
            }
        }
    }

    func frameBytes(_ index: Int) -> [UInt8] { withFrame(index) { [UInt8]($0) } }
}
