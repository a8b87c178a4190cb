/// One job submitted to a `ProcessPool`: queued, then claimed by a slot,
/// then finished exactly once (by its reply, its worker's death, its
/// deadline, cancellation or shutdown).
///
/// A job cancelled while queued finishes at once and is skipped when a slot
/// takes it off the queue, so it never runs. A job cancelled while running
/// calls the slot's `onCancel`, which kills the worker; the slot then
/// finishes it with `CancellationError`.
// Safe to share: every mutable property is guarded by `lock`; `request`,
// `name` and `timeout` are immutable.
final class PendingProcessJob: @unchecked Sendable {
    enum State { case queued, running, finished }

    let name: String
    /// The framed request, ready to write.
    let request: [UInt8]
    let timeout: Duration?
    private let lock = Lock()
    private var state = State.queued
    private var result: Result<[UInt8], any Error>?
    private var continuation: UnsafeContinuation<[UInt8], any Error>?
    private var onCancel: (@Sendable () -> Void)?
    private var onExpire: (@Sendable () -> Void)?
    private var cancelled = false

    init(name: String, request: [UInt8], timeout: Duration?) {
        self.name = name
        self.request = request
        self.timeout = timeout
    }

    /// Moves a queued job to running; false if it finished already
    /// (cancelled or expired while queued): the slot must skip it.
    /// `onCancel` and `onExpire` stop the running job (kill its worker).
    func claim(onCancel: @escaping @Sendable () -> Void, onExpire: @escaping @Sendable () -> Void) -> Bool {
        lock.withLock {
            guard state == .queued else { return false }
            state = .running
            self.onCancel = onCancel
            self.onExpire = onExpire
            return true
        }
    }

    /// What a job past its timeout or deadline fails with.
    var timedOutError: RingLoopError { .timedOut(operation: "ProcessPool.run(\(name))") }

    /// The caller's deadline passed: a queued job finishes now with
    /// `timedOutError` and never runs; a running one is stopped by
    /// `onExpire`, and the slot then fails it with `timedOutError`.
    func expire() {
        let action: (@Sendable () -> Void)? = lock.withLock {
            switch state {
            case .queued: return { self.finish(.failure(self.timedOutError)) }
            case .running: return onExpire
            case .finished: return nil
            }
        }
        action?()
    }

    /// Whether the caller cancelled the job while it ran.
    var wasCancelled: Bool { lock.withLock { cancelled } }

    var isRunning: Bool { lock.withLock { state == .running } }

    /// The caller's task was cancelled.
    func cancel() {
        let action: (@Sendable () -> Void)? = lock.withLock {
            switch state {
            case .queued:
                return { self.finish(.failure(CancellationError())) }
            case .running:
                cancelled = true
                return onCancel
            case .finished:
                return nil
            }
        }
        action?()
    }

    /// Finishes the job (later calls do nothing).
    func finish(_ outcome: Result<[UInt8], any Error>) {
        let waiter: UnsafeContinuation<[UInt8], any Error>? = lock.withLock {
            guard result == nil else { return nil }
            state = .finished
            result = outcome
            onCancel = nil
            onExpire = nil
            defer { continuation = nil }
            return continuation
        }
        guard let waiter else { return }
        tsanRelease(self)
        waiter.resume(with: outcome)
    }

    /// Waits for the outcome (the caller's side; at most one caller).
    func outcome() async throws -> [UInt8] {
        defer { tsanAcquire(self) }
        return try await withUnsafeThrowingContinuation { continuation in
            let ready: Result<[UInt8], any Error>? = lock.withLock {
                if let result { return result }
                self.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
