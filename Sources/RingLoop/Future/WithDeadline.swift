/// Runs `body`, cancelling it if it has not finished by `deadline`, like
/// Python's `asyncio.wait_for(body(), timeout)`.
///
/// `body` runs as a child task (it keeps the caller's task executor, so on a
/// loop it stays on the loop thread). At the deadline it is cancelled, and
/// `withDeadline` waits for it to finish, as `wait_for` waits for the
/// cancelled task. Then:
/// - `body` threw `CancellationError` (it honoured the cancellation): throws
///   `RingLoopError.timedOut(operation:)` naming `operation` (the error every
///   RingLoop deadline throws);
/// - `body` returned a value or threw another error anyway: that outcome is
///   what you get, so a value `body` already took (an item from a queue, a
///   permit) is never lost to the timeout;
/// - the calling task itself was cancelled: `body` is cancelled too and its
///   outcome (normally `CancellationError`) is what you get.
///
/// `body` must honour cancellation for the deadline to cut it short: every
/// RingLoop wait and I/O operation does; `Future.get()` does not (wrap the
/// future in `shield(_:)` to wait on it with a deadline).
///
/// - Parameters:
///   - deadline: when to give up; a deadline already past still starts `body`
///     and cancels it at once.
///   - operation: names what timed out in the `.timedOut` error.
///   - body: the work.
/// - Throws: `RingLoopError.timedOut(operation:)`, or what `body` throws.
///
/// ```swift
/// let line = try await withDeadline(.now() + .seconds(5), operation: "read request") {
///     try await connection.read()
/// }
/// ```
public func withDeadline<T: Sendable>(
    _ deadline: Deadline,
    operation: String = "operation",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await raceDeadline(deadline, operation: operation, body)
}

/// Runs `body`, cancelling it if it has not finished within `timeout`; see
/// `withDeadline(_:operation:_:)`. The same as Python's
/// `await asyncio.wait_for(body(), timeout)`.
///
/// ```swift
/// let reply = try await withTimeout(.seconds(2), operation: "echo") {
///     try await connection.write(ping)
///     return try await connection.read()
/// }
/// ```
public func withTimeout<T: Sendable>(
    _ timeout: Duration,
    operation: String = "operation",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await raceDeadline(.now() + max(timeout, .zero), operation: operation, body)
}

/// `body` against a timer.
func raceDeadline<T: Sendable>(
    _ deadline: Deadline,
    operation: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: DeadlineRace<T>.self) { group in
        group.addTask {
            do { return .body(.success(try await body())) } catch { return .body(.failure(error)) }
        }
        group.addTask {
            let now = Deadline.now()
            do {
                if deadline > now { try await Task.sleep(for: deadline - now) }
                return .timer(fired: true)
            } catch {
                return .timer(fired: false)
            }
        }
        var timerFired = false
        while let next = try await group.next() {
            switch next {
            case let .timer(fired):
                if fired {
                    timerFired = true
                    group.cancelAll()
                }
            case let .body(result):
                group.cancelAll()
                if timerFired, !Task.isCancelled, case let .failure(error) = result, error is CancellationError {
                    throw RingLoopError.timedOut(operation: operation)
                }
                return try result.get()
            }
        }
        // Unreachable: the body's child always reports.
        throw CancellationError()
    }
}

/// Which child of `withDeadline` finished.
enum DeadlineRace<T: Sendable>: Sendable {
    case body(Result<T, any Error>)
    case timer(fired: Bool)
}
