#if canImport(Glibc)
import Glibc
#endif

extension ProcessPool {
    /// The environment variable that makes a process a pool worker; its
    /// value is the descriptor of the worker's socket.
    static let workerVariable = "RINGLOOP_PROCESS_POOL_WORKER"
    /// The descriptor a worker's socket is given in the worker.
    static let workerDescriptor: Int32 = 3

    /// Serves pool jobs and exits if this process was started as a
    /// `ProcessPool` worker; returns at once otherwise. Call it first thing
    /// in `main`, before starting loops, threads or tasks (like the `spawn`
    /// start method of Python's multiprocessing, the worker is this
    /// executable started again):
    ///
    /// ```swift
    /// // main.swift
    /// let square = ProcessPool.Job<Int, Int>(name: "square") { $0 * $0 }
    /// ProcessPool.runWorkerIfRequested(serving: [square])
    /// // … the parent's program, which may create a ProcessPool and run `square`
    /// ```
    ///
    /// A worker reads one request at a time from its socket (descriptor 3),
    /// runs the job named in it, and writes the reply, without an event
    /// loop. It exits with status 0 when the pool closes the socket, and 1
    /// if writing a reply fails. A job that throws, or a request for a job
    /// not in `jobs`, answers an error (`ProcessPoolError.remote` in the
    /// parent); a job that crashes the process fails only that job.
    public static func runWorkerIfRequested(serving jobs: [any ProcessPoolJob]) {
        guard let value = getenv(workerVariable), let fd = Int32(String(cString: value)) else { return }
        // The worker's own children are not workers.
        unsetenv(workerVariable)
        var byName: [String: any ProcessPoolJob] = [:]
        for job in jobs { byName[job.name] = job }
        serve(fd, byName)
    }

    private static func serve(_ fd: Int32, _ jobs: [String: any ProcessPoolJob]) -> Never {
        while let body = PoolFrame.readBlocking(fd) {
            let reply: [UInt8]
            if body.first == PoolFrame.request, let (name, input) = PoolFrame.parseRequest(body.dropFirst()) {
                if let job = jobs[name] {
                    do {
                        reply = PoolFrame.frame(kind: PoolFrame.success, try job.run(encodedInput: input))
                    } catch {
                        reply = PoolFrame.frame(kind: PoolFrame.failure, Array("\(error)".utf8))
                    }
                } else {
                    reply = PoolFrame.frame(kind: PoolFrame.failure, Array("no job named \(name) in this worker".utf8))
                }
            } else {
                reply = PoolFrame.frame(kind: PoolFrame.failure, Array("malformed request".utf8))
            }
            guard PoolFrame.writeBlocking(fd, reply) else { exit(1) }
        }
        exit(0)
    }
}
