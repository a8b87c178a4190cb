import Foundation
import Testing
@testable import RingLoop

@Suite("AsyncEvent")
struct AsyncEventTests {
    @Test func waitReturnsAtOnceWhenSet() async throws {
        let event = AsyncEvent(isSet: true)
        try await event.wait()
        #expect(event.isSet)
        #expect(event.waiterCount == 0)
    }

    @Test func setWakesEveryWaiter() async throws {
        let event = AsyncEvent()
        let woken = Box(0)
        var tasks: [Task<Void, any Error>] = []
        for _ in 0..<10 {
            tasks.append(Task { try await event.wait(); woken.with { $0 += 1 } })
        }
        try #require(await eventually { event.waiterCount == 10 }, "10 waiters")
        event.set()
        for task in tasks { try await task.value }
        #expect(woken.get == 10)
        #expect(event.waiterCount == 0)
    }

    @Test func clearMakesLaterWaitsSuspend() async throws {
        let event = AsyncEvent(isSet: true)
        event.clear()
        #expect(!event.isSet)
        #expect(await throwsTimeout { try await event.wait(timeout: .milliseconds(20)) })
        #expect(event.waiterCount == 0)
        #expect(pendingTimeouts == 0)
    }

    @Test func setThenClearStillWakesTheWaitersOfThatSet() async throws {
        let event = AsyncEvent()
        let waiter = Task { try await event.wait() }
        try #require(await eventually { event.waiterCount == 1 }, "waiter")
        event.set()
        event.clear()
        try await waiter.value           // no lost wakeup
        #expect(!event.isSet)
    }

    @Test func cancelledWaiterLeavesAndOthersStillWake() async throws {
        let event = AsyncEvent()
        let a = Task { await WaitOutcome { try await event.wait() } }
        try #require(await eventually { event.waiterCount == 1 }, "a")
        let b = Task { await WaitOutcome { try await event.wait() } }
        try #require(await eventually { event.waiterCount == 2 }, "b")
        a.cancel()
        #expect(await a.value == .cancelled)
        #expect(event.waiterCount == 1)
        event.set()
        #expect(await b.value == .succeeded)
    }

    @Test func futureFormCompletesOnTheLoop() async throws {
        try await withLoop { loop in
            let event = AsyncEvent()
            let onLoop = Box(false)
            let future = event.wait(on: loop).map { onLoop.with { $0 = loop.inEventLoop } }
            let late = event.wait(on: loop, deadline: .now() + .milliseconds(10))
            await #expect(throws: RingLoopError.timedOut(operation: "AsyncEvent.wait")) { try await late.get() }
            event.set()
            try await future.get()
            #expect(onLoop.get)
            try await event.wait(on: loop).get()
            #expect(event.waiterCount == 0)
        }
    }
}
