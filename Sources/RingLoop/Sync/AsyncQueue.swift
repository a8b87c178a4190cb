/// A queue between producers and consumers that suspend instead of blocking:
/// FIFO, LIFO or priority order, bounded (producers wait while it is full:
/// backpressure) or unbounded.
///
/// ```swift
/// let jobs = AsyncQueue<Job>(capacity: 100)          // FIFO, bounded
/// Task {
///     for try await job in jobs {                     // ends once closed and drained
///         try await run(job)
///         try jobs.taskDone()
///     }
/// }
/// for job in batch { try await jobs.put(job) }        // waits while 100 are queued
/// try await jobs.join()                               // every job processed
/// jobs.close()
/// ```
///
/// `tryPut`/`tryGet` never wait and are safe from any thread (a plain thread
/// feeding an unbounded queue: `try queue.tryPut(item)`); callback code uses
/// `put(_:on:)`/`get(on:)`. Priority queues deliver the smallest element
/// first (`.priority` for `Comparable` elements, or `.priority(by:)`).
///
/// **Closing.** After `close()`, puts fail with `RingLoopError.closed`
/// (waiting producers too: their items are not queued); consumers still get
/// every buffered item, then `RingLoopError.closed` (iteration ends).
///
/// **Fairness.** Consumers are served in arrival order, and so are producers
/// waiting for room: an item put while consumers wait goes straight to the
/// longest-waiting one, and room freed by a `get` goes to the longest-waiting
/// producer, before any newcomer. Every item is delivered exactly once; with
/// FIFO order, in the order its put completed.
///
/// **Cancellation.** A waiting `put`/`get`/`join` whose task is cancelled
/// throws `CancellationError`, one whose deadline passes throws
/// `RingLoopError.timedOut`; it leaves its queue in O(1) as if it had never
/// come: a cancelled `get` takes no item, a cancelled `put` adds none. A `get`
/// handed an item whose task is cancelled before it resumes throws
/// `CancellationError` and passes the item to the next consumer (or back to
/// the front of the queue). A `put` whose item went in cannot be taken back:
/// it returns normally even if its task was cancelled meanwhile. See
/// `WaiterQueue` for the rule every primitive follows.
// Safe to share: every stored property but the constants is guarded by
// `stateLock`. Hot paths are `@inlinable`, so clients get code specialized for
// their element type (unspecialized generic code looks up type metadata at
// every step: ten times slower here, and longer critical sections).
// `@exclusivity(unchecked)`: the state is only touched under `stateLock`, and
// never by overlapping accesses, so dynamic exclusivity checks only cost.
public final class AsyncQueue<Element: Sendable>: WaiterOwner, @unchecked Sendable {
    /// The order in which items leave the queue.
    public enum Order: Sendable {
        /// First in, first out.
        case fifo
        /// Last in, first out.
        case lifo
        /// The item sorting first under `areInIncreasingOrder` leaves first;
        /// equal items leave in arrival order.
        case priority(by: @Sendable (Element, Element) -> Bool)
    }

    @usableFromInline typealias Getter = Waiter<Element, Void>
    @usableFromInline typealias Putter = Waiter<Void, Element>
    @usableFromInline typealias Joiner = Waiter<Void, Void>

    @usableFromInline let stateLock = Lock()
    /// Most items buffered at once; nil when unbounded.
    public let capacity: Int?
    /// Invariants: getters wait only while `buffer` is empty and the queue
    /// open; putters only while `buffer` is full and the queue open.
    @usableFromInline @exclusivity(unchecked) var buffer: QueueBuffer<Element>
    @usableFromInline @exclusivity(unchecked) var closed = false
    /// Set by `shutdown(immediate: true)`: items are dropped, not delivered.
    @usableFromInline @exclusivity(unchecked) var dropsItems = false
    /// Items put and not yet marked done by `taskDone()`.
    @usableFromInline @exclusivity(unchecked) var unfinished = 0
    @usableFromInline @exclusivity(unchecked) var getters = WaiterQueue<Getter>(tag: 1)
    @usableFromInline @exclusivity(unchecked) var putters = WaiterQueue<Putter>(tag: 2)
    @usableFromInline @exclusivity(unchecked) var joiners = WaiterQueue<Joiner>(tag: 3)

