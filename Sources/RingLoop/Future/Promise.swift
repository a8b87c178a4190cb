import Synchronization

/// The write side of a `Future`: complete it once, from any thread.
///
/// ```swift
/// let promise = loop.makePromise(of: Int.self)
/// someThread.start { promise.succeed(42) }
/// let value = try await promise.future.get()
/// ```
///
/// The first completion wins; later ones are ignored. A promise deallocated
/// without completion fails its future with `RingLoopError.promiseDropped`, so
/// nobody waits forever on a forgotten promise.
public final class Promise<Value: Sendable>: Sendable {
    /// The future this promise completes.
    public let future: Future<Value>
    @usableFromInline let completed = Atomic<Bool>(false)

    @inlinable
    init(eventLoop: EventLoop) {
        future = Future(eventLoop: eventLoop)
    }

    deinit {
        if !completed.load(ordering: .acquiring) {
            future._complete(.failure(RingLoopError.promiseDropped))
        }
    }

    /// Completes the future with `result`.
    @inlinable
    public func complete(_ result: Result<Value, any Error>) {
        completed.store(true, ordering: .releasing)
        future._complete(result)
    }

    /// Completes the future with a value.
    @inlinable
    public func succeed(_ value: Value) { complete(.success(value)) }

    /// Fails the future.
    @inlinable
    public func fail(_ error: any Error) { complete(.failure(error)) }

    /// Completes the future with whatever `other` completes with.
    @inlinable
    public func completeWith(_ other: Future<Value>) {
        completed.store(true, ordering: .releasing)
        other.whenComplete { [future] in future._complete($0) }
    }

    /// Completes the future with the outcome of `body`, run as a task on the
    /// future's event loop. Returns the task, to cancel it.
    @discardableResult
    public func completeWithTask(_ body: @escaping @Sendable () async throws -> Value) -> Task<Void, Never> {
        completed.store(true, ordering: .releasing)
        let future = self.future
        return Task(executorPreference: future.eventLoop) {
            do {
                future._complete(.success(try await body()))
            } catch {
                future._complete(.failure(error))
            }
        }
    }
}

extension Promise where Value == Void {
    /// Completes a `Void` future.
    public func succeed() { complete(.success(())) }
}
