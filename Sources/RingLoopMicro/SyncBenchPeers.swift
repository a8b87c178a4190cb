import Synchronization

// Peers for SyncBench: the same primitives written the two usual ways,
// Synchronization.Mutex + continuations, and an actor. Both hand off FIFO
// (like RingLoop's) but support neither cancellation nor timeouts, so they
// are the cost floor of each approach, not full equivalents.
// `CancellableMutexLock` adds what a waiter needs to honour cancellation (a
// `withTaskCancellationHandler` around the continuation), with the same
// executor-inheriting forms RingLoop uses (`nonisolated(nonsending)`, no hop
// into the handler and back): the runtime's price for a cancellable wait is
// in it, so it shows what RingLoop's own code costs on top.

/// A FIFO over an array with a moving head (the bench target has no Deque).
struct FIFO<T> {
    private var items: [T] = []
    private var head = 0
    var isEmpty: Bool { head == items.count }
    mutating func append(_ item: T) { items.append(item) }
    mutating func popFirst() -> T? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head > 1024, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }

    /// Removes the first item matching `predicate` (O(n); for cancellation).
    mutating func remove(where predicate: (T) -> Bool) -> T? {
        guard let index = items[head...].firstIndex(where: predicate) else { return nil }
        return items.remove(at: index)
    }
}

final class MutexLock: Sendable {
    private struct State {
        var locked = false
        var waiting = 0
        var waiters = FIFO<UnsafeContinuation<Void, Never>>()
    }
    private let state = Mutex(State())

    var waiting: Int { state.withLock { $0.waiting } }

    func lock() async {
        let acquired = state.withLock { s -> Bool in
            if s.locked { return false }
            s.locked = true
            return true
        }
        if acquired { return }
        await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if !s.locked { s.locked = true; return true }
                s.waiters.append(c)
                s.waiting += 1
                return false
            }
            if now { c.resume() }
        }
    }

    func unlock() {
        let next = state.withLock { s -> UnsafeContinuation<Void, Never>? in
            if let next = s.waiters.popFirst() { s.waiting -= 1; return next }
            s.locked = false
            return nil
        }
        next?.resume()
    }
}

