import Foundation
import Testing
@testable import RingLoop

/// The callbacks a future keeps (`whenComplete`, `whenSuccess`,
/// `whenFailure`, stored as they are) and the outcome it keeps as a value
/// and an error; and a pool job's outcome, staged in its future by the worker.
@Suite("Future listeners")
struct FutureListenerTests {
    @Test func mixedListenersRunInRegistrationOrderAndOnlyForTheirOutcome() async throws {
        try await withLoop { loop async throws in
            let log = Box<[String]>([])
            try await loop.submit {
                let record: @Sendable (String) -> Void = { entry in log.with { $0.append(entry) } }
                let succeeding = loop.makePromise(of: Int.self)
                let failing = loop.makePromise(of: Int.self)
                for future in [succeeding.future, failing.future] {
                    future.whenFailure { record("failure \(($0 as? TestError)?.code ?? -1)") }
                    future.whenSuccess { record("success \($0)") }
                    future.whenComplete { record("complete \((try? $0.get()) ?? -1)") }
                }
                succeeding.succeed(4)
                failing.fail(TestError(code: 6))
                // Registered once complete: run at once.
                succeeding.future.whenSuccess { record("late success \($0)") }
                succeeding.future.whenFailure { _ in record("late failure") }
                failing.future.whenFailure { _ in record("late failure") }
                failing.future.whenSuccess { _ in record("late success") }
            }.get()
            #expect(log.get == [
                "success 4", "complete 4",
                "failure 6", "complete -1",
                "late success 4", "late failure",
            ])
        }
    }

    @Test func optionalValuesKeepTheirNil() async throws {
        try await withLoop { loop async throws in
            let promise = loop.makePromise(of: Int?.self)
            let seen = Box<[Int?]>([])
            let failures = Box(0)
            promise.future.whenSuccess { value in seen.with { $0.append(value) } }
            promise.future.whenFailure { _ in failures.with { $0 += 1 } }
            promise.succeed(nil)
            #expect(try await value(of: promise.future) == nil)
            let completed: Future<Int?> = loop.makeSucceededFuture(nil)
            completed.whenSuccess { value in seen.with { $0.append(value) } }
            #expect(try await value(of: completed) == nil)
            try await loop.submit {}.get()
            #expect(seen.get == [nil, nil])
            #expect(failures.get == 0)
        }
    }

    @Test func listenersRegisteredFromOtherThreadsHopToTheLoop() async throws {
        try await withLoop { loop async throws in
            let promise = loop.makePromise(of: Int.self)
            let failed = loop.makePromise(of: Int.self)
            let onLoop = Box<[Bool]>([])
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                Thread.detachNewThread {
                    promise.future.whenSuccess { _ in onLoop.with { $0.append(loop.inEventLoop) } }
                    failed.future.whenFailure { _ in onLoop.with { $0.append(loop.inEventLoop) } }
                    promise.succeed(1)
                    failed.fail(TestError())
                    c.resume()
                }
            }
            _ = try await value(of: promise.future)
            await #expect(throws: TestError.self) { try await failed.future.get() }
            try await loop.submit {}.get()
            #expect(onLoop.get == [true, true])
        }
    }

    @Test func deepWhenSuccessChainsDoNotOverflowTheStack() async throws {
        try await withLoop { loop async throws in
            let n = 20_000
            let reached = try await loop.submit { () -> Future<Int> in
                let promises = (0...n).map { _ in loop.makePromise(of: Int.self) }
                for i in 0..<n {
                    let next = promises[i + 1]
                    promises[i].future.whenSuccess { next.succeed($0 + 1) }
                }
                promises[0].succeed(0)
                return promises[n].future
            }.get()
            #expect(try await value(of: reached) == n)
        }
    }

    @Test func poolOutcomesStagedInTheFutureReachEveryListener() async throws {
        let pool = ThreadPool(threadCount: 2, name: "listener-pool")
        try await withLoop { loop async throws in
            let n = 500
            let successes = Box(0)
            let failures = Box(0)
            let completions = Box(0)
            let futures = try await loop.submit { () -> [Future<Int>] in
                (0..<n).map { i in
                    let future = pool.submit(on: loop) { () throws -> Int in
                        if i % 5 == 0 { throw TestError(code: i) }
                        return i
                    }
                    future.whenSuccess { value in if value == i { successes.with { $0 += 1 } } }
                    future.whenFailure { error in
                        if (error as? TestError)?.code == i { failures.with { $0 += 1 } }
                    }
                    future.whenComplete { _ in completions.with { $0 += 1 } }
                    return future
                }
            }.get()
            for (i, future) in futures.enumerated() {
                if i % 5 == 0 {
                    await #expect(throws: TestError(code: i)) { try await future.get() }
                } else {
                    #expect(try await future.get() == i)
                }
            }
            try await loop.submit {}.get()
            #expect(successes.get == n - n / 5)
            #expect(failures.get == n / 5)
            #expect(completions.get == n)
        }
        await pool.shutdownGracefully()
    }
}