    /// A queue delivering items in `order`, holding `capacity` items at most
    /// (`capacity >= 1`), or any number when `capacity` is nil.
    public init(order: Order = .fifo, capacity: Int? = nil) {
        precondition(capacity.map { $0 >= 1 } ?? true, "AsyncQueue: capacity must be at least 1")
        self.capacity = capacity
        switch order {
        case .fifo: buffer = QueueBuffer(lifo: false)
        case .lifo: buffer = QueueBuffer(lifo: true)
        case let .priority(by): buffer = QueueBuffer(priority: by)
        }
    }

    /// Items buffered (a snapshot).
    @inlinable public var count: Int { stateLock.withLock { buffer.count } }

    /// Whether `close()` was called.
    @inlinable public var isClosed: Bool { stateLock.withLock { closed } }

    /// Waiting consumers, producers and joiners.
    package var waiterCount: Int {
        stateLock.withLock { getters.count + putters.count + joiners.count }
    }

    // MARK: Putting

    /// Adds `element` if there is room, without waiting; returns false when
    /// the queue is full. Safe from any thread; on an unbounded queue it
    /// always succeeds (until closed).
    /// - Throws: `RingLoopError.closed` once the queue is closed.
    @inlinable @discardableResult
    public func tryPut(_ element: Element) throws(RingLoopError) -> Bool {
        var wakeups = Wakeups()
        stateLock.lock()
        let result = putNow(element, into: &wakeups)
        stateLock.unlock()
        wakeups.perform()
        switch result {
        case nil: return false
        case .success?: return true
        case .failure?: throw .closed(operation: "AsyncQueue.tryPut")
        }
    }

    /// Adds `element`, waiting (in line with other producers) while the queue
    /// is full, until `deadline` at most.
    /// - Throws: `RingLoopError.closed` (the item is not added);
    ///   `CancellationError`, `RingLoopError.timedOut` (not added either).
    @inlinable
    nonisolated(nonsending) public func put(_ element: Element, deadline: Deadline = .distantFuture) async throws {
        if try tryPut(element) { return }
        // A put handed room is in the queue: it returns normally (see
        // "Cancellation" above), even if its task was cancelled meanwhile.
        try await suspend(Putter(element), deadline: deadline) { node, wakeups in
            admitPut(node, &wakeups)
        } handBack: { _ in false }
    }

    /// `put`, waiting at most `timeout` for room.
    @inlinable
    nonisolated(nonsending) public func put(_ element: Element, timeout: Duration) async throws {
        try await put(element, deadline: .now() + timeout)
    }

    /// The future-returning form of `put`: succeeds on `loop` once the item
    /// is in; fails with `RingLoopError.closed` or `.timedOut` (not added).
    @inlinable
    public func put(_ element: Element, on loop: EventLoop, deadline: Deadline = .distantFuture) -> Future<Void> {
        enqueue(Putter(element), on: loop, deadline: deadline) { node, wakeups in admitPut(node, &wakeups) }
    }

    // MARK: Getting

    /// Removes the next item without waiting; nil when the queue is empty.
    /// - Throws: `RingLoopError.closed` once the queue is closed and drained.
    @inlinable
    public func tryGet() throws(RingLoopError) -> Element? {
        var wakeups = Wakeups()
        stateLock.lock()
        let result = getNow(into: &wakeups)
        stateLock.unlock()
        wakeups.perform()
        switch result {
        case nil: return nil
        case let .success(element)?: return element
        case .failure?: throw .closed(operation: "AsyncQueue.tryGet")
        }
    }

    /// Removes the next item, waiting (in line with other consumers) while
    /// the queue is empty, until `deadline` at most.
    /// - Throws: `RingLoopError.closed` once closed and drained;
    ///   `CancellationError`, `RingLoopError.timedOut` (no item taken).
    @inlinable
    nonisolated(nonsending) public func get(deadline: Deadline = .distantFuture) async throws -> Element {
        if let element = try tryGet() { return element }
        return try await suspend(Getter(()), deadline: deadline) { node, wakeups in
            admitGet(node, &wakeups)
        } handBack: { element in
            giveBack(element)
            return true
        }
    }

