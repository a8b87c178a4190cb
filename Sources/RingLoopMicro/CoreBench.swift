import Dispatch
import Foundation
import RingLoop

/// Event loop core: execute throughput, timers, future chains, with Dispatch
/// as the peer (the toolchain's own executor machinery).
enum CoreBench {
    static let loop = spawnLoop()

    /// A loop for a benchmark, or the process exits saying why.
    static func spawnLoop(_ configuration: EventLoop.Configuration = .init()) -> EventLoop {
        do { return try EventLoop.spawn(configuration: configuration) } catch {
            print("cannot start an event loop: \(error)")
            exit(1)
        }
    }

    static func cases() -> [BenchCase] {
        let n = 1_000_000
        return [
            BenchCase(group: "execute (on loop)", name: "RingLoop execute from loop", operations: n) { n in
                try await loop.submit {
                    let remaining = Counter(n)
                    let promise = loop.makePromise(of: Void.self)
                    for _ in 0..<n {
                        loop.execute { if remaining.decrement() { promise.succeed() } }
                    }
                    return promise.future
                }.get().get()
            },
            BenchCase(group: "execute (on loop)", name: "DispatchQueue.async from queue", operations: n) { n in
                let queue = DispatchQueue(label: "bench")
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    queue.async {
                        let remaining = Counter(n)
                        for _ in 0..<n { queue.async { if remaining.decrement() { c.resume() } } }
                    }
                }
            },
            BenchCase(group: "execute (cross-thread)", name: "RingLoop execute from thread", operations: n) { n in
                let remaining = Counter(n)
                let promise = loop.makePromise(of: Void.self)
                for _ in 0..<n { loop.execute { if remaining.decrement() { promise.succeed() } } }
                try await promise.future.get()
            },
            BenchCase(group: "execute (cross-thread)", name: "DispatchQueue.async from thread", operations: n) { n in
                let queue = DispatchQueue(label: "bench")
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let remaining = Counter(n)
                    for _ in 0..<n { queue.async { if remaining.decrement() { c.resume() } } }
                }
            },
            BenchCase(group: "timer schedule+fire", name: RingLoopTimer.execute.name, operations: 200_000) { n in
                try await RingLoopTimer.execute.run(n, on: loop, countdown: Counter(n)) { $0 % 5_000 }
            },
            BenchCase(group: "timer schedule+fire", name: RingLoopTimer.schedule.name, operations: 200_000) { n in
                try await RingLoopTimer.schedule.run(n, on: loop, countdown: Counter(n)) { $0 % 5_000 }
            },
            BenchCase(group: "timer schedule+fire", name: "DispatchQueue.asyncAfter", operations: 200_000) { n in
                let queue = DispatchQueue(label: "bench")
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    queue.async {
                        let remaining = Counter(n)
                        let now = DispatchTime.now()
                        for i in 0..<n {
                            queue.asyncAfter(deadline: now + .microseconds(i % 5_000)) {
                                if remaining.decrement() { c.resume() }
                            }
                        }
                    }
                }
            },
            BenchCase(group: "timer internals", name: "schedule far + cancel", operations: 200_000) { n in
                try await loop.submit {
                    let far = Deadline.now() + .seconds(3600)
                    var all: [Scheduled<Void>] = []
                    all.reserveCapacity(n)
                    for _ in 0..<n { all.append(loop.schedule(at: far) {}) }
                    for s in all { s.cancel() }
                }.get()
            },
            BenchCase(group: "timer internals", name: "schedule now + fire", operations: 200_000) { n in
                try await loop.submit {
                    let remaining = Counter(n)
                    let promise = loop.makePromise(of: Void.self)
                    let now = Deadline.now()
                    for _ in 0..<n {
                        loop.schedule(at: now) { if remaining.decrement() { promise.succeed() } }
                    }
                    return promise.future
                }.get().get()
            },
            BenchCase(group: "future map chain (x1000)", name: "RingLoop Future.map", operations: 200_000) { n in
                try await loop.submit {
                    var total: Future<Void> = loop.makeSucceededFuture(())
                    for _ in 0..<(n / 1000) {
                        let promise = loop.makePromise(of: Int.self)
                        var f = promise.future
                        for _ in 0..<1000 { f = f.map { $0 &+ 1 } }
                        promise.succeed(0)
                        total = total.and(f).map { _ in }
                    }
                    return total
                }.get().get()
            },
            BenchCase(group: "future map chain (x1000)", name: "closure chain (reference)", operations: 200_000) { n in
                for _ in 0..<(n / 1000) {
                    var f: (Int) -> Int = { $0 }
                    for _ in 0..<1000 { let g = f; f = { g($0) &+ 1 } }
                    blackHole(f(0))
                }
            },
            BenchCase(group: "Task on loop: yield", name: "Task(executorPreference: loop)", operations: 200_000) { n in
                try await loop.run {
                    for _ in 0..<n { await Task.yield() }
                }
            },
            BenchCase(group: "Task on loop: yield", name: "Task on global executor", operations: 200_000) { n in
                await Task.detached {
                    for _ in 0..<n { await Task.yield() }
                }.value
            },
        ]
    }
}

/// A countdown shared by benchmark closures.
// Safe to share: a lock guards `value`.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int
    init(_ value: Int) { self.value = value }
    /// Returns true when it reaches zero.
    func decrement() -> Bool {
        lock.lock(); defer { lock.unlock() }
        value -= 1
        return value == 0
    }
}

@inline(never)
func blackHole<T>(_ value: T) { withExtendedLifetime(value) {} }
