/// Future-returning ways to run work on a loop.
extension EventLoop {
    /// A new promise whose future's callbacks run on this loop.
    public func makePromise<T: Sendable>(of type: T.Type = T.self) -> Promise<T> {
        Promise(eventLoop: self)
    }

    /// A future already succeeded with `value`.
    public func makeSucceededFuture<T: Sendable>(_ value: T) -> Future<T> {
        Future(eventLoop: self, result: .success(value))
    }

    /// A future already failed with `error`.
    public func makeFailedFuture<T: Sendable>(_ error: any Error) -> Future<T> {
        Future(eventLoop: self, result: .failure(error))
    }

    /// Runs `body` on the loop and returns its outcome as a future.
    ///
    /// After shutdown the future fails with `RingLoopError.shutDown` and `body`
    /// does not run.
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
    @discardableResult
    public func schedule<T: Sendable>(
        at deadline: Deadline,
        _ body: @escaping @Sendable () throws -> T
    ) -> Scheduled<T> {
        let future = Future<T>(eventLoop: self)
        let slot = TimerSlot()
        let install: @Sendable () -> Void = {
            guard !slot.cancelled else { return }
            slot.node = self.scheduleTimer(at: deadline) { fired in
                slot.node = nil
                future._setResult(fired ? Result { try body() } : .failure(RingLoopError.shutDown))
            }
            if slot.node == nil { future._setResult(.failure(RingLoopError.shutDown)) }
        }
        if inEventLoop {
            install()
        } else {
            execute(install)
        }
        return Scheduled(future: future) {
            let cancel: @Sendable () -> Void = {
                slot.cancelled = true
                if let node = slot.node, self.cancelTimer(node) {
                    slot.node = nil
                }
                future._setResult(.failure(CancellationError()))
            }
            if self.inEventLoop { cancel() } else { self.execute(cancel) }
        }
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

/// A timer slot shared by a scheduled task and its cancel handle.
// Safe to share: both fields are touched only on the owning loop's thread
// (installation and cancellation hop there).
private final class TimerSlot: @unchecked Sendable {
    var node: TimerNode?
    var cancelled = false
}

/// Work scheduled on a loop for later: its future, and a way to cancel it.
public struct Scheduled<T: Sendable>: Sendable {
    /// Completes with the work's outcome; fails with `CancellationError` if
    /// cancelled first, or `RingLoopError.shutDown` if the loop shut down first.
    public let future: Future<T>
    private let onCancel: @Sendable () -> Void

    init(future: Future<T>, onCancel: @escaping @Sendable () -> Void) {
        self.future = future
        self.onCancel = onCancel
    }

    /// Cancels the work if it has not started. Safe from any thread.
    public func cancel() { onCancel() }
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
