#if canImport(Glibc)
import Glibc
#endif

/// Results posted by the worker threads, with the wakeup that tells the loop.
// Safe to share: `list` is guarded by `lock`; `wakeupFD` is immutable and
// closed only after the pool's workers have been joined.
final class PostedCompletions: @unchecked Sendable {
    private let lock = Lock()
    private var list: [ReactorCompletion] = []
    private let wakeupFD: Int32

    init(wakeupFD: Int32) { self.wakeupFD = wakeupFD }

    func post(_ completion: ReactorCompletion) {
        let first: Bool = lock.withLock {
            list.append(completion)
            return list.count == 1
        }
        // One wakeup per batch: the loop drains the whole list when it wakes.
        if first {
            var one: UInt64 = 1
            _ = Glibc.write(wakeupFD, &one, 8)
        }
    }

    func take() -> [ReactorCompletion] {
        lock.withLock {
            guard !list.isEmpty else { return [] }
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
    }
}
