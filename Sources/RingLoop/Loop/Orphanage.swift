import DequeModule

/// Runs a shut-down loop's late work serially on whichever thread submits it,
/// so that continuations and promise completions still happen (with I/O
/// failing with `.shutDown`) instead of hanging forever.
// Safe to share: `queue` and `draining` are guarded by `lock`.
final class Orphanage: @unchecked Sendable {
    private let lock = Lock()
    private var queue: Deque<EventLoop.Work> = []
    private var draining = false

    func run(_ work: EventLoop.Work, on loop: EventLoop) {
        let drain: Bool = lock.withLock {
            queue.append(work)
            if draining { return false }
            draining = true
            return true
        }
        guard drain else { return }
        let previous = CurrentLoop.loop
        CurrentLoop.set(loop)
        defer { CurrentLoop.set(previous) }
        while let next = lock.withLock({ () -> EventLoop.Work? in
            if let next = queue.popFirst() { return next }
            draining = false
            return nil
        }) {
            switch next {
            case let .closure(body, _, _): body()
            case let .job(job): loop.runJob(job)
            case let .taskJob(job): loop.runTaskJob(job)
            case let .runnable(runnable, _, _): runnable.runOnLoop()
            }
        }
    }
}
