/// One caller waiting in an I/O operation, as the operation sees it: a
/// suspended task (`awaitOperation`) or a future (`futureOperation`). Resume
/// it once with the outcome, or let task cancellation (or its deadline)
/// remove it. This is RingLoop's one caller-to-loop bridge: sockets and
/// streams use it directly, file requests through `performRequest` and
/// `futureRequest`, so the async and the `Future` form of an operation share
/// one start, one cancellation and one deadline.
///
/// A task already cancelled when it asks for an operation throws
/// `CancellationError` without starting it. Otherwise registration,
/// completion and cancellation all happen on the loop thread, in whichever
/// order they arrive: a cancel that arrives before the operation registered is
/// remembered and fails the registration; one that arrives while waiting runs
/// `onCancel` (set by the operation: forget the waiter, cancel the kernel
/// operation) and then resumes the waiter with `CancellationError` unless
/// `onCancel` resumed it already, or the operation answers at its final
/// completion (`answersAtCompletion`: a stream transfer or a send the kernel
/// holds resumes the waiter once it knows what it did); one that arrives after
/// completion does nothing. The caller is resumed exactly once; the operation's buffers
/// stay with its completion handler until the kernel's final CQE. A future
/// has no task, so only its deadline stops it.
///
/// **Deadlines.** A deadline is a cancel that reports
/// `RingLoopError.timedOut(operation:)`: when the loop timer armed at
/// registration fires, the waiter stops exactly as for cancellation, and a
/// `CancellationError` the operation answers with becomes `.timedOut` (a
/// `PartialWriteError`'s reason too), so a timed-out operation did nothing
/// or says what it did. A deadline already past fails the registration.
// Safe to share: every field is touched only on the owning loop's thread
// (the cancellation handler hops there with `execute`).
final class AsyncWaiter<Value: Sendable>: @unchecked Sendable {
    /// Who gets the outcome.
    fileprivate enum Caller {
        case task(UnsafeContinuation<Value, any Error>)
        case future(Future<Value>)
    }

    private enum State {
        case idle
        case cancelledEarly
        case waiting(Caller)
        case done
    }

    private var state = State.idle
    /// What the operation does when the caller stops waiting (its task is
    /// cancelled, or its deadline passes).
    /// Cleared once the waiter is resumed (which also breaks the cycle it
    /// usually forms with the I/O object).
    var onCancel: (() -> Void)?
    /// Set by operations that answer at their kernel's final completion (a
    /// stream transfer reporting what it moved): stopping then only runs
    /// `onCancel`, which must lead to a `resume`.
    var answersAtCompletion = false
    /// The deadline's timer while it is armed, and the loop it is on.
    private var timer: (node: TimerNode, loop: EventLoop)?
    /// The error of a deadline that has passed.
    private var timeout: RingLoopError?

    /// Why the waiter was stopped: `.timedOut` once its deadline passed,
    /// `CancellationError` otherwise. Operations that answer at completion
    /// report it (or carry it in a `PartialWriteError`).
    var stopReason: any Error { timeout ?? CancellationError() }

    /// Whether the caller is still waiting for an outcome.
    var isWaiting: Bool {
        if case .waiting = state { return true }
        return false
    }

    /// Resumes the caller; later calls do nothing.
    func resume(_ result: Result<Value, any Error>) {
        guard case let .waiting(caller) = state else { return }
        state = .done
        onCancel = nil
        if let timer {
            self.timer = nil
            timer.loop.cancelTimer(timer.node)
        }
        answer(caller, translated(result))
    }

    private func answer(_ caller: Caller, _ result: Result<Value, any Error>) {
        switch caller {
        case let .task(continuation):
            tsanRelease(self)
            continuation.resume(with: result)
        case let .future(future):
            // Through the loop's queue, as a task's continuation is: the
            // future's callbacks may start the next operation on the same
            // object, which must not run inside this one's bookkeeping
            // (a deadline's `onCancel` is still running here).
            future.eventLoop.executeOnLoop { future._setResult(result) }
        }
    }