    /// `get`, waiting at most `timeout` for an item.
    @inlinable
    nonisolated(nonsending) public func get(timeout: Duration) async throws -> Element {
        try await get(deadline: .now() + timeout)
    }

    /// The future-returning form of `get`: succeeds on `loop` with the next
    /// item; fails with `RingLoopError.closed` or `.timedOut` (no item taken).
    @inlinable
    public func get(on loop: EventLoop, deadline: Deadline = .distantFuture) -> Future<Element> {
        enqueue(Getter(()), on: loop, deadline: deadline) { node, wakeups in admitGet(node, &wakeups) }
    }

    // MARK: Closing, joining

    /// Closes the queue: puts fail from now on (waiting producers at once,
    /// with `RingLoopError.closed`), and so do gets once the buffered items
    /// are drained (waiting consumers at once: they only wait on an empty
    /// queue). Idempotent; safe from any thread.
    @inlinable
    public func close() {
        var wakeups = Wakeups()
        stateLock.lock()
        closed = true
        while let getter = getters.popFirst() {
            getter.complete(.failure(RingLoopError.closed(operation: "AsyncQueue.get")), into: &wakeups)
        }
        while let putter = putters.popFirst() {
            putter.complete(.failure(RingLoopError.closed(operation: "AsyncQueue.put")), into: &wakeups)
        }
        stateLock.unlock()
        wakeups.perform()
    }

    /// Shuts the queue down (Python 3.13's `Queue.shutdown`; `close()` is the
    /// non-immediate form). Puts fail from now on with `RingLoopError.closed`,
    /// waiting producers at once (their items are not added). With
    /// `immediate: false`, gets still drain the buffered items, then fail
    /// with `.closed`. With `immediate: true`, the buffered items are dropped
    /// (each counts as done for `join()`, which returns once nothing else is
    /// unfinished) and every waiting consumer fails with `.closed` at once.
    /// Idempotent; safe from any thread.
    public func shutdown(immediate: Bool = false) {
        var wakeups = Wakeups()
        stateLock.lock()
        closed = true
        if immediate {
            dropsItems = true
            var dropped = 0
            while buffer.pop() != nil { dropped += 1 }
            finishLocked(dropped, into: &wakeups)
        }
        while let getter = getters.popFirst() {
            getter.complete(.failure(RingLoopError.closed(operation: "AsyncQueue.get")), into: &wakeups)
        }
        while let putter = putters.popFirst() {
            putter.complete(.failure(RingLoopError.closed(operation: "AsyncQueue.put")), into: &wakeups)
        }
        stateLock.unlock()
        wakeups.perform()
    }

    /// Whether the queue was shut down (`close()` or `shutdown`).
    public var isShutDown: Bool { isClosed }

    /// Marks `count` items done, waking the joiners once none is unfinished.
    func finishLocked(_ count: Int, into wakeups: inout Wakeups) {
        guard count > 0 else { return }
        unfinished -= count
        if unfinished == 0 {
            while let joiner = joiners.popFirst() {
                joiner.complete(.success(()), into: &wakeups)
            }
        }
    }

    /// Marks one item (obtained with a get) as processed; `join()` returns once
    /// every item put has been marked.
    /// - Throws: `RingLoopError.overReleased` if no item is unfinished.
    @inlinable
    public func taskDone() throws(RingLoopError) {
        var wakeups = Wakeups()
        stateLock.lock()
        guard unfinished > 0 else {
            stateLock.unlock()
            throw .overReleased(operation: "AsyncQueue.taskDone")
        }
        unfinished -= 1
        if unfinished == 0 {
            while let joiner = joiners.popFirst() {
                joiner.complete(.success(()), into: &wakeups)
            }
        }
        stateLock.unlock()
        wakeups.perform()
    }

    /// Waits until every item put so far has been marked with `taskDone()`
    /// (returns at once if none is unfinished).
    /// - Throws: `CancellationError`, `RingLoopError.timedOut`.
    @inlinable
    nonisolated(nonsending) public func join(deadline: Deadline = .distantFuture) async throws {
        try await suspend(Joiner(()), deadline: deadline) { node, _ in admitJoin(node) } handBack: { _ in true }
    }

