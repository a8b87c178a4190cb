/// Thrown by `AsyncBarrier.wait` when the barrier is broken, or breaks while
/// the caller waits: `abort()`, `reset()` with parties waiting, a party that
/// timed out or was cancelled, or an action that threw (Python's
/// `threading.BrokenBarrierError`).
public struct BrokenBarrierError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A broken-barrier error.
    public init() {}

    public var description: String { "AsyncBarrier.wait: the barrier is broken" }
}
