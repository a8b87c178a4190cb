import ExampleSupport
import RingLoop
import Synchronization
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// parallel-run: runs a command once per input line, at most N at a time
/// (like `xargs -P N -n 1`), printing each job's output as it comes, prefixed
/// by the job's number, then how the job ended.
///
///     printf 'a\nb\nc\n' | parallel-run -j 2 echo item
///     [1] item a
///     [2] item b
///     [1] exited(0)
///     ...
///
/// Ctrl-C (SIGINT) or SIGTERM: start no more jobs, send the running ones
/// SIGTERM (SIGKILL after 2 s), report how each ended, exit 130.
///
/// It puts together: `Subprocess` (spawn, pipes, wait, terminate),
/// `ByteStream` (stdin, the children's output, stdout), `AsyncSemaphore`
/// (at most N jobs) and `EventLoop.signals` (shutdown), all on one loop on
/// the main thread.
enum ParallelRun {
    static func main() -> Never {
        // First of all, before any thread exists: SIGINT/SIGTERM are to be
        // read on the loop, so no thread may take them the default way.
        Signal.block([.interrupt, .terminate])
        let options: Options
        do {
            options = try Options(CommandLine.arguments.dropFirst())
        } catch {
            error.exit()
        }
        let status = ExitStatus()
        do {
            try EventLoop.runOnCurrentThread { loop in
                Task(executorPreference: loop) {
                    let result = await run(options, on: loop)
                    status.value.withLock { $0 = result }
                    loop.shutdownGracefully {}
                }
            }
        } catch {
            complain("parallel-run: \(error)")
            exit(1)
        }
        exit(status.value.withLock { $0 })
    }

    /// One line to standard error (before or after the loop runs).
    static func complain(_ message: String) {
        let bytes = Array((message + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    struct Options: Sendable {
        var jobs = System.coreCount
        var command: [String] = []

        static let usage = "usage: parallel-run [-j N] command [argument...]  (one job per line of standard input)"

        /// Parses `arguments` (without the program name); everything from
        /// the command on is the command's.
        init(_ arguments: ArraySlice<String>) throws(UsageError) {
            let args = try CommandLineOptions(arguments, usage: Self.usage, options: ["-j"],
                                              aliases: ["--jobs": "-j"], optionsEndAtFirstPositional: true)
            jobs = try args.int("-j", in: 1...4096) ?? jobs
            guard !args.positional.isEmpty else { throw UsageError(Self.usage) }
            command = args.positional
        }
    }

    /// Runs every job; returns the exit status (0: all succeeded, 1: some
    /// failed, 130: interrupted).
    static func run(_ options: Options, on loop: EventLoop) async -> Int32 {
        let output = Output(loop: loop)
        let jobs = Jobs()
        // Reads the input and starts the jobs; cancelled by a signal.
        let dispatcher = Task(executorPreference: loop) {
            await dispatch(options, jobs: jobs, output: output, on: loop)
        }
        // Ctrl-C: stop starting jobs, and ask the running ones to stop.
        let watcher = Task(executorPreference: loop) {
            let signal = try await loop.waitForSignal([.interrupt, .terminate])
            output.write("parallel-run: \(signal): stopping")
            dispatcher.cancel()
            for child in jobs.stop() {
                Task { _ = try? await child.terminate(grace: .seconds(2)) }
            }
        }
        let allSucceeded = await dispatcher.value
        watcher.cancel()
        let interrupted = (try? await watcher.value) != nil
        await output.finish()
        return interrupted ? 130 : allSucceeded ? 0 : 1
    }

    /// One job per input line, at most `options.jobs` at once. Returns
    /// whether every job exited with 0.
    static func dispatch(_ options: Options, jobs: Jobs, output: Output, on loop: EventLoop) async -> Bool {
        let slots = AsyncSemaphore(value: options.jobs)
        let input = ByteStream(adopting: .standardInput, on: loop)
        var started: [Task<Bool, Never>] = []
        do {
            for try await line in input.lines where !line.isEmpty {
                try await slots.acquire()   // wait for a free slot (or a signal)
                let number = started.count + 1
                // Not a child task: cancelling the dispatcher must not cancel
                // the jobs; they are stopped by `terminate`, and report it.
                started.append(Task(executorPreference: loop) {
                    defer { slots.release() }
                    return await runJob(number, options.command + [line], jobs: jobs, output: output, on: loop)
                })
            }
        } catch is CancellationError {
            // A signal: start nothing more.
        } catch {
            output.write("parallel-run: reading input: \(error)")
        }
        input.close()
        var allSucceeded = true
        for job in started where !(await job.value) { allSucceeded = false }
        return allSucceeded
    }

    /// Runs one job, forwarding its output line by line.
    static func runJob(_ number: Int, _ command: [String], jobs: Jobs, output: Output, on loop: EventLoop) async -> Bool {
        let child: Subprocess
        do {
            guard let spawned = try jobs.spawn({
                try Subprocess.spawn(.name(command[0]), arguments: Array(command.dropFirst()),
                                     input: .discarded, output: .pipe, error: .pipe, on: loop)
            }) else { return false }   // stopping: not started
            child = spawned
        } catch {
            output.write("[\(number)] \(error)")
            return false
        }
        async let out: Void = forward(child.standardOutput!, "[\(number)] ", output)
        async let err: Void = forward(child.standardError!, "[\(number) stderr] ", output)
        _ = await (out, err)
        let status = try? await child.wait()
        jobs.finished(child)
        output.write("[\(number)] \(status.map { "\($0)" } ?? "unknown")")
        return status == .exited(0)
    }

    static func forward(_ stream: ByteStream, _ prefix: String, _ output: Output) async {
        do {
            for try await line in stream.lines { output.write(prefix + line) }
        } catch {
            output.write(prefix + "(\(error))")
        }
        stream.close()
    }
}

/// The running children, so that a signal can reach them all; once stopped,
/// no new child is started.
final class Jobs: Sendable {
    private let state = Mutex<(running: [ObjectIdentifier: Subprocess], stopped: Bool)>(([:], false))

    /// Starts a child with `spawn` unless stopped (then returns nil).
    func spawn(_ spawn: () throws -> Subprocess) throws -> Subprocess? {
        try state.withLock { state in
            guard !state.stopped else { return nil }
            let child = try spawn()
            state.running[ObjectIdentifier(child)] = child
            return child
        }
    }

    func finished(_ child: Subprocess) {
        _ = state.withLock { $0.running.removeValue(forKey: ObjectIdentifier(child)) }
    }

    /// Stops starting children; returns the running ones.
    func stop() -> [Subprocess] {
        state.withLock { state in
            state.stopped = true
            return Array(state.running.values)
        }
    }
}

/// Standard output, written one whole line at a time by a single writer
/// task, in the order lines were handed over.
final class Output: Sendable {
    private let lines = AsyncQueue<String>()
    private let writer: Task<Void, Never>

    init(loop: EventLoop) {
        let lines = lines
        writer = Task(executorPreference: loop) {
            let stdout = ByteStream(adopting: .standardOutput, on: loop)
            // get() throws once the queue is closed and drained.
            while let line = try? await lines.get() {
                try? await stdout.write(Array((line + "\n").utf8))
            }
            stdout.close()
        }
    }

    func write(_ line: String) {
        _ = try? lines.tryPut(line)
    }

    /// Writes what is queued, then stops.
    func finish() async {
        lines.close()
        await writer.value
    }
}

/// The exit status, handed from the run task to the thread that ran the loop.
final class ExitStatus: Sendable {
    let value = Mutex<Int32>(1)
}
