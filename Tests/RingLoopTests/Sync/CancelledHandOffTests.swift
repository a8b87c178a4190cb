import Testing
@testable import RingLoop

/// A hand-off that beats a cancellation by a hair: the primitive hands a
/// waiter the lock, permit, item or notification, and the waiter's task is
/// cancelled before it runs again. The rule for every primitive (see
/// `WaiterQueue`): the waiter throws `CancellationError` and passes on what it
/// was handed, so nothing is lost and no cancelled body runs (asyncio's
/// semantics: a task cancelled after its future got a result raises
/// `CancelledError` and wakes the next waiter).
///
/// Each test pins the waiting tasks to one loop and, in a single callback on
/// that loop, hands off and cancels: the waiter's task cannot resume until the
/// callback returns, so the order is deterministic.
@Suite("Cancelled hand-off")
struct CancelledHandOffTests {
    @Test func semaphorePermitHandedToACancelledWaiterGoesToTheNextAndItsBodyNeverRuns() async throws {
        try await withLoop { loop in
            let semaphore = AsyncSemaphore(value: 0)
            let ran = Box<[Int]>([])
            let first = Task(executorPreference: loop) {
                await WaitOutcome { try await semaphore.withPermit { ran.with { $0.append(1) } } }
            }
            try #require(await eventually { semaphore.waiterCount == 1 }, "first waiter")
            let second = Task(executorPreference: loop) {
                await WaitOutcome { try await semaphore.withPermit { ran.with { $0.append(2) } } }
            }
            try #require(await eventually { semaphore.waiterCount == 2 }, "second waiter")
            try await loop.submit {
                semaphore.release()
                first.cancel()
            }.get()
            #expect(await first.value == .cancelled)
            #expect(await second.value == .succeeded)
            #expect(ran.get == [2])
            #expect(semaphore.availablePermits == 1)
        }
    }

    @Test func semaphorePermitHandedToTheOnlyWaiterReturnsToTheSemaphoreWhenItIsCancelled() async throws {
        try await withLoop { loop in
            let semaphore = BoundedAsyncSemaphore(value: 1)
            try await semaphore.acquire()
            let waiter = Task(executorPreference: loop) { await WaitOutcome { try await semaphore.acquire() } }
            try #require(await eventually { semaphore.waiterCount == 1 }, "waiter")
            try await loop.submit {
                try semaphore.release()
                waiter.cancel()
            }.get()
            #expect(await waiter.value == .cancelled)
            #expect(semaphore.availablePermits == 1)
        }
    }

    @Test func lockHandedToACancelledWaiterGoesToTheNextAndItsBodyNeverRuns() async throws {
        try await withLoop { loop in
            let lock = AsyncLock()
            #expect(lock.tryLock())
            let ran = Box<[Int]>([])
            let first = Task(executorPreference: loop) {
                await WaitOutcome { try await lock.withLock { ran.with { $0.append(1) } } }
            }
            try #require(await eventually { lock.waiterCount == 1 }, "first waiter")
            let second = Task(executorPreference: loop) {
                await WaitOutcome { try await lock.withLock { ran.with { $0.append(2) } } }
            }
            try #require(await eventually { lock.waiterCount == 2 }, "second waiter")
            try await loop.submit {
                try lock.unlock()
                first.cancel()
            }.get()
            #expect(await first.value == .cancelled)
            #expect(await second.value == .succeeded)
            #expect(ran.get == [2])
            #expect(!lock.isLocked)
        }
    }

