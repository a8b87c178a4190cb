import Foundation
import Testing
@testable import RingLoop

@Suite("AsyncQueue")
struct AsyncQueueTests {
    @Test func fifoLifoAndPriorityOrders() async throws {
        let input = [5, 1, 4, 2, 3]
        func drain(_ queue: AsyncQueue<Int>) async throws -> [Int] {
            for item in input { try await queue.put(item) }
            var out: [Int] = []
            for _ in input { out.append(try await queue.get()) }
            return out
        }
        #expect(try await drain(AsyncQueue()) == [5, 1, 4, 2, 3])
        #expect(try await drain(AsyncQueue(order: .lifo)) == [3, 2, 4, 1, 5])
        #expect(try await drain(AsyncQueue(order: .priority)) == [1, 2, 3, 4, 5])
        #expect(try await drain(AsyncQueue(order: .priority(by: >))) == [5, 4, 3, 2, 1])
    }

    @Test func equalPrioritiesLeaveInArrivalOrder() throws {
        struct Job: Sendable { let priority: Int; let name: String }
        let queue = AsyncQueue<Job>(order: .priority(by: { $0.priority < $1.priority }))
        for (p, n) in [(2, "a"), (1, "b"), (2, "c"), (1, "d"), (2, "e")] {
            try queue.tryPut(Job(priority: p, name: n))
        }
        var names: [String] = []
        while let job = try queue.tryGet() { names.append(job.name) }
        #expect(names == ["b", "d", "a", "c", "e"])
    }

    @Test func getWaitsForAPutAndItemsGoToConsumersInArrivalOrder() async throws {
        let queue = AsyncQueue<Int>()
        var consumers: [Task<Int, any Error>] = []
        for i in 0..<3 {
            consumers.append(Task { try await queue.get() })
            try #require(await eventually { queue.waiterCount == i + 1 }, "consumer \(i)")
        }
        for item in [10, 20, 30] { try queue.tryPut(item) }
        #expect(try await consumers[0].value == 10)
        #expect(try await consumers[1].value == 20)
        #expect(try await consumers[2].value == 30)
        #expect(queue.count == 0)
    }

    @Test func boundedQueueMakesProducersWaitForRoom() async throws {
        let queue = AsyncQueue<Int>(capacity: 2)
        try await queue.put(1)
        try await queue.put(2)
        #expect(try !queue.tryPut(3))
        let producer = Task { try await queue.put(3) }
        try #require(await eventually { queue.waiterCount == 1 }, "producer waiting")
        #expect(queue.count == 2)
        #expect(try await queue.get() == 1)
        try await producer.value
        #expect(try await queue.get() == 2)
        #expect(try await queue.get() == 3)
        #expect(queue.waiterCount == 0)
    }

    @Test func boundedLifoLetsAWaitingProducerInOnTop() async throws {
        let queue = AsyncQueue<Int>(order: .lifo, capacity: 2)
        try queue.tryPut(1)
        try queue.tryPut(2)
        let producer = Task { try await queue.put(3) }
        try #require(await eventually { queue.waiterCount == 1 }, "producer")
        #expect(try await queue.get() == 2)
        try await producer.value
        #expect(try await queue.get() == 3)
        #expect(try await queue.get() == 1)
    }

    @Test func tryPutFromAPlainThreadFeedsAnUnboundedQueue() async throws {
        let queue = AsyncQueue<Int>()
        let consumer = Task {
            var got: [Int] = []
            for try await item in queue { got.append(item) }
            return got
        }
        let thread = Threads.spawn(name: "feeder") {
            for i in 0..<1000 { _ = try? queue.tryPut(i) }
            queue.close()
        }
        Threads.join(thread)
        #expect(try await consumer.value == Array(0..<1000))
    }

