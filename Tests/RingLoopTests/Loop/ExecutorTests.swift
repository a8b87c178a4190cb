import Foundation
import Testing
@testable import RingLoop

/// An actor whose methods run on a given loop's thread.
actor PinnedCounter {
    let loop: EventLoop
    var count = 0
    init(loop: EventLoop) { self.loop = loop }
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    func increment() -> Bool {
        count += 1
        return loop.inEventLoop
    }
}

@Suite("Executor")
struct ExecutorTests {
    @Test func taskWithLoopPreferenceStaysOnTheLoopAcrossAwaits() async throws {
        try await withLoop { loop async throws in
            let stayed = try await Task(executorPreference: loop) { () async throws -> [Bool] in
                var seen: [Bool] = [loop.inEventLoop]
                await Task.yield()
                seen.append(loop.inEventLoop)
                try await Task.sleep(for: .milliseconds(2))
                seen.append(loop.inEventLoop)
                _ = try await loop.submit { 1 }.get()
                seen.append(loop.inEventLoop)
                _ = try await loop.schedule(after: .milliseconds(1)) { 2 }.future.get()
                seen.append(loop.inEventLoop)
                // A child task inherits the preference.
                let child = await withTaskGroup(of: Bool.self) { group in
                    group.addTask { loop.inEventLoop }
                    return await group.next() ?? false
                }
                seen.append(child)
                return seen
            }.value
            #expect(stayed == [true, true, true, true, true, true])
        }
    }

    @Test func runExecutesOnTheLoopAndPropagatesCancellation() async throws {
        try await withLoop { loop async throws in
            #expect(try await loop.run { loop.inEventLoop })
            let task = Task {
                try await loop.run { () async throws -> Bool in
                    try await Task.sleep(for: .seconds(30))
                    return true
                }
            }
            try await Task.sleep(for: .milliseconds(10))
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
        }
    }

    @Test func actorPinnedToALoopRunsThere() async throws {
        try await withLoop { loop async throws in
            let counter = PinnedCounter(loop: loop)
            var allOnLoop = true
            for _ in 0..<100 { allOnLoop = await counter.increment() && allOnLoop }
            #expect(allOnLoop)
            #expect(await counter.count == 100)
            // assumeIsolated works from a loop callback.
            let viaCallback = try await loop.submit {
                counter.assumeIsolated { $0.count }
            }.get()
            #expect(viaCallback == 100)
        }
    }

    @Test func manyTasksInterleaveOnOneLoopSerially() async throws {
        try await withLoop { loop async throws in
            let active = Box(0)
            let overlap = Box(false)
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<200 {
                    group.addTask(executorPreference: loop) {
                        for _ in 0..<10 {
                            if active.with({ $0 += 1; return $0 }) > 1 { overlap.with { $0 = true } }
                            active.with { $0 -= 1 }
                            await Task.yield()
                        }
                    }
                }
            }
            #expect(!overlap.get)
        }
    }
}
