/// The error `withTimeout`, `withDeadline` and `Future.withTimeout` threw
/// before every RingLoop deadline reported one error: they now throw
/// `RingLoopError.timedOut(operation:)`, as I/O, the synchronization
/// primitives and the pools do, so one `catch` handles every timeout:
///
/// ```swift
/// do { try await withTimeout(.seconds(2), operation: "echo") { try await echo() } }
/// catch RingLoopError.timedOut(let operation) { log("\(operation) timed out") }
/// ```
///
/// The alias keeps old code compiling; `catch is TimeoutError` now matches
/// every `RingLoopError`, so match `.timedOut` instead.
@available(*, deprecated, message: "timeouts throw RingLoopError.timedOut(operation:); match that")
public typealias TimeoutError = RingLoopError

extension RingLoopError {
    /// `RingLoopError.timedOut(operation:)`: the initializer of the former
    /// `TimeoutError` struct (`limit` is no longer reported).
    @available(*, deprecated, message: "use RingLoopError.timedOut(operation:)")
    public init(operation: String, limit: Duration) {
        self = .timedOut(operation: operation)
    }
}
