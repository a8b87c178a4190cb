#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A child process whose exit, and whose pipes, are watched on an event loop.
///
/// ```swift
/// let child = try Subprocess.spawn(.name("grep"), arguments: ["-n", "error"],
///                                  input: .pipe, output: .pipe, on: loop)
/// Task { try await child.standardInput!.write(logBytes); child.standardInput!.close() }
/// for try await line in child.standardOutput!.lines { print(line) }
/// let status = try await child.wait()            // .exited(0), .signaled(.kill)…
/// ```
///
/// For a command whose output fits in memory, `Subprocess.run` does all of
/// that in one call.
///
/// **Reaping.** Every child is reaped exactly once, by the loop: with
/// io_uring's waitid operation where the kernel has it (Linux 6.7; probed), otherwise
/// by polling a pidfd on the ring. A `Subprocess` dropped without `wait()`
/// keeps running and is still reaped when it exits; cancelling a `wait()`
/// kills the child (unless `killOnCancel` is false) and it is reaped as well.
/// A loop that shuts down kills and reaps the children it still watches.
///
/// **Descriptors.** The child gets descriptors 0, 1 and 2 as asked
/// (`Redirection`), and nothing else: RingLoop opens every descriptor
/// close-on-exec, and the spawn closes any other above 2 in the child.
///
/// **Signals.** The child starts with an empty signal mask and default
/// signal actions, whatever RingLoop blocked in the spawning thread.
///
/// **Errors.** `SubprocessError`: `.executableNotFound`, `.permissionDenied`,
/// `.failedToChangeWorkingDirectory` (each naming the path), `.spawnFailed`.
public final class Subprocess: Sendable {
    /// The child's process id (valid as long as it has not been reaped).
    public let pid: pid_t
    /// The loop that watches the child and runs its pipes.
    public let eventLoop: EventLoop
    /// The write end of the child's standard input, with `.pipe`.
    public let standardInput: ByteStream?
    /// The read end of the child's standard output, with `.pipe`.
    public let standardOutput: ByteStream?
    /// The read end of the child's standard error, with `.pipe`.
    public let standardError: ByteStream?
    let monitor: ProcessMonitor

    private init(_ child: SpawnedChild, monitor: ProcessMonitor, loop: EventLoop) {
        pid = child.pid
        eventLoop = loop
        self.monitor = monitor
        let streams = child.pipes.map { $0.map { ByteStream(adopting: FileDescriptor(rawValue: $0), on: loop) } }
        standardInput = streams[0]
        standardOutput = streams[1]
        standardError = streams[2]
    }

    /// Starts `executable` with `arguments`.
    ///
    /// - Parameters:
    ///   - executable: `.name("ls")` (looked up on `PATH`) or `.path("/bin/ls")`.
    ///   - arguments: the arguments after `argv[0]` (which is the executable
    ///     as given).
    ///   - environment: `.inherit` (default), `.inherit.updating([...])`, `.custom([...])`.
    ///   - workingDirectory: where the child starts (default: the parent's).
    ///   - input: the child's standard input: `.inherit` (default),
    ///     `.discarded`, `.pipe`, `.fileDescriptor(fd)`.
    ///   - output: the child's standard output, likewise.
    ///   - error: the child's standard error, likewise.
    ///   - loop: the loop that watches the child and runs its pipes.
    /// - Throws: `SubprocessError`.
    public static func spawn(
        _ executable: Executable,
        arguments: [String] = [],
        environment: Environment = .inherit,
        workingDirectory: FilePath? = nil,
        input: Redirection = .inherit,
        output: Redirection = .inherit,
        error: Redirection = .inherit,
        on loop: EventLoop
    ) throws(SubprocessError) -> Subprocess {
        try spawn(executable, arguments: arguments, environment: environment, workingDirectory: workingDirectory,
                  stdio: [input, output, error], usingWaitid: ProcessMonitor.kernelHasWaitid, on: loop)
    }

    /// `spawn`, choosing how the exit is watched (tests cover both ways).
    static func spawn(
        _ executable: Executable, arguments: [String], environment: Environment, workingDirectory: FilePath?,
        stdio: [Redirection], usingWaitid: Bool, on loop: EventLoop
    ) throws(SubprocessError) -> Subprocess {
        let child = try Spawner.spawn(executable, arguments: arguments, environment: environment,
                                      workingDirectory: workingDirectory, stdio: stdio)
        // waitid is an io_uring operation; on epoll the pidfd is polled.
        let waitid = usingWaitid && loop.ioBackend == .ioUring
        let monitor = ProcessMonitor(loop: loop, pid: child.pid, pidfd: child.pidfd, usesWaitid: waitid)
        let process = Subprocess(child, monitor: monitor, loop: loop)
        if child.pidfd < 0 && !waitid {
            // Nothing to watch it with (no pidfd, no waitid): undo the spawn.
            monitor.reapAfterKilling()
            throw .spawnFailed(operation: "pidfd_open", executable: executable.description, Errno(rawValue: child.pidfdError))
        }
        if loop.inEventLoop {
            monitor.start()
        } else {
            loop.execute { monitor.start() }
        }
        return process
    }

