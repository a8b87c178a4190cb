import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// How another thread wakes a sleeping loop: an eventfd whose read stays armed
/// on the loop's backend, so a write to it ends the loop's wait.
///
/// The sleeping handshake keeps a busy loop from being woken needlessly: the
/// loop says it will sleep (`willSleep`) and that it woke (`didWake`), and a
/// thread handing it work writes the eventfd only in between, once
/// (`wakeIfSleeping`). Those three run under the loop's lock; everything else
/// on the loop thread.
final class LoopWakeup {
    private let fd: Int32
    /// The armed read's target; owned here, freed in deinit (after the read's
    /// final completion has been reaped).
    private let buffer: UnsafeMutablePointer<UInt64>
    /// Whether a read is in flight (loop thread).
    private(set) var isArmed = false
    // Guarded by the loop's lock.
    private var sleeping = false
    private var sent = false

    /// - Throws: `RingLoopError.wakeupUnavailable` when no eventfd can be made.
    init() throws(RingLoopError) {
        let fd = makeEventFD()
        guard fd >= 0 else { throw .wakeupUnavailable(errno: Errno(rawValue: errno)) }
        self.fd = fd
        buffer = .allocate(capacity: 1)
        buffer.initialize(to: 0)
    }

    deinit {
        buffer.deallocate()
    }

    /// Arms the read (loop thread).
    func arm(on backend: LoopBackend) {
        isArmed = true
        backend.armWakeup(fd: fd, buffer: buffer)
    }

    /// The read completed; re-arms it on `backend` unless that is nil (the
    /// loop has closed).
    func completed(rearmOn backend: LoopBackend?) {
        isArmed = false
        if let backend { arm(on: backend) }
    }

    /// Under the loop's lock: the loop is about to wait.
    func willSleep() {
        sleeping = true
        sent = false
    }

    /// Under the loop's lock: the loop's wait is over.
    func didWake() {
        sleeping = false
    }

    /// Under the loop's lock: wakes the loop if it sleeps and nobody has yet.
    func wakeIfSleeping() {
        guard sleeping && !sent else { return }
        sent = true
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// Closes the eventfd, once the read has been reaped and no thread can
    /// write any more (the loop has stopped accepting work under its lock).
    func close() {
        _ = Glibc.close(fd)
    }
}