    @Test func recursiveLockHandedToACancelledWaiterGoesToTheNext() async throws {
        try await withLoop { loop in
            let lock = AsyncRecursiveLock()
            let ran = Box<[Int]>([])
            let release = AsyncEvent()
            let toCancel = Box<Task<WaitOutcome, Never>?>(nil)
            // The holder's `withLock` hands the lock to `first` as it ends,
            // and the holder cancels `first` right after, in the same job on
            // the loop: `first` cannot have resumed in between.
            let holder = Task(executorPreference: loop) {
                try await lock.withLock { try await release.wait(timeout: .seconds(10)) }
                toCancel.get?.cancel()
            }
            try #require(await eventually { lock.isLocked }, "holder")
            let first = Task(executorPreference: loop) {
                await WaitOutcome { try await lock.withLock { ran.with { $0.append(1) } } }
            }
            toCancel.with { $0 = first }
            try #require(await eventually { lock.waiterCount == 1 }, "first waiter")
            let second = Task(executorPreference: loop) {
                await WaitOutcome { try await lock.withLock { ran.with { $0.append(2) } } }
            }
            try #require(await eventually { lock.waiterCount == 2 }, "second waiter")
            release.set()
            try await holder.value
            #expect(await first.value == .cancelled)
            #expect(await second.value == .succeeded)
            #expect(ran.get == [2])
            #expect(!lock.isLocked)
        }
    }

    @Test func eventWaiterWokenThenCancelledThrowsCancellationAndTheEventStaysSet() async throws {
        try await withLoop { loop in
            let event = AsyncEvent()
            let waiter = Task(executorPreference: loop) { await WaitOutcome { try await event.wait() } }
            try #require(await eventually { event.waiterCount == 1 }, "waiter")
            try await loop.submit {
                event.set()
                waiter.cancel()
            }.get()
            #expect(await waiter.value == .cancelled)
            #expect(event.isSet)
        }
    }

    /// asyncio's `Condition.wait`: a waiter notified, then cancelled,
    /// re-acquires the lock, passes the notification on and raises.
    @Test func conditionNotificationHandedToACancelledWaiterGoesToTheNext() async throws {
        try await withLoop { loop in
            let condition = AsyncCondition()
            let first = Task(executorPreference: loop) {
                await WaitOutcome {
                    try await condition.lock.withLock {
                        try await condition.wait(timeout: .seconds(10))
                        // The lock is held again whenever `wait` ends.
                        #expect(condition.lock.isLocked)
                    }
                }
            }
            try #require(await eventually { condition.waiterCount == 1 }, "first waiter")
            let second = Task(executorPreference: loop) {
                await WaitOutcome {
                    try await condition.lock.withLock { try await condition.wait(timeout: .seconds(10)) }
                }
            }
            try #require(await eventually { condition.waiterCount == 2 }, "second waiter")
            try await loop.submit {
                #expect(condition.lock.tryLock())
                condition.notify(1)
                try condition.lock.unlock()
                first.cancel()
            }.get()
            #expect(await first.value == .cancelled)
            #expect(await second.value == .succeeded)
            #expect(!condition.lock.isLocked)
            #expect(condition.waiterCount == 0)
            #expect(pendingTimeouts == 0)
        }
    }

    /// asyncio's `Barrier.wait`: a party cancelled after the barrier released
    /// its round raises `CancelledError`; the round stays passed for the others.
    @Test func barrierPartyCancelledAfterItsRoundPassedThrowsAndTheOthersProceed() async throws {
        try await withLoop { loop in
            let barrier = AsyncBarrier(parties: 3)
            let first = Task(executorPreference: loop) { await WaitOutcome { _ = try await barrier.wait() } }
            try #require(await eventually { barrier.waiterCount == 1 }, "first party")
            let second = Task(executorPreference: loop) { await WaitOutcome { _ = try await barrier.wait() } }
            try #require(await eventually { barrier.waiterCount == 2 }, "second party")
            let last = try await loop.submit { () -> Future<Int> in
                let last = barrier.wait(on: loop)
                first.cancel()
                return last
            }.get()
            #expect(try await value(of: last) == 2)
            #expect(await first.value == .cancelled)
            #expect(await second.value == .succeeded)
            #expect(barrier.waiterCount == 0)
        }
    }