    /// `join`, waiting at most `timeout`.
    /// - Throws: `RingLoopError.timedOut` (items are still unfinished),
    ///   `CancellationError`.
    @inlinable
    nonisolated(nonsending) public func join(timeout: Duration) async throws {
        try await join(deadline: .now() + timeout)
    }

    /// The future-returning form of `join`.
    @inlinable
    public func join(on loop: EventLoop, deadline: Deadline = .distantFuture) -> Future<Void> {
        enqueue(Joiner(()), on: loop, deadline: deadline) { node, _ in admitJoin(node) }
    }

    /// Returns an item handed to a getter whose task was cancelled before it
    /// resumed: to the longest-waiting getter, else to the front of the buffer
    /// (it was the next item out; the buffer may hold one item over its
    /// capacity until the next get).
    @usableFromInline
    func giveBack(_ element: Element) {
        var wakeups = Wakeups()
        stateLock.lock()
        if dropsItems {
            finishLocked(1, into: &wakeups)
        } else if let getter = getters.popFirst() {
            getter.complete(.success(element), into: &wakeups)
        } else {
            buffer.pushFront(element)
        }
        stateLock.unlock()
        wakeups.perform()
    }

    // MARK: Internals (under `stateLock`)

    /// Puts `element` if it can go in at once: straight to the longest
    /// waiting consumer, else into the buffer if there is room. Nil when full.
    @inlinable
    func putNow(_ element: Element, into wakeups: inout Wakeups) -> Result<Void, RingLoopError>? {
        if closed { return .failure(.closed(operation: "AsyncQueue.put")) }
        if let getter = getters.popFirst() {
            unfinished += 1
            getter.complete(.success(element), into: &wakeups)
            return .success(())
        }
        if let capacity, buffer.count >= capacity { return nil }
        unfinished += 1
        buffer.push(element)
        return .success(())
    }

    /// Takes the next buffered item, letting the longest waiting producer's
    /// item in. Nil when empty (and open).
    @inlinable
    func getNow(into wakeups: inout Wakeups) -> Result<Element, RingLoopError>? {
        guard let element = buffer.pop() else {
            return closed ? .failure(.closed(operation: "AsyncQueue.get")) : nil
        }
        if let putter = putters.popFirst() {
            unfinished += 1
            buffer.push(putter.payload)
            putter.complete(.success(()), into: &wakeups)
        }
        return .success(element)
    }

    @inlinable
    func admitPut(_ node: Putter, _ wakeups: inout Wakeups) -> Admission<Void> {
        if let result = putNow(node.payload, into: &wakeups) {
            return .completed(result.mapError { $0 })
        }
        putters.append(node)
        return .queued
    }

    @inlinable
    func admitGet(_ node: Getter, _ wakeups: inout Wakeups) -> Admission<Element> {
        if let result = getNow(into: &wakeups) {
            return .completed(result.mapError { $0 })
        }
        getters.append(node)
        return .queued
    }

    @inlinable
    func admitJoin(_ node: Joiner) -> Admission<Void> {
        if unfinished == 0 { return .completed(.success(())) }
        joiners.append(node)
        return .queued
    }

    @usableFromInline
    func withdrawLocked(_ node: WaiterNode, reason: WithdrawReason, into wakeups: inout Wakeups) {
        switch node.queueTag {
        case getters.tag:
            getters.remove(node)
            unsafeDowncast(node, to: Getter.self).complete(.failure(reason.error("AsyncQueue.get")), into: &wakeups)
        case putters.tag:
            putters.remove(node)
            unsafeDowncast(node, to: Putter.self).complete(.failure(reason.error("AsyncQueue.put")), into: &wakeups)
        default:
            joiners.remove(node)
            unsafeDowncast(node, to: Joiner.self).complete(.failure(reason.error("AsyncQueue.join")), into: &wakeups)
        }
    }
}

extension AsyncQueue.Order where Element: Comparable {
    /// Smallest element first.
    @inlinable public static var priority: Self { .priority(by: { $0 < $1 }) }
}
