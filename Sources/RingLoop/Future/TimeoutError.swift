/// Thrown by `withTimeout(_:operation:_:)`, `withDeadline(_:operation:_:)`
/// and `Future.withTimeout(_:operation:onTimeout:)` when the deadline passed
/// first: like Python's `TimeoutError` from `asyncio.wait_for`, naming what
/// timed out.
public struct TimeoutError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What timed out, as the caller named it.
    public var operation: String
    /// How long the operation was given (from the call to its deadline).
    public var limit: Duration

    /// An error saying that `operation` did not finish within `limit`.
    public init(operation: String, limit: Duration) {
        self.operation = operation
        self.limit = limit
    }

    /// "RingLoop: <operation> timed out after <limit>".
    public var description: String { "RingLoop: \(operation) timed out after \(limit)" }
}
