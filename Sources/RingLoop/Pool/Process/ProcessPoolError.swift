/// Why a `ProcessPool` job failed. Each case names the job.
///
/// A pool that has shut down fails new and dropped work with
/// `RingLoopError.shutDown`; a cancelled caller gets `CancellationError`.
public enum ProcessPoolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The worker running the job ended (crashed, was killed, or exited)
    /// before answering; `status` says how. The worker was replaced; other
    /// jobs are unaffected.
    case workerDied(job: String, pid: Int32, status: TerminationStatus)
    /// No longer thrown: a job past its timeout fails with
    /// `RingLoopError.timedOut(operation: "ProcessPool.run(<job>)")`, the one
    /// error every RingLoop deadline throws.
    @available(*, deprecated, message: "a job past its timeout throws RingLoopError.timedOut(operation:)")
    case timedOut(job: String, after: Duration)
    /// The job threw inside the worker (or the worker could not decode its
    /// input, or does not know the job); `message` is the error as the
    /// worker described it.
    case remote(job: String, message: String)
    /// The job's input or output could not be encoded or decoded in this
    /// process.
    case coding(job: String, message: String)

    /// The failure in one sentence, naming the job.
    public var description: String {
        switch self {
        case let .workerDied(job, pid, status): return "process pool worker \(pid) running \(job) ended: \(status)"
        case let .remote(job, message): return "process pool job \(job) failed in the worker: \(message)"
        case let .coding(job, message): return "process pool job \(job): \(message)"
        default: return "process pool job ran past its deadline; its worker was killed"
        }
    }
}
