import Dispatch
import Foundation
import RingLoop

/// Timers at scale: a million timers scheduled from the loop with deadlines
/// spread uniformly over a window, timed until the last one has fired, with
/// `DispatchQueue.asyncAfter` as the peer. The window is part of the wall
/// time, so a runtime that keeps up finishes just after the window closes.
enum TimerBench {
    /// A loop whose timers may fire up to 1 ms late (`timerSlack`; the
    /// default is 50 µs): the tolerance tokio's and libuv's timers have
    /// (1 ms resolution), and less than `DispatchQueue.asyncAfter` takes
    /// (its leeway is a tenth of the delay, at least 1 ms). Its row shows
    /// what the slack buys: a loop that fires a batch per wakeup sleeps
    /// less often.
    static let coarseLoop: EventLoop = {
        var configuration = EventLoop.Configuration()
        configuration.timerSlack = .milliseconds(1)
        return CoreBench.spawnLoop(configuration)
    }()

    /// Delay mixes: (label, delay of the i-th timer in microseconds). The
    /// spreads are strided, not random, so both runtimes get the same
    /// deadlines; "mixed" cycles through the other three. A case's
    /// `cpu ns/op` times a million is its CPU seconds per million timers.
    static let mixes: [(String, @Sendable (Int) -> Int)] = [
        ("0-5 ms", { i in spread(i, 0, 5_000) }),
        ("5-100 ms", { i in spread(i, 5_000, 95_000) }),
        ("0.1-1 s", { i in spread(i, 100_000, 900_000) }),
        ("mixed 0-1 s", { i in
            switch i % 3 {
            case 0: spread(i, 0, 5_000)
            case 1: spread(i, 5_000, 95_000)
            default: spread(i, 100_000, 900_000)
            }
        }),
    ]

    @inline(__always)
    static func spread(_ i: Int, _ shortest: Int, _ width: Int) -> Int {
        shortest + (i &* 7_919) % width
    }

    static func cases() -> [BenchCase] {
        let n = 1_000_000
        var cases: [BenchCase] = []
        for (label, delayOf) in mixes {
            let group = "1M timers, delays \(label)"
            for kind in RingLoopTimer.allCases {
                cases.append(BenchCase(group: group, name: kind.name, operations: n) { n in
                    try await kind.run(n, on: CoreBench.loop, countdown: LoopCounter(n), delayMicroseconds: delayOf)
                })
            }
            cases.append(BenchCase(group: group, name: "RingLoop execute(at:), 1 ms slack", operations: n) { n in
                try await RingLoopTimer.execute.run(n, on: coarseLoop, countdown: LoopCounter(n), delayMicroseconds: delayOf)
            })
            cases.append(BenchCase(group: group, name: "DispatchQueue.asyncAfter", operations: n) { n in
                let queue = DispatchQueue(label: "bench")
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    queue.async {
                        let remaining = LoopCounter(n)
                        let now = DispatchTime.now()
                        for i in 0..<n {
                            let delay = delayOf(i)
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

/// A countdown that a benchmark's last callback finds at zero.
protocol Countdown: Sendable {
    /// Returns true when it reaches zero.
    func decrement() -> Bool
}

extension LoopCounter: Countdown {}
extension Counter: Countdown {}

/// The two ways a RingLoop timer case arms its timers.
enum RingLoopTimer: CaseIterable {
    /// `execute(at:)`: fire-and-forget, the closure kept in the wheel.
    case execute
    /// `schedule(at:)`: a timer node behind a `Scheduled` handle.
    case schedule

    var name: String {
        switch self {
        case .execute: "RingLoop execute(at:)"
        case .schedule: "RingLoop schedule(at:)"
        }
    }

    /// Arms `n` timers from `loop`, the i-th `delayMicroseconds(i)` after
    /// now, and returns once the last of them has fired. Generic over the
    /// countdown so that each timer's closure calls it directly.
    func run<C: Countdown>(
        _ n: Int, on loop: EventLoop, countdown: C, delayMicroseconds: @escaping @Sendable (Int) -> Int
    ) async throws {
        try await loop.submit {
            let promise = loop.makePromise(of: Void.self)
            let now = Deadline.now()
            for i in 0..<n {
                let deadline = now + .microseconds(delayMicroseconds(i))
                switch self {
                case .execute:
                    loop.execute(at: deadline) { if countdown.decrement() { promise.succeed() } }
                case .schedule:
                    loop.schedule(at: deadline) { if countdown.decrement() { promise.succeed() } }
                }
            }
            return promise.future
        }.get().get()
    }
}
