#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Writes straight to a file descriptor: Swift 6 rejects C's `stdout`/`stderr` globals.
func writeFD(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }
}

func log(_ text: String) {
    writeFD(2, text + "\n")
}

struct SpawnError: Error, CustomStringConvertible {
    let description: String
}

/// The read end of a child's pipe, non-blocking. Keeps at most `keep` bytes: the tail of a
/// chatty stream is what matters for a failure report.
final class PipeReader {
    let fd: Int32
    private(set) var bytes: [UInt8] = []
    private(set) var eof = false
    private let keep: Int

    init(fd: Int32, keep: Int) {
        self.fd = fd
        self.keep = keep
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(fd) }

    /// Reads whatever is available now.
    func drain() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !eof {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                bytes.append(contentsOf: chunk[0..<n])
                if bytes.count > keep { bytes.removeFirst(bytes.count - keep) }
            } else if n == 0 {
                eof = true
            } else if errno == EINTR {
                continue
            } else {
                if errno != EAGAIN { eof = true }
                return
            }
        }
    }

    /// Removes and returns the first complete line, if there is one.
    func takeLine() -> String? {
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let line = String(decoding: bytes[..<newline], as: UTF8.self)
        bytes.removeFirst(newline + 1)
        return line
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Polls every reader until `done()` holds, every reader is at EOF, or `deadline` passes.
/// Returns whether `done()` held.
func pump(_ readers: [PipeReader], until deadline: Double, _ done: () -> Bool) -> Bool {
    while true {
        if done() { return true }
        let open = readers.filter { !$0.eof }
        let left = deadline - monotonicSeconds()
        if open.isEmpty || left <= 0 { return done() }
        var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), Int32(min(left * 1000, 1000)) + 1)
        if ready < 0 && errno != EINTR { return done() }
        for (i, reader) in open.enumerated() where fds[i].revents != 0 { reader.drain() }
    }
}

/// A child process with its stdout and stderr on pipes (and optionally a marks pipe as fd 3).
final class ChildProcess {
    let pid: pid_t
    let name: String
    let stdout: PipeReader
    let stderr: PipeReader
    let marks: PipeReader?
    private(set) var exitStatus: Int32?
    private(set) var usage = rusage()

    /// Starts `argv` (argv[0] is looked up in PATH when it has no slash).
    init(name: String, argv: [String], marksPipe: Bool = false) throws {
        self.name = name
        func makePipe() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else {
                throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))")
            }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            // Above the fds a child is given, so that dup2 never targets its own source.
            let write = fcntl(fds[1], F_DUPFD_CLOEXEC, 10)
            close(fds[1])
            return (fds[0], write)
        }
        let out = try makePipe()
        let err = try makePipe()
        let mk = marksPipe ? try makePipe() : nil

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out.write, 1)
        posix_spawn_file_actions_adddup2(&actions, err.write, 2)
        if let mk { posix_spawn_file_actions_adddup2(&actions, mk.write, 3) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Children start with default signal handling whatever ours is.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF))

        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] =
            ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = cArgs.withUnsafeBufferPointer { args in
            cEnv.withUnsafeBufferPointer { env in
                argv[0].contains("/")
                    ? posix_spawn(&child, argv[0], &actions, &attr, args.baseAddress!, env.baseAddress!)
                    : posix_spawnp(&child, argv[0], &actions, &attr, args.baseAddress!, env.baseAddress!)
            }
        }
        close(out.write)
        close(err.write)
        if let mk { close(mk.write) }
        stdout = PipeReader(fd: out.read, keep: 1 << 20)
        stderr = PipeReader(fd: err.read, keep: 8192)
        marks = mk.map { PipeReader(fd: $0.read, keep: 4096) }
        guard rc == 0 else {
            throw SpawnError(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        pid = child
        ChildRegistry.add(child)
    }

    var readers: [PipeReader] { [stdout, stderr] + (marks.map { [$0] } ?? []) }

    /// Reaps the child if it has exited; returns whether it has.
    @discardableResult
    func poll() -> Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        var ru = rusage()
        let r = wait4(pid, &status, WNOHANG, &ru)
        guard r == pid else { return false }
        exitStatus = status
        usage = ru
        ChildRegistry.remove(pid)
        return true
    }

    /// Waits for the child to exit until `deadline`, looking every `interval` seconds;
    /// returns whether it did.
    func wait(until deadline: Double, interval: Double = 0.005) -> Bool {
        while !poll() {
            if monotonicSeconds() >= deadline { return false }
            for reader in readers where !reader.eof { reader.drain() }
            usleep(UInt32(interval * 1e6))
        }
        return true
    }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    func stop(grace: Double = 2) {
        guard !poll() else { return }
        kill(pid, SIGTERM)
        if wait(until: monotonicSeconds() + grace) { return }
        kill(pid, SIGKILL)
        _ = wait(until: monotonicSeconds() + 10)
    }

    /// "exit 3", "signal 9", or "running".
    var statusText: String {
        guard let s = exitStatus else { return "running" }
        let sig = s & 0x7f
        return sig == 0 ? "exit \((s >> 8) & 0xff)" : "signal \(sig)"
    }

    var exitCode: Int32? {
        guard let s = exitStatus, s & 0x7f == 0 else { return nil }
        return (s >> 8) & 0xff
    }

    /// What the exited child used (CPU times, max RSS…).
    var resourceUsage: rusage { usage }

    /// CPU time the exited child used, user + system, in microseconds.
    var cpuMicroseconds: Double {
        Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    }
}

/// Splits a command line the way a shell would for plain words, quotes and backslashes.
func splitCommandLine(_ line: String) -> [String] {
    var words: [String] = []
    var current = ""
    var inWord = false
    var quote: Character?
    var escaped = false
    for ch in line {
        if escaped {
            current.append(ch)
            escaped = false
        } else if ch == "\\" && quote != "'" {
            escaped = true
            inWord = true
        } else if let q = quote {
            if ch == q { quote = nil } else { current.append(ch) }
        } else if ch == "'" || ch == "\"" {
            quote = ch
            inWord = true
        } else if ch == " " || ch == "\t" || ch == "\n" {
            if inWord { words.append(current) }
            current = ""
            inWord = false
        } else {
            current.append(ch)
            inWord = true
        }
    }
    if inWord { words.append(current) }
    return words
}
