#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

extension Subprocess {
    /// What `run` collected: how the child ended and everything it wrote.
    public struct ExecutionResult: Sendable {
        /// The child's pid (already reaped).
        public let processIdentifier: pid_t
        /// How it ended.
        public let terminationStatus: TerminationStatus
        /// Everything it wrote to standard output.
        public let standardOutput: [UInt8]
        /// Everything it wrote to standard error.
        public let standardError: [UInt8]

        /// Standard output decoded as UTF-8 (invalid bytes repaired).
        public var standardOutputText: String { String(decoding: standardOutput, as: UTF8.self) }
        /// Standard error decoded as UTF-8 (invalid bytes repaired).
        public var standardErrorText: String { String(decoding: standardError, as: UTF8.self) }
    }

    /// Runs a command to completion, feeding it `input` and collecting its
    /// standard output and standard error (at most `outputLimit` bytes each).
    ///
    /// ```swift
    /// let result = try await Subprocess.run(.name("uname"), arguments: ["-r"], on: loop)
    /// print(result.terminationStatus, result.standardOutputText)
    /// ```
    ///
    /// - Parameters:
    ///   - executable: `.name("ls")` (looked up on `PATH`) or `.path("/bin/ls")`.
    ///   - arguments: the arguments after `argv[0]`.
    ///   - environment: `.inherit` (default), `.inherit.updating([...])`, `.custom([...])`.
    ///   - workingDirectory: where the child starts (default: the parent's).
    ///   - input: written to the child's standard input, which is then
    ///     closed; nil (default) gives it `/dev/null`. A child that exits
    ///     without reading all of it is not an error.
    ///   - outputLimit: bytes allowed per stream. Going over is an error, not
    ///     a silent truncation: a caller that set a limit usually parses the
    ///     output and should not parse half of it.
    ///   - loop: the loop that watches the child and runs its pipes.
    /// - Throws: `SubprocessError` from the spawn;
    ///   `SubprocessError.outputLimitExceeded` (the child is killed and
    ///   reaped); `IOError` from the pipes; `CancellationError` (the child is
    ///   killed and reaped).
    public static func run(
        _ executable: Executable,
        arguments: [String] = [],
        environment: Environment = .inherit,
        workingDirectory: FilePath? = nil,
        input: [UInt8]? = nil,
        outputLimit: Int = 1 << 20,
        on loop: EventLoop
    ) async throws -> ExecutionResult {
        let child = try spawn(
            executable, arguments: arguments, environment: environment, workingDirectory: workingDirectory,
            input: input == nil ? .discarded : .pipe, output: .pipe, error: .pipe, on: loop
        )
        let streams = [child.standardInput, child.standardOutput, child.standardError].compactMap { $0 }
        defer { for stream in streams { stream.close() } }
        do {
            let (output, error) = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                if let input, let stdin = child.standardInput {
                    group.addTask {
                        do {
                            try await stdin.write(input)
                        } catch let error as IOError where error.errno == .brokenPipe {
                            // The child exited, or closed its input, without reading all of it.
                        }
                        stdin.close()
                        return (0, [])
                    }
                }
                group.addTask { (1, try await collect(child.standardOutput!, "standardOutput", outputLimit)) }
                group.addTask { (2, try await collect(child.standardError!, "standardError", outputLimit)) }
                var collected: [Int: [UInt8]] = [:]
                for try await (index, bytes) in group { collected[index] = bytes }
                return (collected[1] ?? [], collected[2] ?? [])
            }
            let status = try await child.wait()
            return ExecutionResult(processIdentifier: child.pid, terminationStatus: status,
                                   standardOutput: output, standardError: error)
        } catch {
            // Over the limit, a broken pipe or cancellation: don't leave the
            // child running (the loop reaps it).
            child.send(signal: .kill)
            throw error
        }
    }

    /// Reads `stream` to its end, failing past `limit` bytes.
    private static func collect(_ stream: ByteStream, _ name: String, _ limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await chunk in stream.chunks() {
            guard bytes.count + chunk.count <= limit else {
                throw SubprocessError.outputLimitExceeded(stream: name, limit: limit)
            }
            bytes += chunk
        }
        return bytes
    }
}
