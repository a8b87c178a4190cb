import Foundation
import Testing
@testable import RingLoop

@Suite("AsyncBarrier")
struct AsyncBarrierTests {
    @Test func releasesTheRoundWhenTheLastPartyArrives() async throws {
        let barrier = AsyncBarrier(parties: 3)
        let a = Task { try await barrier.wait() }
        try await settle("a") { barrier.waiterCount == 1 }
        let b = Task { try await barrier.wait() }
        try await settle("b") { barrier.waiterCount == 2 }
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

    @Test func aCancelledWaiterNoLongerCountsAsArrived() async throws {
        let barrier = AsyncBarrier(parties: 3)
        let a = Task { await WaitOutcome { _ = try await barrier.wait() } }
        try await settle("a") { barrier.waiterCount == 1 }
        let b = Task { try await barrier.wait() }
        try await settle("b") { barrier.waiterCount == 2 }
        a.cancel()
        #expect(await a.value == .cancelled)
        #expect(barrier.waiterCount == 1)
        let c = Task { try await barrier.wait() }
        try await settle("c") { barrier.waiterCount == 2 }   // not released: only b and c
        let last = try await barrier.wait()
        #expect(try await [b.value, c.value, last] == [0, 1, 2])
    }

    @Test func timedOutWaiterLeavesTheRound() async throws {
        let barrier = AsyncBarrier(parties: 2)
        #expect(await throwsTimeout { _ = try await barrier.wait(timeout: .milliseconds(20)) })
        #expect(barrier.waiterCount == 0)
        #expect(pendingTimeouts == 0)
    }

    @Test func futureFormJoinsTheRound() async throws {
        try await withLoop { loop in
            let barrier = AsyncBarrier(parties: 2)
            let future = barrier.wait(on: loop)
            try await settle("future waiting") { barrier.waiterCount == 1 }
            #expect(try await barrier.wait() == 1)
            #expect(try await future.get() == 0)
        }
    }
}
