/// Future-returning ways to run work on a loop.
extension EventLoop {
    /// A new promise whose future's callbacks run on this loop.
    @inlinable
    public func makePromise<T: Sendable>(of type: T.Type = T.self) -> Promise<T> {
        Promise(eventLoop: self)
    }

    /// A future already succeeded with `value`.
    @inlinable
    public func makeSucceededFuture<T: Sendable>(_ value: T) -> Future<T> {
        Future(eventLoop: self, result: .success(value))
    }

    /// A future already failed with `error`.
    @inlinable
    public func makeFailedFuture<T: Sendable>(_ error: any Error) -> Future<T> {
        Future(eventLoop: self, result: .failure(error))
    }

    /// Runs `body` on the loop and returns its outcome as a future.
    ///
    /// After shutdown the future fails with `RingLoopError.shutDown` and `body`
    /// does not run.
    @inlinable
    public func submit<T: Sendable>(
        file: StaticString = #fileID, line: UInt = #line,
        _ body: @escaping @Sendable () throws -> T
    ) -> Future<T> {
        let future = Future<T>(eventLoop: self)
        execute(file: file, line: line) {
            if self.state == .closed {
                future._setResult(.failure(RingLoopError.shutDown))
            } else {
                future._setResult(Result { try body() })
            }
        }
        return future
    }

    /// Runs `body` on the loop and returns the future it produces.
    public func flatSubmit<T: Sendable>(_ body: @escaping @Sendable () -> Future<T>) -> Future<T> {
        submit(body).flatMap { $0 }
    }

    /// Runs `body` on the loop once `delay` has passed.
    @inlinable
    @discardableResult
    public func schedule<T: Sendable>(
        after delay: Duration,
        _ body: @escaping @Sendable () throws -> T
    ) -> Scheduled<T> {
        schedule(at: .now() + delay, body)
    }

    /// Runs `body` on the loop at `deadline` (never before it).
    ///
    /// The future fails with `CancellationError` if the task is cancelled first,
    /// and with `RingLoopError.shutDown` if the loop shuts down first.
    @inlinable
    @discardableResult
    public func schedule<T: Sendable>(
        at deadline: Deadline,
        _ body: @escaping @Sendable () throws -> T
    ) -> Scheduled<T> {
        let timer = ScheduledTimer(deadline: deadline, loop: self, body: body)
        if inEventLoop {
            timer.install()
        } else {
            execute { timer.install() }
        }
        return Scheduled(timer: timer)
    }

    /// Runs `body` every `delay` (measured from the end of one run to the start
    /// of the next), starting after `initialDelay`, until the task is cancelled,
    /// `body` throws, or the loop shuts down.
    @discardableResult
    public func scheduleRepeatedTask(
        initialDelay: Duration,
        delay: Duration,
        _ body: @escaping @Sendable (RepeatedTask) throws -> Void
    ) -> RepeatedTask {
        let task = RepeatedTask(eventLoop: self, delay: delay, body: body)
        if inEventLoop {
            task.arm(after: initialDelay)
        } else {
            execute { task.arm(after: initialDelay) }
        }
        return task
    }
}

/// Work scheduled on a loop for later: its future, and a way to cancel it.
public struct Scheduled<T: Sendable>: Sendable {
    @usableFromInline let timer: ScheduledTimer<T>

    @inlinable
    init(timer: ScheduledTimer<T>) { self.timer = timer }

    /// Completes with the work's outcome; fails with `CancellationError` if
    /// cancelled first, or `RingLoopError.shutDown` if the loop shut down first.
    @inlinable
    public var future: Future<T> { timer.future }

    /// Cancels the work if it has not started. Safe from any thread.
    @inlinable
    public func cancel() {
        let timer = self.timer
        let loop = timer.loop
        if loop.inEventLoop {
            timer.cancelOnLoop()
        } else {
            loop.execute { timer.cancelOnLoop() }
        }
    }
}

/// Work that runs repeatedly on a loop; see `EventLoop.scheduleRepeatedTask`.
// Safe to share: the mutable fields are touched only on `eventLoop`'s thread
// (`cancel()` hops there).
public final class RepeatedTask: @unchecked Sendable {
    /// The loop it runs on.
    public let eventLoop: EventLoop
    private let delay: Duration
    private let body: @Sendable (RepeatedTask) throws -> Void
    private var node: TimerNode?
    private var cancelled = false
    private let finished: Promise<Void>

    init(eventLoop: EventLoop, delay: Duration, body: @escaping @Sendable (RepeatedTask) throws -> Void) {
        self.eventLoop = eventLoop
        self.delay = delay
        self.body = body
        self.finished = eventLoop.makePromise()
    }

    /// Succeeds when the task is cancelled; fails with the error `body` threw,
    /// or `RingLoopError.shutDown`.
    public var future: Future<Void> { finished.future }

    func arm(after delay: Duration) {
        guard !cancelled else { return }
        node = eventLoop.scheduleTimer(at: .now() + delay) { [self] fired in
            node = nil
            guard fired else {
                finished.fail(RingLoopError.shutDown)
                return
            }
            do {
                try body(self)
                arm(after: self.delay)
            } catch {
                cancelled = true
                finished.fail(error)
            }
        }
        if node == nil {
            cancelled = true
            finished.fail(RingLoopError.shutDown)
        }
    }

    /// Stops the task: the current run (if any) finishes, no further run starts.
    public func cancel() {
        let stop: @Sendable () -> Void = { [self] in
            guard !cancelled else { return }
            cancelled = true
            if let node { eventLoop.cancelTimer(node) }
            node = nil
            finished.succeed()
        }
        if eventLoop.inEventLoop { stop() } else { eventLoop.execute(stop) }
    }
}
