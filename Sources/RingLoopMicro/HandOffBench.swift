import Dispatch
import Foundation
import RingLoop

/// Cross-loop hand-off latency: loop A `execute`s on loop B, which answers
/// back, one round trip at a time; loops that sleep when idle against loops
/// that spin first (`Configuration.spinBeforeSleep`). The cpu column shows
/// what the spinning costs; two serial Dispatch queues are the peer.
enum HandOffBench {
    static func spawnPair(spin: Duration?) -> (EventLoop, EventLoop) {
        var configuration = EventLoop.Configuration()
        configuration.spinBeforeSleep = spin
        configuration.name = "handoff-a"
        let a = CoreBench.spawnLoop(configuration)
        configuration.name = "handoff-b"
        return (a, CoreBench.spawnLoop(configuration))
    }

    static let sleeping = spawnPair(spin: nil)
    static let spinning = spawnPair(spin: .microseconds(100))

    static func pingPong(_ loops: (EventLoop, EventLoop), _ n: Int) async throws {
        let (a, b) = loops
        try await a.submit { () -> Future<Void> in
            let done = a.makePromise(of: Void.self)
            let remaining = LoopCounter(n)
            // Safe: `step` is set once here and then only called, on A or B in turn.
            nonisolated(unsafe) var step: (@Sendable () -> Void)?
            step = {
                b.execute {
                    a.execute {
                        if remaining.decrement() { done.succeed(); step = nil } else { step?() }
                    }
                }
            }
            step?()
            return done.future
        }.get().get()
    }

    static func cases() -> [BenchCase] {
        let trips = 5_000
        return [
            BenchCase(group: "cross-loop hand-off", name: "loops sleep when idle (default)", operations: trips) { n in
                try await pingPong(sleeping, n)
            },
            BenchCase(group: "cross-loop hand-off", name: "loops spin 100 us before sleeping", operations: trips) { n in
                try await pingPong(spinning, n)
            },
            BenchCase(group: "cross-loop hand-off", name: "two serial DispatchQueues", operations: trips) { n in
                let a = DispatchQueue(label: "handoff-a")
                let b = DispatchQueue(label: "handoff-b")
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let remaining = LoopCounter(n)
                    // Safe: set once, then called on a or b in turn.
                    nonisolated(unsafe) var step: (@Sendable () -> Void)?
                    step = {
                        b.async {
                            a.async {
                                if remaining.decrement() { c.resume(); step = nil } else { step?() }
                            }
                        }
                    }
                    a.async { step?() }
                }
            },
        ]
    }
}
