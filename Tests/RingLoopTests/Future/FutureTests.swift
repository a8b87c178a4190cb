import Foundation
import Testing
@testable import RingLoop

struct TestError: Error, Equatable { var code = 1 }

@Suite("Futures")
struct FutureTests {
    @Test func callbacksRunOnTheFuturesLoopWhateverThreadCompletes() async throws {
        try await withLoop { loop async throws in
            let promise = loop.makePromise(of: Int.self)
            let onLoop = Box(false)
            promise.future.whenSuccess { _ in onLoop.with { $0 = loop.inEventLoop } }
            Thread.detachNewThread { promise.succeed(5) }
            #expect(try await value(of: promise.future) == 5)
            try await loop.submit {}.get()
            #expect(onLoop.get)
        }
    }

    @Test func firstCompletionWins() async throws {
        try await withLoop { loop async throws in
            let promise = loop.makePromise(of: Int.self)
            promise.succeed(1)
            promise.succeed(2)
            promise.fail(TestError())
            #expect(try await value(of: promise.future) == 1)
        }
    }

    @Test func mapFlatMapAndThrowingTransforms() async throws {
        try await withLoop { loop async throws in
            let base = loop.makeSucceededFuture(20)
            #expect(try await value(of: base.map { $0 + 1 }) == 21)
            #expect(try await value(of: base.flatMap { v in loop.submit { v * 2 } }) == 40)
            #expect(try await value(of: base.flatMapThrowing { $0 / 2 }) == 10)
            await #expect(throws: TestError.self) {
                try await base.flatMapThrowing { _ -> Int in throw TestError() }.get()
            }
        }
    }

    @Test func errorsSkipMapsAndAreRecovered() async throws {
        try await withLoop { loop async throws in
            let failed: Future<Int> = loop.makeFailedFuture(TestError(code: 7))
            let mapped = failed.map { $0 + 1 }.flatMap { loop.makeSucceededFuture($0) }
            await #expect(throws: TestError(code: 7)) { try await mapped.get() }
            #expect(try await value(of: failed.recover { _ in 99 }) == 99)
            #expect(try await value(of: failed.flatMapError { _ in loop.makeSucceededFuture(3) }) == 3)
            #expect(try await value(of: failed.flatMapErrorThrowing { _ in 4 }) == 4)
            await #expect(throws: TestError(code: 8)) {
                try await failed.flatMapErrorThrowing { _ in throw TestError(code: 8) }.get()
            }
            await #expect(throws: TestError(code: 9)) {
                try await failed.flatMapError { _ in loop.makeFailedFuture(TestError(code: 9)) }.get()
            }
        }
    }

    @Test func andCombinesAndFailsWithEitherError() async throws {
        try await withLoop { loop async throws in
            let a = loop.makeSucceededFuture(1)
            let b = loop.submit { "x" }
            let both = try await a.and(b).get()
            #expect(both.0 == 1 && both.1 == "x")
            let never = loop.makePromise(of: Int.self)
            let failing: Future<String> = loop.makeFailedFuture(TestError())
            await #expect(throws: TestError.self) { try await never.future.and(failing).get() }
            never.succeed(0)
        }
    }

    @Test func foldAndWhenAllSucceed() async throws {
        try await withLoop { loop async throws in
            let parts = (1...10).map { i in loop.submit { i } }
            let sum = loop.makeSucceededFuture(0).fold(parts) { acc, v in loop.makeSucceededFuture(acc + v) }
            #expect(try await value(of: sum) == 55)
            #expect(try await value(of: Future.whenAllSucceed(parts, on: loop)) == Array(1...10))
            let mixed = parts + [loop.makeFailedFuture(TestError())]
            await #expect(throws: TestError.self) { try await Future.whenAllSucceed(mixed, on: loop).get() }
            let outcomes = try await Future.whenAllComplete(mixed, on: loop).get()
            #expect(outcomes.count == 11)
            if case .failure = outcomes[10] {} else { Issue.record("expected the last outcome to fail") }
            #expect(try await value(of: Future<Int>.whenAllSucceed([], on: loop)) == [])
        }
    }

    @Test func cascadeAndHopMoveResultsBetweenLoops() async throws {
        let group = try EventLoopGroup(numberOfLoops: 2)
        let (a, b) = (group.loops[0], group.loops[1])
        let source = a.makePromise(of: Int.self)
        let target = b.makePromise(of: Int.self)
        source.future.cascade(to: target)
        let hopped = source.future.hop(to: b)
        let ranOnB = Box(false)
        hopped.whenComplete { _ in ranOnB.with { $0 = b.inEventLoop } }
        source.succeed(11)
        #expect(try await value(of: target.future) == 11)
        #expect(try await value(of: hopped) == 11)
        #expect(hopped.eventLoop === b)
        try await b.submit {}.get()
        #expect(ranOnB.get)
        await group.shutdownGracefully()
    }

    @Test func longSynchronousChainsDoNotOverflowTheStack() async throws {
        try await withLoop { loop async throws in
            let value = try await loop.submit { () -> Future<Int> in
                let promise = loop.makePromise(of: Int.self)
                var f = promise.future
                for _ in 0..<200_000 { f = f.map { $0 + 1 } }
                promise.succeed(0)
                return f
            }.get().get()
            #expect(value == 200_000)
        }
    }

    @Test func droppedPromiseFailsItsFutureInsteadOfHanging() async throws {
        try await withLoop { loop async throws in
            var future: Future<Int>?
            do {
                let promise = loop.makePromise(of: Int.self)
                future = promise.future
            }
            await #expect(throws: RingLoopError.promiseDropped) { try await future!.get() }
        }
    }

    @Test func completeWithTaskRunsOnTheLoop() async throws {
        try await withLoop { loop async throws in
            let promise = loop.makePromise(of: Bool.self)
            promise.completeWithTask {
                try await Task.sleep(for: .milliseconds(1))
                return loop.inEventLoop
            }
            #expect(try await value(of: promise.future))
            let failing = loop.makeFutureWithTask { () async throws -> Int in throw TestError() }
            await #expect(throws: TestError.self) { try await failing.get() }
        }
    }

    @Test func blockingWaitWorksOffLoopAndIsRefusedOnALoop() async throws {
        try await withLoop { loop async throws in
            let f = loop.schedule(after: .milliseconds(5)) { 3 }.future
            let offLoop = try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int, any Error>) in
                Thread.detachNewThread { c.resume(with: Result { try f.wait() }) }
            }
            #expect(offLoop == 3)
            let refused = try await loop.submit { () -> RingLoopError? in
                do { _ = try f.wait(); return nil } catch let e as RingLoopError { return e } catch { return nil }
            }.get()
            #expect(refused == .blockingWaitOnEventLoop(operation: "Future.wait()"))
        }
    }

    @Test func whenCompleteRegisteredFromAnotherThreadSeesEveryOutcome() async throws {
        try await withLoop { loop async throws in
            let n = 2_000
            let seen = Box(0)
            let promises = (0..<n).map { _ in loop.makePromise(of: Int.self) }
            DispatchQueue.concurrentPerform(iterations: n) { i in
                promises[i].future.whenSuccess { _ in seen.with { $0 += 1 } }
                promises[i].succeed(i)
            }
            _ = try await Future.whenAllSucceed(promises.map(\.future), on: loop).get()
            try await loop.submit {}.get()
            #expect(seen.get == n)
        }
    }
}