    @Test func queueItemHandedToACancelledGetterGoesToTheNextGetter() async throws {
        try await withLoop { loop in
            let queue = AsyncQueue<Int>()
            let first = Task(executorPreference: loop) { try? await queue.get() }
            try #require(await eventually { queue.waiterCount == 1 }, "first getter")
            let second = Task(executorPreference: loop) { try await queue.get(timeout: .seconds(10)) }
            try #require(await eventually { queue.waiterCount == 2 }, "second getter")
            try await loop.submit {
                try queue.tryPut(7)
                first.cancel()
            }.get()
            #expect(await first.value == nil)
            #expect(try await second.value == 7)
            #expect(queue.count == 0)
        }
    }

    @Test func queueItemHandedToTheOnlyCancelledGetterGoesBackToTheFrontOfTheQueue() async throws {
        try await withLoop { loop in
            let queue = AsyncQueue<Int>(capacity: 1)
            let getter = Task(executorPreference: loop) { await WaitOutcome { _ = try await queue.get() } }
            try #require(await eventually { queue.waiterCount == 1 }, "getter")
            try await loop.submit {
                try queue.tryPut(1)            // straight to the getter
                try queue.tryPut(2)            // into the buffer
                getter.cancel()
            }.get()
            #expect(await getter.value == .cancelled)
            // Item 1 is back in front of item 2, one over the capacity.
            #expect(queue.count == 2)
            #expect(try queue.tryGet() == 1)
            #expect(try queue.tryGet() == 2)
            #expect(try queue.tryGet() == nil)
        }
    }

    @Test func priorityQueueItemGivenBackLeavesFirstAmongEquals() async throws {
        try await withLoop { loop in
            let queue = AsyncQueue<Pair>(order: .priority(by: { $0.priority < $1.priority }))
            let getter = Task(executorPreference: loop) { await WaitOutcome { _ = try await queue.get() } }
            try #require(await eventually { queue.waiterCount == 1 }, "getter")
            try await loop.submit {
                try queue.tryPut(Pair(priority: 1, tag: 1))
                try queue.tryPut(Pair(priority: 1, tag: 2))
                try queue.tryPut(Pair(priority: 0, tag: 3))
                getter.cancel()
            }.get()
            #expect(await getter.value == .cancelled)
            #expect(try queue.tryGet()?.tag == 3)
            #expect(try queue.tryGet()?.tag == 1)
            #expect(try queue.tryGet()?.tag == 2)
        }
    }

    /// The one hand-off that cannot be taken back: the item of a waiting put
    /// goes into the queue when room is made, so that put returns normally.
    @Test func putWhoseItemWentInReturnsNormallyEvenIfCancelledBeforeResuming() async throws {
        try await withLoop { loop in
            let queue = AsyncQueue<Int>(capacity: 1)
            try queue.tryPut(1)
            let putter = Task(executorPreference: loop) { await WaitOutcome { try await queue.put(2) } }
            try #require(await eventually { queue.waiterCount == 1 }, "putter")
            let got = try await loop.submit { () -> Int? in
                let got = try queue.tryGet()
                putter.cancel()
                return got
            }.get()
            #expect(got == 1)
            #expect(await putter.value == .succeeded)
            #expect(try queue.tryGet() == 2)
        }
    }

    @Test func joinWokenThenCancelledThrowsCancellation() async throws {
        try await withLoop { loop in
            let queue = AsyncQueue<Int>()
            try queue.tryPut(1)
            _ = try queue.tryGet()
            let joiner = Task(executorPreference: loop) { await WaitOutcome { try await queue.join() } }
            try #require(await eventually { queue.waiterCount == 1 }, "joiner")
            try await loop.submit {
                try queue.taskDone()
                joiner.cancel()
            }.get()
            #expect(await joiner.value == .cancelled)
        }
    }
}

/// An item with a priority and a tag telling equal priorities apart.
struct Pair: Sendable {
    let priority: Int
    let tag: Int
}
