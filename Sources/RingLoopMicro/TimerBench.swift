import Dispatch
import Foundation
import RingLoop

/// Timers at scale: a million timers scheduled from the loop with deadlines
/// spread uniformly over a window, timed until the last one has fired, with
/// `DispatchQueue.asyncAfter` as the peer. The window is part of the wall
/// time, so a runtime that keeps up finishes just after the window closes.
enum TimerBench {
    static var loop: EventLoop { CoreBench.loop }

    /// Delay mixes: (label, shortest delay, spread) in microseconds.
    static let mixes: [(String, Int, Int)] = [
        ("0-5 ms", 0, 5_000),
        ("0-100 ms", 0, 100_000),
        ("100-200 ms", 100_000, 100_000),
    ]

    static func cases() -> [BenchCase] {
        let n = 1_000_000
        var cases: [BenchCase] = []
        for (label, shortest, spread) in mixes {
            let group = "1M timers, delays \(label)"
            cases.append(BenchCase(group: group, name: "RingLoop schedule(at:)", operations: n) { n in
                try await loop.submit {
                    let remaining = LoopCounter(n)
                    let promise = loop.makePromise(of: Void.self)
                    let now = Deadline.now()
                    for i in 0..<n {
                        let delay = shortest + (i &* 7_919) % spread
                        loop.schedule(at: now + .microseconds(delay)) {
                            if remaining.decrement() { promise.succeed() }
                        }
                    }
                    return promise.future
                }.get().get()
            })
            cases.append(BenchCase(group: group, name: "DispatchQueue.asyncAfter", operations: n) { n in
                let queue = DispatchQueue(label: "bench")
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    queue.async {
                        let remaining = LoopCounter(n)
                        let now = DispatchTime.now()
                        for i in 0..<n {
                            let delay = shortest + (i &* 7_919) % spread
                            queue.asyncAfter(deadline: now + .microseconds(delay)) {
                                if remaining.decrement() { c.resume() }
                            }
                        }
                    }
                }
            })
        }
        return cases
    }
}
