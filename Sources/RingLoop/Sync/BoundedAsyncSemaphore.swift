/// An `AsyncSemaphore` that never holds more than its initial value: a
/// `release()` without a matching acquire is refused with an error instead
/// of silently raising the limit (Python's `BoundedSemaphore`).
///
/// ```swift
/// let pool = BoundedAsyncSemaphore(value: 4)
/// try await pool.acquire()
/// defer { try? pool.release() }
/// ```
///
/// Same fairness and cancellation guarantees as `AsyncSemaphore`.
public final class BoundedAsyncSemaphore: Sendable {
    @usableFromInline let base: AsyncSemaphore

    /// The most permits it can hold, also its initial value.
    public let limit: Int

    /// A semaphore with `value` permits available, and never more.
    public init(value: Int) {
        base = AsyncSemaphore(value: value, limit: value)
        limit = value
    }

    /// Permits free right now.
    public var availablePermits: Int { base.availablePermits }

    /// Tasks and futures waiting for a permit.
    package var waiterCount: Int { base.waiterCount }

    /// Takes a permit if one is free and nobody waits.
    public func tryAcquire() -> Bool { base.tryAcquire() }

    /// Takes a permit, waiting until `deadline` at most.
    /// - Throws: `RingLoopError.timedOut`, `CancellationError` (no permit taken).
    @inlinable
    nonisolated(nonsending) public func acquire(deadline: Deadline = .distantFuture) async throws {
        try await base.acquire(deadline: deadline)
    }

    /// Takes a permit, waiting at most `timeout`.
    @inlinable
    nonisolated(nonsending) public func acquire(timeout: Duration) async throws {
        try await base.acquire(deadline: .now() + timeout)
    }

    /// The future-returning form of `acquire`.
    public func acquire(on loop: EventLoop, deadline: Deadline = .distantFuture) -> Future<Void> {
        base.acquire(on: loop, deadline: deadline)
    }

    /// Returns `count` permits.
    /// - Throws: `RingLoopError.overReleased` (releasing nothing) if the
    ///   semaphore would then hold more than `limit`.
    public func release(_ count: Int = 1) throws(RingLoopError) {
        if let error = base.release(count, operation: "BoundedAsyncSemaphore.release") { throw error }
    }

    /// Runs `body` holding a permit.
    @inlinable
    nonisolated(nonsending) public func withPermit<T>(
        deadline: Deadline = .distantFuture,
        _ body: () async throws -> T
    ) async throws -> T {
        try await base.withPermit(deadline: deadline, body)
    }

    /// `withPermit`, waiting at most `timeout` for a permit.
    @inlinable
    nonisolated(nonsending) public func withPermit<T>(
        timeout: Duration,
        _ body: () async throws -> T
    ) async throws -> T {
        try await base.withPermit(deadline: .now() + timeout, body)
    }
}
