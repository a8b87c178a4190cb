#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Watches one child on a loop and reaps it exactly once, whoever holds (or
/// dropped) its `Subprocess`: the operation table keeps the monitor until
/// the child has been reaped.
///
/// With io_uring's waitid operation (Linux 6.7, probed) the ring itself waits for and
/// reaps the child. Otherwise the ring polls the pidfd (readable once the
/// child exits) and the monitor reaps it with `waitid(WNOHANG)`. If the loop
/// shuts down first, the child is killed and reaped at once (blocking only
/// for a killed process to die).
///
/// `signal` may be called from any thread; everything else is loop-thread
/// only.
// Safe to share: `pidfd`, `reaped` and `reapedStatus` are guarded by `lock`
// (signals are sent from any thread); `waiters`, `nextWaiter` and `info` are
// touched only on the loop thread; the rest is immutable.
final class ProcessMonitor: CompletionHandler, @unchecked Sendable {
    let loop: EventLoop
    let pid: pid_t
    private let usesWaitid: Bool
    private let lock = Lock()
    private var pidfd: Int32
    private var reaped = false
    private var reapedStatus: Result<TerminationStatus, SubprocessError>?
    /// waitid's result buffer; the kernel may write it until the final CQE
    /// (freed in deinit, which runs after the operation table let go).
    private let info = UnsafeMutablePointer<WaitInfo>.allocate(capacity: 1)
    private var waiters: [Int: (Result<TerminationStatus, any Error>) -> Void] = [:]
    private var nextWaiter = 0

    init(loop: EventLoop, pid: pid_t, pidfd: Int32, usesWaitid: Bool) {
        self.loop = loop
        self.pid = pid
        self.pidfd = pidfd
        self.usesWaitid = usesWaitid
        info.initialize(to: WaitInfo())
    }

    deinit {
        info.deallocate()
        if pidfd >= 0 { _ = close(pidfd) }
    }

    /// Whether io_uring's waitid operation is available (probed once per process).
    static let kernelHasWaitid: Bool = {
        let info = UnsafeMutablePointer<WaitInfo>.allocate(capacity: 1)
        defer { info.deallocate() }
        return Ring.kernelSupports(.waitid(pid: 0, info: info))
    }()

    /// The status once reaped (any thread).
    var status: Result<TerminationStatus, SubprocessError>? { lock.withLock { reapedStatus } }

    /// Starts watching (loop thread).
    func start() {
        // Late work of a loop that has shut down runs elsewhere: reap now.
        guard loop.inEventLoop, loop.state == .running else {
            reapAfterKilling()
            return
        }
        arm()
    }

    private func arm() {
        let pid = pid
        let info = info
        let fd = lock.withLock { pidfd }
        let operation: IOOperation = usesWaitid
            ? .waitid(pid: pid, info: info)
            : .poll(fd: fd, events: UInt32(POLLIN), multishot: false)
        do {
            _ = try loop.submitOperation(operation, handler: self)
        } catch {
            reapAfterKilling()
        }
    }

    func completed(_ completion: Completion, context: UInt64) {
        switch completion.outcome {
        case .shutDown, .cancelled:
            reapAfterKilling()
        case .failure(.interrupted):
            arm()
        case let .failure(errno) where usesWaitid:
            finish(.failure(.statusUnavailable(pid: pid, errno)))
        case .success where usesWaitid:
            finish(.success(Self.status(from: info.pointee)))
        case .failure:
            // A poll on our own pidfd does not fail; if it does, don't spin
            // re-arming it: end the child rather than leave it unwatched.
            reapAfterKilling()
        case .success:
            // The pidfd is readable: the child exited.
            if !reapNow(blocking: false) { arm() }
        }
    }

    /// Reaps with waitid(2); returns false if the child has not exited and
    /// `blocking` is false.
    private func reapNow(blocking: Bool) -> Bool {
        var result = WaitInfo()
        let options = WEXITED | (blocking ? 0 : WNOHANG)
        var rc: Int32
        repeat { rc = waitid(P_PID, id_t(pid), &result, options) } while rc < 0 && errno == EINTR
        if rc < 0 {
            finish(.failure(.statusUnavailable(pid: pid, Errno(rawValue: errno))))
            return true
        }
        if result.childCode == 0 { return false }   // WNOHANG, still running
        finish(.success(Self.status(from: result)))
        return true
    }

    /// The loop is going away (or cannot watch the child): kill and reap it
    /// now, so no zombie outlives the loop. Blocks only while a killed
    /// process dies.
    func reapAfterKilling() {
        signal(SIGKILL)
        _ = reapNow(blocking: true)
    }

    private static func status(from info: WaitInfo) -> TerminationStatus {
        info.childCode == CLD_EXITED ? .exited(info.childStatus) : .signaled(Signal(rawValue: info.childStatus))
    }

    private func finish(_ outcome: Result<TerminationStatus, SubprocessError>) {
        lock.withLock {
            guard !reaped else { return }
            reaped = true
            reapedStatus = outcome
            if pidfd >= 0 { _ = close(pidfd) }
            pidfd = -1
        }
        let current = waiters
        waiters.removeAll()
        for (_, waiter) in current.sorted(by: { $0.key < $1.key }) { waiter(outcome.mapError { $0 }) }
    }

    /// Sends `signal` unless the child has been reaped (its pid may then
    /// belong to another process): through the pidfd when there is one.
    /// Returns false if the child is gone.
    @discardableResult
    func signal(_ signal: Int32) -> Bool {
        lock.withLock {
            guard !reaped else { return false }
            let rc = pidfd >= 0 ? ProcessCalls.pidfdSendSignal(pidfd, signal) : kill(pid, signal)
            return rc == 0
        }
    }

    /// Calls `body` once the child is reaped (at once if it is); returns a
    /// token for `removeWaiter`, or nil if `body` already ran. Loop thread.
    func whenReaped(_ body: @escaping (Result<TerminationStatus, any Error>) -> Void) -> Int? {
        loop.preconditionInEventLoop()
        if let status {
            body(status.mapError { $0 })
            return nil
        }
        nextWaiter += 1
        waiters[nextWaiter] = body
        return nextWaiter
    }

    /// Callers waiting for the exit (tests). Loop thread.
    var waiterCount: Int { waiters.count }

    func removeWaiter(_ token: Int) {
        waiters[token] = nil
    }
}
