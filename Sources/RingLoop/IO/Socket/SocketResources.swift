#if canImport(Glibc)
import Glibc
#endif

/// Per-loop socket state: the provided-buffer ring every connection of the
/// loop receives into (created on first use), and what the kernel turned out
/// to support.
final class SocketResources: LoopAttachment {
    /// Buffers in the loop's ring, and their size. 1024 × 16 KiB: 16 MiB of
    /// address space, resident only once touched.
    static let bufferCount = 1024
    static let bufferSize = 16 * 1024

    private var buffers: ProvidedBuffers?
    private var failure: IOError?
    /// Cleared if the kernel rejects multishot receive (`-EINVAL`); receives
    /// are then re-armed one at a time.
    var multishotReceive = true

    /// The loop's socket state; nil once the loop is closing.
    static func on(_ loop: EventLoop) -> SocketResources? {
        loop.attachment(SocketResources.self) { _ in SocketResources() }
    }

    /// The loop's buffer ring, registered on first use.
    func bufferRing(on loop: EventLoop) throws(IOError) -> ProvidedBuffers {
        if let buffers { return buffers }
        if let failure { throw failure }
        do throws(BackendCallFailure) {
            let made = try loop.makeBufferRing(count: SocketResources.bufferCount, size: SocketResources.bufferSize)
            buffers = made
            return made
        } catch {
            let failure = IOError(error.call, error.errno)
            self.failure = failure
            throw failure
        }
    }

    /// Buffers currently lent to user space (tests).
    var lentBuffers: Int { buffers?.lent ?? 0 }

    func loopWillClose(_ loop: EventLoop) {
        if let buffers { loop.releaseBufferRing(buffers) }
        buffers = nil
    }
}
