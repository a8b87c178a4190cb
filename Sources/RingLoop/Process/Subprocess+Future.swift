#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Waiting for a child from callback code: each call returns a `Future`
/// completed on the subprocess's loop, with the semantics of the `async`
/// call of the same name.
///
/// A future has no task to cancel it, so nothing kills the child on a
/// caller's behalf: bound the wait with `wait(deadline:)` (the child is then
/// left running, as Python's `Popen.wait(timeout)` leaves it), then
/// `send(signal:)` or `terminate(grace:)` it. The child is reaped by the
/// loop whether or not anybody waits.
///
/// ```swift
/// let child = try Subprocess.spawn(.name("sleep"), arguments: ["10"], on: loop)
/// child.wait(timeout: .seconds(1)).whenFailure { _ in child.terminate() }
/// ```
extension Subprocess {
    /// `wait()` for callback code: how the child ended, once the loop has
    /// reaped it. Fails with `SubprocessError.statusUnavailable` if
    /// something else reaped the child.
    public func wait() -> Future<TerminationStatus> {
        wait(deadline: .distantFuture)
    }

    /// `wait(deadline:)` for callback code: fails with
    /// `RingLoopError.timedOut(operation: "wait")` if the child is still
    /// running at `deadline` (it is left running; the timer is gone).
    public func wait(deadline: Deadline) -> Future<TerminationStatus> {
        if let status = monitor.status { return Future(eventLoop: eventLoop, result: status.mapError { $0 }) }
        return eventLoop.futureOperation(deadline: deadline, operation: "wait", Self.waitStarter(monitor))
    }

    /// `wait(deadline:)` for callback code, waiting at most `timeout`.
    public func wait(timeout: Duration) -> Future<TerminationStatus> {
        wait(deadline: .now() + timeout)
    }

    /// `terminate(grace:)` for callback code: sends `SIGTERM`, then `SIGKILL`
    /// if the child is still running after `grace`; the future completes
    /// with how it ended.
    @discardableResult
    public func terminate(grace: Duration = .seconds(5)) -> Future<TerminationStatus> {
        if let status = monitor.status { return Future(eventLoop: eventLoop, result: status.mapError { $0 }) }
        monitor.signal(SIGTERM)
        return eventLoop.futureOperation(Self.terminateStarter(monitor, eventLoop, grace))
    }

    /// `run(_:arguments:environment:workingDirectory:input:outputLimit:on:)`
    /// for callback code: runs the command to completion and completes on
    /// `loop` with its status and output.
    ///
    /// The run is a task on `loop` that nobody can cancel; `outputLimit`
    /// bounds what it collects (past it the child is killed). To bound the
    /// time too, `spawn` the child and use `wait(deadline:)`.
    ///
    /// ```swift
    /// Subprocess.run(.name("uname"), arguments: ["-r"], on: loop).whenSuccess { result in
    ///     print(result.standardOutputText)
    /// }
    /// ```
    public static func run(
        _ executable: Executable,
        arguments: [String] = [],
        environment: Environment = .inherit,
        workingDirectory: FilePath? = nil,
        input: [UInt8]? = nil,
        outputLimit: Int = 1 << 20,
        on loop: EventLoop
    ) -> Future<ExecutionResult> {
        loop.makeFutureWithTask {
            try await run(executable, arguments: arguments, environment: environment,
                          workingDirectory: workingDirectory, input: input, outputLimit: outputLimit, on: loop)
        }
    }
}
