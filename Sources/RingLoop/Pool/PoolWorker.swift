#if canImport(Glibc)
import Glibc
#endif

/// A pool worker thread's identity and the job it is running, reachable from
/// the job's own code through a thread-local (`ThreadPool.isCancelled`), and
/// from blocking calls that must refuse to run on the pool's own workers.
// Safe to share: `queue` is immutable; `job` is written and read only on the
// worker's own thread (set around each job, read by that job's code).
final class PoolWorker: @unchecked Sendable {
    let queue: PoolQueue
    /// Unowned: the queue's running list keeps the job alive while it runs.
    private(set) unowned(unsafe) var job: PoolJob?

    init(queue: PoolQueue) {
        self.queue = queue
    }

    /// The worker thread's body: run jobs until the pool stops.
    ///
    /// Jobs are held unmanaged (see `PoolQueue.next`): the worker touches
    /// no job's reference count, which the submitting thread also uses.
    func run() {
        PoolWorker.setCurrent(self)
        var finished: Unmanaged<PoolJob>?
        while let entry = queue.next(finishing: &finished) {
            entry._withUnsafeGuaranteedRef { job in
                self.job = job
                job.execute()
                self.job = nil
            }
            finished = entry
        }
        PoolWorker.setCurrent(nil)
    }

    // MARK: Thread-local

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return key
    }()

    private static func setCurrent(_ worker: PoolWorker?) {
        pthread_setspecific(key, worker.map { Unmanaged.passUnretained($0).toOpaque() })
    }

    /// The worker running on the calling thread, if it is a pool worker.
    /// Unretained: the worker clears it before its thread lets go of it.
    static var current: PoolWorker? {
        guard let raw = pthread_getspecific(key) else { return nil }
        return Unmanaged<PoolWorker>.fromOpaque(raw).takeUnretainedValue()
    }
}
