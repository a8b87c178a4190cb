import Foundation

/// This test binary run again as a child process (with posix_spawn, so the
/// only descriptors it costs are its two pipes, closed again by `wait()`),
/// for tests that need a second process.
final class ChildProcess {
    private var pid: pid_t = 0
    private var input: Int32 = -1
    private var output: Int32 = -1

    init(arguments: [String], environment: [String: String]) throws {
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw POSIXError(.EMFILE) }
        // Close-on-exec, so that other children spawned meanwhile do not inherit them.
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(toChild[0])
        close(fromChild[1])
        input = toChild[1]
        output = fromChild[0]
        guard rc == 0 else {
            closeInput()
            close(output)
            output = -1
            throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL)
        }
    }

    /// The child's process ID (0 once it has been waited for).
    var processID: pid_t { pid }

    /// The next line the child wrote to its standard output (blocking).
    func readLine() -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(output, &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }

    /// Writes one line to the child's standard input.
    func send(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
    }

    /// Closes the child's standard input (it sees EOF).
    func closeInput() {
        if input >= 0 { close(input) }
        input = -1
    }

    /// Waits for the child to exit; returns its exit status (or -signal).
    func wait() -> Int32 {
        closeInput()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pid = 0
        if output >= 0 { close(output) }
        output = -1
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : -signal
    }

    /// Kills a child that is still running (cleanup after a failed test).
    func kill() {
        guard pid != 0 else { return }
        Glibc.kill(pid, SIGKILL)
        _ = wait()
    }

    // MARK: In the child

    /// Writes one line to standard output, unbuffered.
    static func report(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }

    /// The next line of standard input (blocking), nil at EOF.
    static func readInputLine() -> String? {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(0, &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }

    /// Blocks until standard input reaches EOF.
    static func waitForEndOfInput() {
        var byte: UInt8 = 0
        while read(0, &byte, 1) > 0 {}
    }
}
