import Foundation
import Testing
@testable import RingLoop

@Suite("AsyncBarrier")
struct AsyncBarrierTests {
    @Test func releasesTheRoundWhenTheLastPartyArrives() async throws {
        let barrier = AsyncBarrier(parties: 3)
        let a = Task { try await barrier.wait() }
        try #require(await eventually { barrier.waiterCount == 1 }, "a")
        let b = Task { try await barrier.wait() }
        try #require(await eventually { barrier.waiterCount == 2 }, "b")
        let last = try await barrier.wait()
        #expect(try await [a.value, b.value, last] == [0, 1, 2])
        #expect(barrier.waiterCount == 0)
    }

    @Test func isReusableAcrossRounds() async throws {
        let barrier = AsyncBarrier(parties: 4)
        let rounds = 20
        let indices = Box<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<rounds {
                        let index = try await barrier.wait()
                        indices.with { $0.append(index) }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(indices.get.sorted() == (0..<rounds).flatMap { _ in [0, 1, 2, 3] }.sorted())
        #expect(barrier.waiterCount == 0)
    }

    @Test func aSinglePartyBarrierNeverWaits() async throws {
        let barrier = AsyncBarrier(parties: 1)
        #expect(try await barrier.wait() == 0)
        #expect(try await barrier.wait() == 0)
    }

    /// threading.Barrier.wait(timeout) that times out breaks the barrier: the
    /// other waiters raise BrokenBarrierError (the party itself times out).
    @Test func aPartyThatTimesOutBreaksTheBarrierForTheOthers() async throws {
        let barrier = AsyncBarrier(parties: 3)
        let a = Task { await WaitOutcome { _ = try await barrier.wait() } }
        try #require(await eventually { barrier.waitingCount == 1 }, "a")
        #expect(await throwsTimeout { _ = try await barrier.wait(timeout: .milliseconds(20)) })
        #expect(await a.value == .other("\(BrokenBarrierError())"))
        #expect(barrier.isBroken)
        #expect(barrier.waitingCount == 0)
        #expect(pendingTimeouts == 0)
    }

    /// A cancelled party breaks the round too, instead of leaving the others
    /// waiting for a party that will never come.
    @Test func aCancelledPartyBreaksTheBarrierForTheOthers() async throws {
        let barrier = AsyncBarrier(parties: 3)
        let a = Task { await WaitOutcome { _ = try await barrier.wait() } }
        try #require(await eventually { barrier.waitingCount == 1 }, "a")
        let b = Task { await WaitOutcome { _ = try await barrier.wait() } }
        try #require(await eventually { barrier.waitingCount == 2 }, "b")
        b.cancel()
        #expect(await b.value == .cancelled)
        #expect(await a.value == .other("\(BrokenBarrierError())"))
        #expect(barrier.isBroken)
    }

    /// threading.Barrier.abort() breaks the barrier: waiters raise
    /// BrokenBarrierError, and so does every later wait() until reset().
    @Test func abortBreaksTheBarrierForWaitersAndLaterCallers() async throws {
        let barrier = AsyncBarrier(parties: 2)
        let a = Task { await WaitOutcome { _ = try await barrier.wait() } }
        try #require(await eventually { barrier.waitingCount == 1 }, "a")
        barrier.abort()
        #expect(await a.value == .other("\(BrokenBarrierError())"))
        await #expect(throws: BrokenBarrierError.self) { _ = try await barrier.wait() }
        #expect(barrier.isBroken)
        #expect(barrier.waitingCount == 0)
    }

    /// threading.Barrier.reset() returns the barrier to its initial state;
    /// parties waiting raise BrokenBarrierError.
    @Test func resetFailsTheWaitersAndMakesTheBarrierUsableAgain() async throws {
        let barrier = AsyncBarrier(parties: 2)
        let a = Task { await WaitOutcome { _ = try await barrier.wait() } }
        try #require(await eventually { barrier.waitingCount == 1 }, "a")
        barrier.reset()
        #expect(await a.value == .other("\(BrokenBarrierError())"))
        #expect(!barrier.isBroken)
        barrier.abort()
        barrier.reset()
        let b = Task { try await barrier.wait() }
        try #require(await eventually { barrier.waitingCount == 1 }, "b")
        #expect(try await barrier.wait() == 1)
        #expect(try await b.value == 0)
    }

    /// threading.Barrier(parties, action): the action is called by one of the
    /// parties once per round, before any is released.
    @Test func theActionRunsOncePerRoundBeforeTheRoundIsReleased() async throws {
        let runs = Box(0)
        let barrier = AsyncBarrier(parties: 3) { runs.with { $0 += 1 } }
        let seen = Box<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    for _ in 0..<4 {
                        _ = try await barrier.wait()
                        let round = runs.get
                        seen.with { $0.append(round) }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(runs.get == 4)
        // Every party saw the action of its round already run.
        #expect(seen.get.count == 12)
        #expect(seen.get.allSatisfy { $0 >= 1 })
    }

    /// threading.Barrier: if the action raises, the barrier is broken; the
    /// party that ran it gets the action's error, the others BrokenBarrierError.
    @Test func anActionThatThrowsBreaksTheBarrier() async throws {
        struct Boom: Error {}
        let barrier = AsyncBarrier(parties: 2) { throw Boom() }
        let a = Task { await WaitOutcome { _ = try await barrier.wait() } }
        try #require(await eventually { barrier.waitingCount == 1 }, "a")
        await #expect(throws: Boom.self) { _ = try await barrier.wait() }
        #expect(await a.value == .other("\(BrokenBarrierError())"))
        #expect(barrier.isBroken)
    }

    /// threading.Barrier.n_waiting: the parties waiting in the current round.
    @Test func waitingCountCountsThePartiesOfTheCurrentRound() async throws {
        let barrier = AsyncBarrier(parties: 3)
        #expect(barrier.waitingCount == 0)
        let a = Task { try await barrier.wait() }
        try #require(await eventually { barrier.waitingCount == 1 }, "a")
        let b = Task { try await barrier.wait() }
        try #require(await eventually { barrier.waitingCount == 2 }, "b")
        _ = try await barrier.wait()
        #expect(barrier.waitingCount == 0)
        _ = try await [a.value, b.value]
    }

    @Test func futureFormJoinsTheRound() async throws {
        try await withLoop { loop in
            let barrier = AsyncBarrier(parties: 2)
            let future = barrier.wait(on: loop)
            try #require(await eventually { barrier.waiterCount == 1 }, "future waiting")
            #expect(try await barrier.wait() == 1)
            #expect(try await future.get() == 0)
        }
    }
}