    /// The status, if the child has been reaped already.
    public var terminationStatus: TerminationStatus? {
        try? monitor.status?.get()
    }

    /// Waits for the child to end (it is reaped by the loop, not here).
    ///
    /// - Parameter killOnCancel: if the task is cancelled first, the child is
    ///   sent `SIGKILL` (default) or, when false, left running; either way
    ///   `CancellationError` is thrown and the loop still reaps the child.
    /// - Throws: `CancellationError`; `SubprocessError.statusUnavailable` if
    ///   something else reaped the child.
    public func wait(killOnCancel: Bool = true) async throws -> TerminationStatus {
        try await wait(deadline: .distantFuture, killOnCancel: killOnCancel)
    }

    /// `wait(killOnCancel:)`, waiting until `deadline` at most: Python's
    /// `Popen.wait(timeout)`. When the deadline passes first the child is
    /// left running (as Python's `TimeoutExpired` leaves it): wait again,
    /// or `terminate(grace:)` it.
    /// - Throws: `RingLoopError.timedOut(operation: "wait")`, or what
    ///   `wait(killOnCancel:)` throws.
    public func wait(deadline: Deadline, killOnCancel: Bool = true) async throws -> TerminationStatus {
        if let status = monitor.status { return try status.get() }
        let monitor = monitor
        do {
            return try await eventLoop.awaitOperation(deadline: deadline, operation: "wait", Self.waitStarter(monitor))
        } catch let error as CancellationError {
            if killOnCancel { monitor.signal(SIGKILL) }
            throw error
        }
    }

    /// Waits for the reaping for a waiter (task or future); its cancel (or
    /// deadline) only stops the waiting.
    static func waitStarter(_ monitor: ProcessMonitor) -> @Sendable (AsyncWaiter<TerminationStatus>) -> Void {
        { waiter in
            guard let token = monitor.whenReaped({ waiter.resume($0) }) else { return }
            waiter.onCancel = { monitor.removeWaiter(token) }
        }
    }

    /// `wait(killOnCancel:)`, waiting at most `timeout`; see `wait(deadline:killOnCancel:)`.
    public func wait(timeout: Duration, killOnCancel: Bool = true) async throws -> TerminationStatus {
        try await wait(deadline: .now() + timeout, killOnCancel: killOnCancel)
    }

    /// Sends `signal` to the child (through its pidfd, so never to a process
    /// that reused its pid).
    ///
    /// - Returns: false if the child had already been reaped.
    @discardableResult
    public func send(signal: Signal) -> Bool {
        monitor.signal(signal.rawValue)
    }

    /// Asks the child to stop: `SIGTERM`, then `SIGKILL` if it is still
    /// running after `grace`. Returns how it ended.
    ///
    /// - Throws: `CancellationError` (the child is then sent `SIGKILL` at
    ///   once, and reaped by the loop).
    public func terminate(grace: Duration = .seconds(5)) async throws -> TerminationStatus {
        if let status = monitor.status { return try status.get() }
        monitor.signal(SIGTERM)
        let monitor = monitor
        let loop = eventLoop
        do {
            return try await terminating(monitor, loop, grace)
        } catch let error as CancellationError {
            monitor.signal(SIGKILL)
            throw error
        }
    }

    private func terminating(_ monitor: ProcessMonitor, _ loop: EventLoop, _ grace: Duration) async throws -> TerminationStatus {
        try await loop.awaitOperation(Self.terminateStarter(monitor, loop, grace))
    }

    /// Waits for the reaping of a child sent `SIGTERM`, sending `SIGKILL`
    /// after `grace` (loop thread).
    static func terminateStarter(
        _ monitor: ProcessMonitor, _ loop: EventLoop, _ grace: Duration
    ) -> @Sendable (AsyncWaiter<TerminationStatus>) -> Void {
        { waiter in
            var timer: TimerNode?
            guard let token = monitor.whenReaped({ result in
                if let timer { _ = loop.cancelTimer(timer) }
                waiter.resume(result)
            }) else { return }
            timer = loop.scheduleTimer(at: .now() + grace) { fired in
                if fired { monitor.signal(SIGKILL) }
            }
            waiter.onCancel = {
                monitor.removeWaiter(token)
                if let timer { _ = loop.cancelTimer(timer) }
            }
        }
    }
}
