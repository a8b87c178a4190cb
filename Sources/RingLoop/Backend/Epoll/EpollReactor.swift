import CEpoll
import DequeModule
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The epoll backend's engine: emulates io_uring's completion model over
/// readiness, so the layers above see the same operations and completions.
///
/// - An operation is submitted with a `userData` (as an SQE is) and tried
///   during the next `wait`, never inside `submit`, so a completion handler
///   never runs re-entrantly in its submitter.
/// - Socket and stream operations try the syscall first; on `EAGAIN` they
///   queue on their fd (one FIFO per direction, so order is kept) and are
///   retried on its next readiness edge.
/// - Calls that can block (files, paths) run on a `BlockingCallPool`, whose
///   results come back through the wakeup eventfd.
/// - Cancelling an operation that has not completed posts a final
///   `-ECANCELED` completion (a blocking call already running cannot be
///   withdrawn: its own result is its final completion, as on the ring).
///
/// **Edge-triggered.** Each fd is registered once per waiting episode for
/// in, out and hang-up, with `EPOLLET`. Every attempt runs until the syscall
/// says `EAGAIN` (or the operation completes), which is exactly what edge
/// triggering needs, and an fd that stays readable does not wake the loop
/// again while nobody wants its data: a consumer that stops reading (a full
/// read-ahead, the listener's full queue) costs nothing, and no
/// `EPOLL_CTL_MOD` is needed to silence it. Level-triggered mode would need
/// an interest change every time an operation starts or ends.
///
/// Registrations outlive the operations (the kernel drops them when the fd
/// closes); an fd gets an `EPOLL_CTL_MOD` (or `ADD`) when an operation starts
/// waiting on it with no other waiter, which also covers a closed fd whose
/// number was reused.
///
/// Loop thread only, except `wakeup()` and the pool's posting.
final class EpollReactor {
    private static let wakeupToken = UInt64.max
    /// Completions a multishot operation posts per edge before the others get
    /// their turn (it is retried on the next `wait` without sleeping).
    private static let multishotBudget = 32
    private static let interest = cepoll_IN | cepoll_OUT | cepoll_RDHUP | cepoll_ET

    let epollFD: Int32
    private let wakeupFD: Int32
    /// Every operation submitted and not finished, blocking ones included.
    private var pending: [UInt64: PendingOperation] = [:]
    /// Submitted since the last `wait`, not tried yet.
    private var fresh: [PendingOperation] = []
    private var waiters: [Int32: FDWaiters] = [:]
    /// Fds whose multishot operation ran out of budget: retried next `wait`.
    private var hot: Set<Int32> = []
    private var completed: [ReactorCompletion] = []
    private let posted: PostedCompletions
    private let pool: BlockingCallPool
    private let events: UnsafeMutablePointer<cepoll_event>
    private static let eventCapacity = 256
    private var isClosed = false

    /// Creates the epoll fd and the wakeup eventfd; `blockingThreads` bounds
    /// the worker threads started for file operations.
    init(blockingThreads: Int = 4, name: String = "ringloop-io", workerCPUs: [Int]? = nil) throws(BackendCallFailure) {
        let epollFD = cepoll_create()
        guard epollFD >= 0 else { throw BackendCallFailure(call: "epoll_create1", errno: Errno(rawValue: cepoll_errno())) }
        let wakeupFD = cepoll_eventfd()
        guard wakeupFD >= 0 else {
            let code = cepoll_errno()
            Glibc.close(epollFD)
            throw BackendCallFailure(call: "eventfd", errno: Errno(rawValue: code))
        }
        // Level-triggered: the counter is drained on each wakeup anyway.
        guard cepoll_ctl(epollFD, cepoll_CTL_ADD, wakeupFD, cepoll_IN, EpollReactor.wakeupToken) == 0 else {
            let code = cepoll_errno()
            Glibc.close(wakeupFD)
            Glibc.close(epollFD)
            throw BackendCallFailure(call: "epoll_ctl", errno: Errno(rawValue: code))
        }
        self.epollFD = epollFD
        self.wakeupFD = wakeupFD
        let posted = PostedCompletions(wakeupFD: wakeupFD)
        self.posted = posted
        self.pool = BlockingCallPool(threads: blockingThreads, name: name, cpus: workerCPUs) { userData, result in
            posted.post(ReactorCompletion(userData: userData, result: result, hasMore: false, bufferID: nil))
        }
        self.events = .allocate(capacity: EpollReactor.eventCapacity)
    }

    deinit {
        close()
        events.deallocate()
    }

