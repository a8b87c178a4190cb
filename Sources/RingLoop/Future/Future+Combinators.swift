/// Transforming and combining futures. Every closure runs on the future's loop.
extension Future {
    /// A future of `transform` applied to this future's value; errors pass through.
    @inlinable
    public func map<New: Sendable>(_ transform: @escaping @Sendable (Value) -> New) -> Future<New> {
        let next = Future<New>(eventLoop: eventLoop)
        whenComplete { next._setResult($0.map(transform)) }
        return next
    }

    /// Like `map`, but `transform` may throw; a thrown error fails the result.
    @inlinable
    public func flatMapThrowing<New: Sendable>(_ transform: @escaping @Sendable (Value) throws -> New) -> Future<New> {
        let next = Future<New>(eventLoop: eventLoop)
        whenComplete { result in
            next._setResult(result.flatMap { value in Result { try transform(value) } })
        }
        return next
    }

    /// Chains an asynchronous step: `body` returns the next future (on any loop);
    /// the result completes on this future's loop.
    @inlinable
    public func flatMap<New: Sendable>(_ body: @escaping @Sendable (Value) -> Future<New>) -> Future<New> {
        let next = Future<New>(eventLoop: eventLoop)
        whenComplete { result in
            switch result {
            case let .success(value): body(value).cascade(to: next)
            case let .failure(error): next._setResult(.failure(error))
            }
        }
        return next
    }

    /// Recovers from an error with another future; values pass through.
    @inlinable
    public func flatMapError(_ body: @escaping @Sendable (any Error) -> Future<Value>) -> Future<Value> {
        let next = Future<Value>(eventLoop: eventLoop)
        whenComplete { result in
            switch result {
            case .success: next._setResult(result)
            case let .failure(error): body(error).cascade(to: next)
            }
        }
        return next
    }

    /// Recovers from an error with a value, or rethrows.
    @inlinable
    public func flatMapErrorThrowing(_ body: @escaping @Sendable (any Error) throws -> Value) -> Future<Value> {
        let next = Future<Value>(eventLoop: eventLoop)
        whenComplete { result in
            next._setResult(result.flatMapError { error in Result { try body(error) } })
        }
        return next
    }

    /// Replaces an error with a value.
    @inlinable
    public func recover(_ body: @escaping @Sendable (any Error) -> Value) -> Future<Value> {
        let next = Future<Value>(eventLoop: eventLoop)
        whenComplete { result in
            next._setResult(result.flatMapError { .success(body($0)) })
        }
        return next
    }

    /// Runs `body` when the future completes, whatever the outcome, and passes
    /// the outcome on.
    @inlinable
    public func always(_ body: @escaping @Sendable (Result<Value, any Error>) -> Void) -> Future<Value> {
        whenComplete(body)
        return self
    }

    /// Completes `promise` (on any loop) with this future's outcome.
    @inlinable
    public func cascade(to promise: Promise<Value>) {
        promise.completeWith(self)
    }

    @inlinable
    func cascade(to other: Future<Value>) {
        if other.eventLoop === eventLoop, eventLoop.inEventLoop {
            _whenComplete { other._setResult($0) }
        } else {
            whenComplete { other._complete($0) }
        }
    }

    /// The same outcome, delivered on `target`'s loop.
    @inlinable
    public func hop(to target: EventLoop) -> Future<Value> {
        if target === eventLoop { return self }
        let next = Future<Value>(eventLoop: target)
        whenComplete { next._complete($0) }
        return next
    }

    /// Succeeds with both values once both succeed; fails with the first error.
    @inlinable
    public func and<Other: Sendable>(_ other: Future<Other>) -> Future<(Value, Other)> {
        let next = Future<(Value, Other)>(eventLoop: eventLoop)
        let otherHere = other.hop(to: eventLoop)
        whenComplete { first in
            switch first {
            case let .failure(error): next._setResult(.failure(error))
            case let .success(a):
                otherHere.whenComplete { second in
                    next._setResult(second.map { (a, $0) })
                }
            }
        }
        // Fail early if `other` fails before this one completes.
        otherHere.whenFailure { next._setResult(.failure($0)) }
        return next
    }

    /// Folds `futures` into this one in order: `combine` runs once per future,
    /// after it succeeds, with the accumulated value. The first failure wins.
    @inlinable
    public func fold<Other: Sendable>(
        _ futures: [Future<Other>],
        with combine: @escaping @Sendable (Value, Other) -> Future<Value>
    ) -> Future<Value> {
        futures.reduce(self) { accumulated, future in
            accumulated.and(future).flatMap { combine($0.0, $0.1) }
        }
    }

    /// Succeeds with every value, in order, once all succeed; fails with the
    /// first error (without waiting for the rest).
    @inlinable
    public static func whenAllSucceed(_ futures: [Future<Value>], on loop: EventLoop) -> Future<[Value]> {
        let next = Future<[Value]>(eventLoop: loop)
        guard !futures.isEmpty else {
            next._complete(.success([]))
            return next
        }
        let collector = Collector<Value>(count: futures.count)
        for (index, future) in futures.enumerated() {
            future.hop(to: loop).whenComplete { result in
                switch result {
                case let .failure(error): next._setResult(.failure(error))
                case let .success(value):
                    if let all = collector.store(value, at: index) { next._setResult(.success(all)) }
                }
            }
        }
        return next
    }

    /// Succeeds with every outcome, in order, once all have completed.
    @inlinable
    public static func whenAllComplete(_ futures: [Future<Value>], on loop: EventLoop) -> Future<[Result<Value, any Error>]> {
        let next = Future<[Result<Value, any Error>]>(eventLoop: loop)
        guard !futures.isEmpty else {
            next._complete(.success([]))
            return next
        }
        let collector = Collector<Result<Value, any Error>>(count: futures.count)
        for (index, future) in futures.enumerated() {
            future.hop(to: loop).whenComplete { result in
                if let all = collector.store(result, at: index) { next._setResult(.success(all)) }
            }
        }
        return next
    }
}

/// Gathers results by index; touched only on one loop's thread.
// Safe to share: used only from callbacks that all run on the same loop thread.
@usableFromInline final class Collector<T>: @unchecked Sendable {
    @usableFromInline var values: [T?]
    @usableFromInline var remaining: Int

    @inlinable
    init(count: Int) {
        values = Array(repeating: nil, count: count)
        remaining = count
    }

    /// Returns every value once the last arrives.
    @inlinable
    func store(_ value: T, at index: Int) -> [T]? {
        values[index] = value
        remaining -= 1
        return remaining == 0 ? values.map { $0! } : nil
    }
}
