import RingLoop

/// A tour of the core: a loop group, callbacks, timers, futures and tasks
/// pinned to a loop.
enum Demo {
    static func run() async {
        do {
            let group = try EventLoopGroup()            // one loop per core
            let loop = group.next()

            // Callbacks and timers run on the loop thread.
            let answer = try await loop.submit { 6 * 7 }.get()
            let late = try await loop.schedule(after: .milliseconds(5)) { "timer fired" }.future.get()

            // Futures compose; errors flow through.
            let sum = try await loop.makeSucceededFuture(1)
                .map { $0 + 1 }
                .flatMap { v in loop.submit { v * 10 } }
                .get()

            // A task that stays on the loop thread across its awaits.
            let stayed = try await loop.run {
                try await Task.sleep(for: .milliseconds(1))
                return loop.inEventLoop
            }

            print("answer=\(answer) \(late) sum=\(sum) task stayed on loop: \(stayed) loops=\(group.loops.count)")
            await group.shutdownGracefully()
        } catch {
            print("error: \(error)")
        }
    }
}
