import Foundation
import Testing
@testable import RingLoop

/// `withTimeout`/`withDeadline`, `Future.withTimeout`, `Future.whenAnyComplete`,
/// `Future.inCompletionOrder` and `shield`, each named by the asyncio
/// behaviour it mirrors.
@Suite("Future deadlines and races")
struct FutureDeadlineTests {
    @Test func waitForReturnsTheResultWhenTheOperationFinishesInTime() async throws {
        let value = try await withTimeout(.seconds(30), operation: "quick") { 42 }
        #expect(value == 42)
    }

    @Test func waitForCancelsTheOperationAndRaisesTimeoutErrorNamingIt() async throws {
        let event = AsyncEvent()
        let sawCancellation = Box(false)
        do {
            _ = try await withTimeout(.milliseconds(20), operation: "wait for the event") {
                do {
                    try await event.wait()
                } catch {
                    sawCancellation.with { $0 = error is CancellationError }
                    throw error
                }
            }
            Issue.record("the wait should have timed out")
        } catch RingLoopError.timedOut(let operation) {
            // The one timeout error every RingLoop deadline throws.
            #expect(operation == "wait for the event")
        }
        #expect(sawCancellation.get, "the operation was cancelled before wait_for raised")
    }

    @Test func waitForWaitsForTheCancelledOperationToFinish() async throws {
        let finished = Box(false)
        await #expect(throws: RingLoopError.timedOut(operation: "operation")) {
            try await withTimeout(.milliseconds(10)) {
                defer { finished.with { $0 = true } }
                try await Task.sleep(for: .seconds(30))
            }
        }
        #expect(finished.get, "withTimeout returned before its operation had finished")
    }

    @Test func waitForKeepsAValueTheOperationProducedDespiteTheCancellation() async throws {
        // Like asyncio.timeout(): a block that swallows the cancellation and
        // returns is not turned into a timeout; what it took is not lost.
        let value = try await withTimeout(.milliseconds(10)) { () async -> Int in
            try? await Task.sleep(for: .seconds(30))
            return 7
        }
        #expect(value == 7)
    }

    @Test func waitForPropagatesTheOperationsOwnError() async throws {
        await #expect(throws: TestError(code: 3)) {
            try await withTimeout(.seconds(30)) { () async throws -> Int in throw TestError(code: 3) }
        }
    }

    @Test func waitForWithADeadlineAlreadyPastStillStartsAndCancelsTheOperation() async throws {
        let started = Box(false)
        await #expect(throws: RingLoopError.timedOut(operation: "late")) {
            try await withDeadline(.distantPast, operation: "late") {
                started.with { $0 = true }
                try await Task.sleep(for: .seconds(30))
            }
        }
        #expect(started.get)
    }

    @Test func cancellingTheCallerOfWaitForRaisesCancellationNotTimeout() async throws {
        let inside = AsyncEvent()
        let task = Task {
            try await withTimeout(.seconds(30), operation: "long") {
                inside.set()
                try await Task.sleep(for: .seconds(30))
            }
        }
        try await withTimeout(.seconds(10)) { try await inside.wait() }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test func withTimeoutKeepsTheLoopExecutorOfTheCaller() async throws {
        try await withLoop { loop async throws in
            let onLoop = try await loop.run {
                try await withTimeout(.seconds(30)) {
                    try await Task.sleep(for: .milliseconds(1))
                    return loop.inEventLoop
                }
            }
            #expect(onLoop)
        }
    }

    @Test func futureWaitForFailsWithTimedOutAndRunsTheCancelHook() async throws {
        try await withLoop { loop async throws in
            let promise = loop.makePromise(of: Int.self)
            let hookRan = Box(false)
            let limited = promise.future.withTimeout(.milliseconds(10), operation: "reply") {
                hookRan.with { $0 = true }
            }
            await #expect(throws: RingLoopError.timedOut(operation: "reply")) {
                try await limited.get()
            }
            // The hook runs on the loop right after the future failed.
            #expect(await eventually { hookRan.get })
            promise.succeed(1)
            #expect(try await value(of: promise.future) == 1, "the original future keeps its outcome")
        }
    }

    @Test func futureWaitForPassesAnOutcomeThatArrivesInTime() async throws {
        try await withLoop { loop async throws in
            let promise = loop.makePromise(of: Int.self)
            let hookRan = Box(false)
            let limited = promise.future.withTimeout(.seconds(30)) { hookRan.with { $0 = true } }
            promise.succeed(5)
            #expect(try await value(of: limited) == 5)
            #expect(try await loop.submit { loop.pendingTimerCount }.get() == 0, "the deadline's timer was cancelled")
            #expect(!hookRan.get)
        }
    }

    @Test func waitFirstCompletedReturnsTheFirstAndLeavesTheOthersRunning() async throws {
        try await withLoop { loop async throws in
            let slow = loop.makePromise(of: Int.self)
            let fast = loop.makePromise(of: Int.self)
            let first = Future.whenAnyComplete([slow.future, fast.future], on: loop)
            fast.fail(TestError(code: 9))
            let winner = try await value(of: first)
            #expect(winner.index == 1)
            #expect(throws: TestError(code: 9)) { try winner.result.get() }
            slow.succeed(2)
            #expect(try await value(of: slow.future) == 2)
        }
    }

    @Test func waitFirstCompletedOnNoFuturesFails() async throws {
        try await withLoop { loop async throws in
            await #expect(throws: RingLoopError.closed(operation: "Future.whenAnyComplete")) {
                try await Future<Int>.whenAnyComplete([], on: loop).get()
            }
        }
    }

    @Test func asCompletedYieldsOutcomesInTheOrderTheyComplete() async throws {
        try await withLoop { loop async throws in
            let promises = (0..<4).map { _ in loop.makePromise(of: Int.self) }
            let stream = Future.inCompletionOrder(promises.map(\.future))
            for index in [2, 0, 3, 1] {
                if index == 3 { promises[index].fail(TestError(code: 3)) } else { promises[index].succeed(index * 10) }
            }
            var seen: [Int] = []
            for await (index, result) in stream {
                seen.append(index)
                if index == 3 {
                    #expect(throws: TestError(code: 3)) { try result.get() }
                } else {
                    #expect(try result.get() == index * 10)
                }
            }
            #expect(seen == [2, 0, 3, 1])
        }
    }

    @Test func asCompletedOnNoFuturesEndsAtOnce() async throws {
        var count = 0
        for await _ in Future<Int>.inCompletionOrder([]) { count += 1 }
        #expect(count == 0)
    }

    @Test func shieldRaisesCancellationInTheWaiterButTheWorkGoesOn() async throws {
        try await withLoop { loop async throws in
            let gate = AsyncEvent()
            let work = loop.makeFutureWithTask {
                try await gate.wait()
                return 11
            }
            let waiting = AsyncEvent()
            let waiter = Task {
                waiting.set()
                return try await shield(work)
            }
            try await withTimeout(.seconds(10)) { try await waiting.wait() }
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            gate.set()
            #expect(try await value(of: work) == 11, "the shielded work was not cancelled")
        }
    }

    @Test func waitForAroundShieldTimesOutWithoutCancellingTheWork() async throws {
        try await withLoop { loop async throws in
            let gate = AsyncEvent()
            let work = loop.makeFutureWithTask {
                try await gate.wait()
                return "committed"
            }
            await #expect(throws: RingLoopError.timedOut(operation: "commit")) {
                try await withTimeout(.milliseconds(10), operation: "commit") { try await shield(work) }
            }
            gate.set()
            #expect(try await value(of: work) == "committed")
        }
    }

    @Test func shieldOfACompletedFutureReturnsItsValue() async throws {
        try await withLoop { loop async throws in
            #expect(try await shield(loop.makeSucceededFuture(3)) == 3)
        }
    }
}