/// `MutexLock` whose waiters honour task cancellation: a cancelled waiter
/// leaves the queue and throws `CancellationError` without the lock.
final class CancellableMutexLock: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: UnsafeContinuation<Void, any Error>
    }
    private struct State {
        var locked = false
        var waiting = 0
        var nextID: UInt64 = 0
        var waiters = FIFO<Waiter>()
        /// Waiters cancelled before they queued.
        var cancelledEarly: Set<UInt64> = []
    }
    private let state = Mutex(State())

    var waiting: Int { state.withLock { $0.waiting } }

    nonisolated(nonsending) func lock() async throws {
        let id = state.withLock { s -> UInt64? in
            if !s.locked { s.locked = true; return nil }
            s.nextID += 1
            return s.nextID
        }
        guard let id else { return }
        try await _unsafeInheritExecutor_withTaskCancellationHandler {
            try await _unsafeInheritExecutor_withUnsafeThrowingContinuation { (c: UnsafeContinuation<Void, any Error>) in
                let outcome = state.withLock { s -> Bool? in
                    if s.cancelledEarly.remove(id) != nil { return false }
                    if !s.locked { s.locked = true; return true }
                    s.waiters.append(Waiter(id: id, continuation: c))
                    s.waiting += 1
                    return nil
                }
                switch outcome {
                case true?: c.resume()
                case false?: c.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let cancelled = state.withLock { s -> UnsafeContinuation<Void, any Error>? in
                if let waiter = s.waiters.remove(where: { $0.id == id }) {
                    s.waiting -= 1
                    return waiter.continuation
                }
                s.cancelledEarly.insert(id)
                return nil
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    func unlock() {
        let next = state.withLock { s -> UnsafeContinuation<Void, any Error>? in
            if let next = s.waiters.popFirst() { s.waiting -= 1; return next.continuation }
            s.locked = false
            return nil
        }
        next?.resume()
    }
}

actor ActorLock {
    private var locked = false
    private(set) var waiting = 0
    private var waiters = FIFO<CheckedContinuation<Void, Never>>()

    func lock() async {
        if !locked { locked = true; return }
        waiting += 1
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if let next = waiters.popFirst() { waiting -= 1; next.resume() } else { locked = false }
    }
}

final class MutexSemaphore: Sendable {
    private struct State {
        var permits: Int
        var waiters = FIFO<UnsafeContinuation<Void, Never>>()
    }
    private let state: Mutex<State>

    init(value: Int) { state = Mutex(State(permits: value)) }

    func acquire() async {
        let taken = state.withLock { s -> Bool in
            if s.permits > 0 { s.permits -= 1; return true }
            return false
        }
        if taken { return }
        await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.permits > 0 { s.permits -= 1; return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> UnsafeContinuation<Void, Never>? in
            if let next = s.waiters.popFirst() { return next }
            s.permits += 1
            return nil
        }
        next?.resume()
    }
}

/// `MutexSemaphore` whose waiters honour task cancellation, written like
/// `CancellableMutexLock`: a cancelled waiter leaves the queue and throws
/// `CancellationError` without a permit.
final class CancellableMutexSemaphore: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: UnsafeContinuation<Void, any Error>
    }
    private struct State {
        var permits: Int
        var nextID: UInt64 = 0
        var waiters = FIFO<Waiter>()
        /// Waiters cancelled before they queued.
        var cancelledEarly: Set<UInt64> = []
    }
    private let state: Mutex<State>

    init(value: Int) { state = Mutex(State(permits: value)) }

    nonisolated(nonsending) func acquire() async throws {
        let id = state.withLock { s -> UInt64? in
            if s.permits > 0 { s.permits -= 1; return nil }
            s.nextID += 1
            return s.nextID
        }
        guard let id else { return }
        try await _unsafeInheritExecutor_withTaskCancellationHandler {
            try await _unsafeInheritExecutor_withUnsafeThrowingContinuation { (c: UnsafeContinuation<Void, any Error>) in
                let outcome = state.withLock { s -> Bool? in
                    if s.cancelledEarly.remove(id) != nil { return false }
                    if s.permits > 0 { s.permits -= 1; return true }
                    s.waiters.append(Waiter(id: id, continuation: c))
                    return nil
                }
                switch outcome {
                case true?: c.resume()
                case false?: c.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let cancelled = state.withLock { s -> UnsafeContinuation<Void, any Error>? in
                if let waiter = s.waiters.remove(where: { $0.id == id }) { return waiter.continuation }
                s.cancelledEarly.insert(id)
                return nil
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    func release() {
        let next = state.withLock { s -> UnsafeContinuation<Void, any Error>? in
            if let next = s.waiters.popFirst() { return next.continuation }
            s.permits += 1
            return nil
        }
        next?.resume()
    }
}

actor ActorSemaphore {
    private var permits: Int
    private var waiters = FIFO<CheckedContinuation<Void, Never>>()

    init(value: Int) { permits = value }

    func acquire() async {
        if permits > 0 { permits -= 1; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if let next = waiters.popFirst() { next.resume() } else { permits += 1 }
    }
}

/// Unbounded FIFO queue, Mutex + continuations.
final class MutexQueue<T: Sendable>: Sendable {
    private struct State {
        var items = FIFO<T>()
        var getters = FIFO<UnsafeContinuation<T, Never>>()
    }
    private let state = Mutex(State())

    func put(_ item: T) {
        let getter = state.withLock { s -> UnsafeContinuation<T, Never>? in
            if let getter = s.getters.popFirst() { return getter }
            s.items.append(item)
            return nil
        }
        getter?.resume(returning: item)
    }

    func get() async -> T {
        if let item = state.withLock({ $0.items.popFirst() }) { return item }
        return await withUnsafeContinuation { (c: UnsafeContinuation<T, Never>) in
            let item = state.withLock { s -> T? in
                if let item = s.items.popFirst() { return item }
                s.getters.append(c)
                return nil
            }
            if let item { c.resume(returning: item) }
        }
    }
}

actor ActorQueue<T: Sendable> {
    private var items = FIFO<T>()
    private var getters = FIFO<CheckedContinuation<T, Never>>()

    func put(_ item: T) {
        if let getter = getters.popFirst() { getter.resume(returning: item) } else { items.append(item) }
    }

    func get() async -> T {
        if let item = items.popFirst() { return item }
        return await withCheckedContinuation { getters.append($0) }
    }
}