    /// Stops the workers and closes the descriptors. The caller has reaped
    /// every operation first.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        pool.shutdown()
        Glibc.close(wakeupFD)
        Glibc.close(epollFD)
    }

    /// Operations submitted and not finished.
    var live: Int { pending.count }

    /// Worker threads started for blocking calls (tests).
    var blockingThreadCount: Int { pool.threadCount }

    /// Wakes a `wait` in progress (or the next one). Any thread.
    func wakeup() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeupFD, &one, 8)
    }

    // MARK: Submitting and cancelling

    /// Accepts an operation; it is tried at the next `wait`.
    func submit(userData: UInt64, _ operation: ReactorOperation) {
        let op = PendingOperation(userData: userData, operation: operation)
        pending[userData] = op
        fresh.append(op)
    }

    /// Cancels an operation not yet completed: it gets a final `-ECANCELED`
    /// completion. Returns false if it already finished or is a blocking call
    /// already running (its result will be its final completion).
    @discardableResult
    func cancel(userData: UInt64) -> Bool {
        guard let op = pending[userData], !op.finished else { return false }
        switch op.operation {
        case .blocking, .close:
            // Started: queued on (or running on) a worker.
            if op.started {
                guard pool.withdraw(userData: userData) else { return false }
            }
        default:
            break
        }
        if let fd = op.operation.readinessFD, let state = waiters[fd] {
            state.remove(op)
            if state.isEmpty { waiters[fd] = nil }
        }
        finish(op, -ECANCELED)
        return true
    }

    /// Cancels every operation on `fd` (before closing it) and forgets its
    /// registration, so a later fd with the same number starts clean.
    func cancelAll(fd: Int32) {
        cancelReadiness(fd: fd)
        for userData in pool.withdrawAll(fd: fd) {
            if let op = pending[userData] { finish(op, -ECANCELED) }
        }
    }

    /// Cancels the readiness operations on `fd` and forgets its registration.
    private func cancelReadiness(fd: Int32) {
        if let state = waiters.removeValue(forKey: fd) {
            for op in state.all { finish(op, -ECANCELED) }
            _ = cepoll_ctl(epollFD, cepoll_CTL_DEL, fd, 0, 0)
        }
        hot.remove(fd)
        for op in fresh where !op.finished && op.operation.fd == fd { finish(op, -ECANCELED) }
    }

    /// Cancels every live operation (shutdown).
    func cancelAllOperations() {
        for userData in Array(pending.keys) { cancel(userData: userData) }
    }

    // MARK: Waiting

    /// Tries the operations submitted since the last call, then waits up to
    /// `timeoutNanoseconds` (nil: no limit; 0: not at all) for readiness, a
    /// blocking call's result or a wakeup, and retries what became ready.
    /// Completions are queued for `processCompletions`.
    func wait(timeoutNanoseconds: UInt64?) {
        flushFresh()
        retryHot()
        takePosted()
        var timeout: Int64 = -1
        if !completed.isEmpty || !hot.isEmpty || !fresh.isEmpty {
            timeout = 0
        } else if let ns = timeoutNanoseconds {
            timeout = Int64(clamping: ns)
        }
        let n = cepoll_wait(epollFD, events, Int32(EpollReactor.eventCapacity), timeout)
        if n > 0 {
            for i in 0..<Int(n) {
                let event = events[i]
                if event.data == EpollReactor.wakeupToken {
                    var count: UInt64 = 0
                    _ = Glibc.read(wakeupFD, &count, 8)
                } else {
                    ready(fd: Int32(truncatingIfNeeded: event.data), events: event.events)
                }
            }
        }
        // n < 0: EINTR, an ordinary wake-up.
        takePosted()
    }

    /// Hands every queued completion to `body`, including those queued by
    /// handlers meanwhile (bounded). Returns how many were handled.
    @discardableResult
    func processCompletions(_ body: (ReactorCompletion) -> Void) -> Int {
        var handled = 0
        while !completed.isEmpty && handled < 65536 {
            let batch = completed
            completed.removeAll(keepingCapacity: true)
            for completion in batch { body(completion) }
            handled += batch.count
        }
        return handled
    }

    // MARK: Internals

    private func flushFresh() {
        while !fresh.isEmpty {
            let batch = fresh
            fresh.removeAll(keepingCapacity: true)
            for op in batch where !op.finished { start(op) }
        }
    }

    private func start(_ op: PendingOperation) {
        switch op.operation {
        case .nop:
            finish(op, 0)
        case let .immediate(result):
            finish(op, result)
        case let .shutdown(fd, how):
            finish(op, Glibc.shutdown(fd, how) == 0 ? 0 : -errno)
        case let .sendNow(fd, buffer, count):
            let n = Glibc.send(fd, buffer, count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            finish(op, n >= 0 ? Int32(n) : -errno)
        case let .close(fd):
            // Readiness operations end now; blocking calls already queued or
            // running on the fd finish normally, and the close runs after
            // them on the same worker (their fd's number must stay theirs).
            cancelReadiness(fd: fd)
            let close = BlockingCall { Glibc.close(fd) == 0 ? 0 : -errno }
            if pool.enqueueBehindCalls(.init(userData: op.userData, fd: fd, call: close)) {
                op.started = true
            } else {
                finish(op, close.run())
            }
        case let .blocking(fd, call):
            op.started = true
            pool.enqueue(.init(userData: op.userData, fd: fd, call: call))
        case .poll:
            let fd = op.operation.fd
            let state = waiters[fd] ?? makeWaiters(fd)
            state.polls.append(op)
            runPoll(op)
            settle(fd, state)
        default:
            let fd = op.operation.fd
            let state = waiters[fd] ?? makeWaiters(fd)
            switch op.operation.side {
            case .read:
                state.readers.append(op)
                if state.readers.count == 1 { drain(&state.readers, fd: fd) }
            case .write:
                state.writers.append(op)
                if state.writers.count == 1 { drain(&state.writers, fd: fd) }
            }
            settle(fd, state)
        }
    }

    private func makeWaiters(_ fd: Int32) -> FDWaiters {
        let state = FDWaiters()
        waiters[fd] = state
        return state
    }

    /// Drops an fd's record once nothing waits on it, or registers it with
    /// epoll when something has started waiting.
    private func settle(_ fd: Int32, _ state: FDWaiters) {
        guard waiters[fd] === state else { return }
        if state.isEmpty {
            waiters[fd] = nil
            return
        }
        guard !state.armed else { return }
        var rc = cepoll_ctl(epollFD, cepoll_CTL_MOD, fd, EpollReactor.interest, UInt64(UInt32(bitPattern: fd)))
        if rc != 0 && cepoll_errno() == ENOENT {
            rc = cepoll_ctl(epollFD, cepoll_CTL_ADD, fd, EpollReactor.interest, UInt64(UInt32(bitPattern: fd)))
        }
        if rc == 0 {
            state.armed = true
            return
        }
        // Not pollable (a regular file) or not open: nothing will ever
        // report readiness, so the waiters fail now instead of hanging.
        let code = cepoll_errno()
        waiters[fd] = nil
        for op in state.all { finish(op, -code) }
    }

    private func ready(fd: Int32, events: UInt32) {
        guard let state = waiters[fd] else { return }
        let failed = events & (cepoll_ERR | cepoll_HUP) != 0
        if failed || events & (cepoll_IN | cepoll_RDHUP | cepoll_PRI) != 0 { drain(&state.readers, fd: fd) }
        if failed || events & cepoll_OUT != 0 { drain(&state.writers, fd: fd) }
        for op in state.polls where !op.finished { runPoll(op) }
        settle(fd, state)
    }

    private func retryHot() {
        guard !hot.isEmpty else { return }
        let fds = hot
        hot.removeAll()
        for fd in fds {
            guard let state = waiters[fd] else { continue }
            drain(&state.readers, fd: fd)
            settle(fd, state)
        }
    }

    /// Runs a queue's operations in order until one has to wait.
    private func drain(_ queue: inout Deque<PendingOperation>, fd: Int32) {
        var budget = EpollReactor.multishotBudget
        while let op = queue.first {
            switch attempt(op) {
            case let .done(result, bufferID):
                queue.removeFirst()
                finish(op, result, bufferID: bufferID)
            case let .more(result, bufferID):
                completed.append(ReactorCompletion(userData: op.userData, result: result, hasMore: true, bufferID: bufferID))
                budget -= 1
                if budget == 0 {
                    hot.insert(fd)
                    return
                }
            case .wouldBlock:
                return
            }
        }
    }

    private func runPoll(_ op: PendingOperation) {
        switch attempt(op) {
        case let .done(result, _):
            waiters[op.operation.fd]?.remove(op)
            finish(op, result)
        case let .more(result, _):
            completed.append(ReactorCompletion(userData: op.userData, result: result, hasMore: true, bufferID: nil))
        case .wouldBlock:
            break
        }
    }

    private func finish(_ op: PendingOperation, _ result: Int32, bufferID: UInt16? = nil) {
        guard !op.finished else { return }
        op.finished = true
        pending[op.userData] = nil
        completed.append(ReactorCompletion(userData: op.userData, result: result, hasMore: false, bufferID: bufferID))
    }

    /// Takes the blocking calls' results posted by the workers.
    private func takePosted() {
        for completion in posted.take() {
            guard let op = pending[completion.userData], !op.finished else { continue }
            op.finished = true
            pending[completion.userData] = nil
            completed.append(completion)
        }
    }
}
