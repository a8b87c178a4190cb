/// Where a `FileBuffer` sits in one loop's registered-buffer table.
// Safe to share: `slot` is written and read only on `loop`'s thread.
final class BufferRegistration: @unchecked Sendable {
    let loop: EventLoop
    var slot: UInt16?

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// The slot to name in a fixed read/write submitted on `other`, or nil
    /// when the buffer is not registered there (a plain read/write then).
    func index(on other: EventLoop) -> UInt16? {
        other === loop ? slot : nil
    }
}
