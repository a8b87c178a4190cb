#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// How to start a pool's workers.
struct PoolWorkerRecipe: Sendable {
    let executable: Subprocess.Executable
    let arguments: [String]
    let environment: Subprocess.Environment
    let loop: EventLoop

    func spawn() throws -> PoolWorkerProcess {
        try PoolWorkerProcess.spawn(executable, arguments: arguments, environment: environment, on: loop)
    }
}

/// One worker process of a `ProcessPool`, seen from the parent: the child,
/// and the parent's end of the socketpair it serves jobs on (a `ByteStream`
/// on the pool's loop).
///
/// The child gets descriptors 0 (`/dev/null`), 1 and 2 (the parent's) and
/// its end of the socket as 3; nothing else (`Spawner` closes the rest).
// Safe to share: `process`, `stream` and `pid` are immutable and Sendable;
// `killReason` is guarded by `lock`; `pending` (the partly read reply) is
// touched only by the slot's driver task, one exchange at a time.
final class PoolWorkerProcess: @unchecked Sendable {
    /// Why the pool killed the worker, which decides the job's error.
    enum KillReason { case timedOut, cancelled, shutDown }

    let process: Subprocess
    let stream: ByteStream
    var pid: pid_t { process.pid }
    private let lock = Lock()
    private var reason: KillReason?
    private var pending: [UInt8] = []
    private let readBuffer = FileBuffer(capacity: 64 << 10)

    private init(process: Subprocess, stream: ByteStream) {
        self.process = process
        self.stream = stream
    }

    /// Starts a worker.
    ///
    /// - Throws: `IOError("socketpair", …)`, `SubprocessError`.
    static func spawn(_ executable: Subprocess.Executable, arguments: [String], environment: Subprocess.Environment,
                      on loop: EventLoop) throws -> PoolWorkerProcess {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { throw IOError("socketpair", Errno(rawValue: errno)) }
        // The child's end is duplicated into the child as 3 and closed here
        // once it has been; the parent's end belongs to the stream.
        defer { _ = close(fds[1]) }
        let stream = ByteStream(adopting: FileDescriptor(rawValue: fds[0]), on: loop)
        let process = try Subprocess.spawn(
            executable, arguments: arguments,
            environment: environment.updating([ProcessPool.workerVariable: "\(ProcessPool.workerDescriptor)"]),
            workingDirectory: nil,
            stdio: [.discarded, .inherit, .inherit, .fileDescriptor(FileDescriptor(rawValue: fds[1]))],
            usingWaitid: ProcessMonitor.kernelHasWaitid, on: loop)
        return PoolWorkerProcess(process: process, stream: stream)
    }

    /// Kills the worker (any thread); the first reason given sticks.
    func kill(_ why: KillReason) {
        lock.withLock { if reason == nil { reason = why } }
        process.send(signal: .kill)
    }

    var killReason: KillReason? { lock.withLock { reason } }

    /// Sends a request and reads the reply's body (kind byte first).
    ///
    /// - Throws: `IOError` from the socket, or `IOError("read", .connectionReset)`
    ///   when the worker closed it: either way the worker is gone or broken.
    func exchange(_ request: [UInt8]) async throws -> [UInt8] {
        try await stream.write(request)
        while true {
            if pending.count >= 4 {
                let length = PoolFrame.length(pending)
                guard length >= 1, length <= PoolFrame.maxLength else { throw IOError("read", .protocolError) }
                if pending.count >= 4 + length {
                    let body = Array(pending[4..<(4 + length)])
                    pending.removeFirst(4 + length)
                    return body
                }
            }
            let n = try await stream.read(into: readBuffer)
            guard n > 0 else { throw IOError("read", .connectionReset) }
            readBuffer.withUnsafeBytes { pending.append(contentsOf: $0.prefix(n)) }
        }
    }

    /// Kills the worker if it still runs and waits until it is reaped.
    func reap() async -> TerminationStatus? {
        process.send(signal: .kill)
        stream.close()
        return await waitUncancellably()
    }

    /// Asks the worker to exit (closing its socket: it exits 0 when idle)
    /// and waits until it is reaped.
    func retire() async -> TerminationStatus? {
        stream.close()
        return await waitUncancellably()
    }

    /// Waits for the loop to reap the worker (drivers are never cancelled;
    /// nil only if something else reaped it).
    private func waitUncancellably() async -> TerminationStatus? {
        try? await process.wait(killOnCancel: false)
    }
}