    @Test func closeFailsWaitersButBufferedItemsStillDrain() async throws {
        let full = AsyncQueue<Int>(capacity: 1)
        try full.tryPut(1)
        let producer = Task { await WaitOutcome { try await full.put(2) } }
        try #require(await eventually { full.waiterCount == 1 }, "producer")
        full.close()
        #expect(await producer.value == .closed)
        #expect(throws: RingLoopError.closed(operation: "AsyncQueue.tryPut")) { try full.tryPut(3) }
        #expect(try full.tryGet() == 1)                 // buffered item drains
        #expect(throws: RingLoopError.closed(operation: "AsyncQueue.tryGet")) { try full.tryGet() }   // item 2 was never added

        let empty = AsyncQueue<Int>()
        let consumer = Task { await WaitOutcome { _ = try await empty.get() } }
        try #require(await eventually { empty.waiterCount == 1 }, "consumer")
        empty.close()
        #expect(await consumer.value == .closed)
        #expect(empty.isClosed)
        #expect(empty.waiterCount == 0)
    }

    @Test func iterationEndsOnceClosedAndDrained() async throws {
        let queue = AsyncQueue<String>()
        try queue.tryPut("a")
        try queue.tryPut("b")
        queue.close()
        var seen: [String] = []
        for try await item in queue { seen.append(item) }
        #expect(seen == ["a", "b"])
    }

    @Test func joinWaitsUntilEveryItemIsMarkedDone() async throws {
        let queue = AsyncQueue<Int>()
        try await queue.join()                          // nothing unfinished
        for i in 0..<3 { try queue.tryPut(i) }
        let joined = Box(false)
        let joiner = Task { try await queue.join(); joined.with { $0 = true } }
        try #require(await eventually { queue.waiterCount == 1 }, "joiner")
        for _ in 0..<3 {
            _ = try await queue.get()
            #expect(!joined.get)
            try queue.taskDone()
        }
        try await joiner.value
        #expect(joined.get)
        #expect(throws: RingLoopError.overReleased(operation: "AsyncQueue.taskDone")) { try queue.taskDone() }
    }

    @Test func cancelledGetTakesNoItem() async throws {
        let queue = AsyncQueue<Int>()
        let consumer = Task { await WaitOutcome { _ = try await queue.get() } }
        try #require(await eventually { queue.waiterCount == 1 }, "consumer")
        consumer.cancel()
        #expect(await consumer.value == .cancelled)
        try queue.tryPut(7)
        #expect(queue.count == 1)
        #expect(try queue.tryGet() == 7)
    }

    @Test func cancelledPutAddsNoItem() async throws {
        let queue = AsyncQueue<Int>(capacity: 1)
        try queue.tryPut(1)
        let producer = Task { await WaitOutcome { try await queue.put(2) } }
        try #require(await eventually { queue.waiterCount == 1 }, "producer")
        producer.cancel()
        #expect(await producer.value == .cancelled)
        #expect(try queue.tryGet() == 1)
        #expect(try queue.tryGet() == nil)
        #expect(queue.waiterCount == 0)
    }

    @Test func getAndPutTimeOut() async throws {
        let queue = AsyncQueue<Int>(capacity: 1)
        #expect(await throwsTimeout { _ = try await queue.get(timeout: .milliseconds(20)) })
        try queue.tryPut(1)
        #expect(await throwsTimeout { try await queue.put(2, timeout: .milliseconds(20)) })
        #expect(queue.count == 1)
        #expect(queue.waiterCount == 0)
        #expect(pendingTimeouts == 0)
    }

