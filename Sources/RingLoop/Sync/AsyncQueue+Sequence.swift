/// Consuming an `AsyncQueue` with `for try await`.
///
/// ```swift
/// for try await item in queue { handle(item) }   // ends once closed and drained
/// ```
///
/// Each iteration is a `get()`: several loops over one queue share its items
/// (each item goes to one of them). Iteration ends (returns nil) once the
/// queue is closed and drained; it throws `CancellationError` if the task is
/// cancelled while waiting.
extension AsyncQueue: AsyncSequence {
    public struct AsyncIterator: AsyncIteratorProtocol {
        @usableFromInline let queue: AsyncQueue

        @inlinable
        init(queue: AsyncQueue) { self.queue = queue }

        @inlinable
        public mutating func next() async throws -> Element? {
            do {
                return try await queue.get()
            } catch RingLoopError.closed {
                return nil
            }
        }
    }

    @inlinable
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(queue: self)
    }
}