    /// After a deadline, the cancellation answers become `.timedOut`.
    private func translated(_ result: Result<Value, any Error>) -> Result<Value, any Error> {
        guard let timeout, case let .failure(error) = result else { return result }
        if error is CancellationError { return .failure(timeout) }
        if var partial = error as? PartialWriteError, partial.reason is CancellationError {
            partial.reason = timeout
            return .failure(partial)
        }
        return result
    }

    fileprivate func begin(
        _ caller: Caller,
        deadline: Deadline, operation: String, loop: EventLoop,
        _ start: (AsyncWaiter<Value>) -> Void
    ) {
        if case .cancelledEarly = state {
            state = .done
            answer(caller, .failure(CancellationError()))
            return
        }
        if deadline != .distantFuture, deadline <= .now() {
            state = .done
            answer(caller, .failure(RingLoopError.timedOut(operation: operation)))
            return
        }
        state = .waiting(caller)
        start(self)
        guard isWaiting, deadline != .distantFuture else { return }
        if let node = loop.scheduleTimer(at: deadline, { [self] fired in
            guard fired else { return }
            self.timer = nil
            expire(operation)
        }) {
            timer = (node, loop)
        }
    }

    private func expire(_ operation: String) {
        guard isWaiting else { return }
        timeout = .timedOut(operation: operation)
        stop()
    }

    fileprivate func cancel() {
        switch state {
        case .idle:
            state = .cancelledEarly
        case .waiting:
            stop()
        case .cancelledEarly, .done:
            break
        }
    }

    /// Runs `onCancel` once; resumes with `stopReason` unless the operation
    /// answers by itself.
    private func stop() {
        if let action = onCancel {
            onCancel = nil
            action()
        }
        if !answersAtCompletion { resume(.failure(stopReason)) }
    }
}

extension EventLoop {
    /// Suspends the calling task until the operation that `start` registers
    /// (on this loop's thread) resumes the waiter it is given. Cancelling the
    /// task runs the waiter's `onCancel` on the loop; so does `deadline`
    /// passing, and the caller then gets `RingLoopError.timedOut(operation)`.
    func awaitOperation<Value: Sendable>(
        deadline: Deadline = .distantFuture,
        operation: String = "operation",
        _ start: @escaping @Sendable (AsyncWaiter<Value>) -> Void
    ) async throws -> Value {
        // An operation a cancelled task asks for is not started at all.
        try Task.checkCancellation()
        let waiter = AsyncWaiter<Value>()
        defer { tsanAcquire(waiter) }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Value, any Error>) in
                if self.inEventLoop {
                    waiter.begin(.task(continuation), deadline: deadline, operation: operation, loop: self, start)
                } else {
                    self.execute { waiter.begin(.task(continuation), deadline: deadline, operation: operation, loop: self, start) }
                }
            }
        } onCancel: {
            // Always hop, even from the loop thread: `cancel()` may run from
            // inside a callback that is mutating the I/O object.
            self.execute { waiter.cancel() }
        }
    }

    /// The `Future` twin of `awaitOperation`: starts the same operation on
    /// this loop and completes the returned future with its outcome. There is
    /// no task to cancel it, but `deadline` stops it exactly as it stops the
    /// async form (the operation's `onCancel` runs, and the future fails with
    /// `RingLoopError.timedOut(operation)` or says what the operation did), so
    /// a timed-out receive consumed nothing and a timed-out write reports
    /// `PartialWriteError` if bytes moved. Safe from any thread; the timer is
    /// cancelled as soon as the operation answers.
    func futureOperation<Value: Sendable>(
        deadline: Deadline = .distantFuture,
        operation: String = "operation",
        _ start: @escaping @Sendable (AsyncWaiter<Value>) -> Void
    ) -> Future<Value> {
        let future = Future<Value>(eventLoop: self)
        let waiter = AsyncWaiter<Value>()
        if inEventLoop {
            waiter.begin(.future(future), deadline: deadline, operation: operation, loop: self, start)
        } else {
            execute { waiter.begin(.future(future), deadline: deadline, operation: operation, loop: self, start) }
        }
        return future
    }
}