    @Test func futureFormsPutAndGetOnTheLoop() async throws {
        try await withLoop { loop in
            let queue = AsyncQueue<Int>(capacity: 1)
            let got = queue.get(on: loop)
            try await queue.put(1, on: loop).get()
            #expect(try await got.get() == 1)
            try await queue.put(2, on: loop).get()
            let blocked = queue.put(3, on: loop)
            #expect(queue.waiterCount == 1)
            #expect(try await queue.get(on: loop).get() == 2)
            try await blocked.get()
            #expect(try await queue.get(on: loop).get() == 3)
            let late = queue.get(on: loop, deadline: .now() + .milliseconds(10))
            await #expect(throws: RingLoopError.timedOut(operation: "AsyncQueue.get")) { try await late.get() }
            for _ in 0..<3 { try queue.taskDone() }
            try await queue.join(on: loop).get()
            #expect(queue.waiterCount == 0)
        }
    }
    /// Python 3.13 Queue.shutdown(immediate=False): put() raises
    /// QueueShutDown at once (blocked putters too); get() drains the queued
    /// items, then raises QueueShutDown.
    @Test func shutdownLetsGetsDrainThenFailsAndFailsPutsAtOnce() async throws {
        let queue = AsyncQueue<Int>(capacity: 2)
        try queue.tryPut(1)
        try queue.tryPut(2)
        let putter = Task { await WaitOutcome { try await queue.put(3) } }
        try #require(await eventually { queue.waiterCount == 1 }, "putter")
        queue.shutdown()
        #expect(await putter.value == .closed)
        #expect(queue.isShutDown)
        #expect(throws: RingLoopError.closed(operation: "AsyncQueue.tryPut")) { try queue.tryPut(4) }
        #expect(try await queue.get() == 1)
        #expect(try await queue.get() == 2)
        #expect(await WaitOutcome { _ = try await queue.get() } == .closed)
    }

    /// Python 3.13 Queue.shutdown(immediate=True): the queue is drained (each
    /// dropped item counts as done for join()), and every blocked get()
    /// raises QueueShutDown.
    @Test func shutdownImmediatelyDropsItemsWakesEveryWaiterAndReleasesJoin() async throws {
        let queue = AsyncQueue<Int>()
        try queue.tryPut(1)
        try queue.tryPut(2)
        let joiner = Task { await WaitOutcome { try await queue.join() } }
        try #require(await eventually { queue.waiterCount == 1 }, "joiner")
        queue.shutdown(immediate: true)
        #expect(await joiner.value == .succeeded)
        #expect(queue.count == 0)
        #expect(await WaitOutcome { _ = try await queue.get() } == .closed)
        #expect(throws: RingLoopError.closed(operation: "AsyncQueue.tryPut")) { try queue.tryPut(3) }
    }

    @Test func shutdownImmediatelyFailsWaitingGettersAndPutters() async throws {
        let empty = AsyncQueue<Int>()
        let getters = (0..<3).map { _ in Task { await WaitOutcome { _ = try await empty.get() } } }
        try #require(await eventually { empty.waiterCount == 3 }, "getters")
        empty.shutdown(immediate: true)
        for getter in getters { #expect(await getter.value == .closed) }

        let full = AsyncQueue<Int>(capacity: 1)
        try full.tryPut(1)
        let putter = Task { await WaitOutcome { try await full.put(2) } }
        try #require(await eventually { full.waiterCount == 1 }, "putter")
        full.shutdown(immediate: true)
        #expect(await putter.value == .closed)
        #expect(full.count == 0)
    }

    /// An item handed to a getter cancelled before it resumes, after an
    /// immediate shutdown, is dropped (and counted done), not re-queued.
    @Test func anItemGivenBackAfterAnImmediateShutdownIsDropped() async throws {
        try await withLoop { loop in
            let queue = AsyncQueue<Int>()
            let getter = Task(executorPreference: loop) { await WaitOutcome { _ = try await queue.get() } }
            try #require(await eventually { queue.waiterCount == 1 }, "getter")
            try await loop.submit {
                try queue.tryPut(1)
                queue.shutdown(immediate: true)
                getter.cancel()
            }.get()
            #expect(await getter.value == .cancelled)
            #expect(queue.count == 0)
            try await queue.join(timeout: .seconds(5))
        }
    }

    /// Queue.join() with a bound: asyncio.wait_for(queue.join(), timeout)
    /// raises TimeoutError while items are unfinished.
    @Test func joinWithATimeoutThrowsWhileItemsAreUnfinished() async throws {
        let queue = AsyncQueue<Int>()
        try queue.tryPut(1)
        #expect(await throwsTimeout { try await queue.join(timeout: .milliseconds(20)) })
        _ = try queue.tryGet()
        try queue.taskDone()
        try await queue.join(timeout: .seconds(5))
        #expect(queue.waiterCount == 0)
        #expect(pendingTimeouts == 0)
    }
}
