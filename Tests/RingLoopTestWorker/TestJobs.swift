#if canImport(Glibc)
import Glibc
#endif
import RingLoop

/// A job's error, to check that its message reaches the parent.
struct TestJobError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The jobs the ProcessPool tests run (the tests declare the same names and
/// types; only the worker's bodies run).
enum TestJobs {
    static let square = ProcessPool.Job<Int, Int>(name: "square") { $0 * $0 }
    static let echo = ProcessPool.Job<String, String>(name: "echo") { $0 }
    static let fail = ProcessPool.Job<String, String>(name: "fail") { throw TestJobError(message: $0) }
    static let abort = ProcessPool.Job<Int, Int>(name: "abort") { _ in Glibc.abort() }
    static let exit = ProcessPool.Job<Int32, Int>(name: "exit") { Glibc.exit($0) }
    static let pid = ProcessPool.Job<Int, Int32>(name: "pid") { _ in getpid() }
    /// Sleeps this many milliseconds.
    static let sleep = ProcessPool.Job<Int, Int>(name: "sleep") { ms in
        usleep(UInt32(ms) * 1000)
        return ms
    }
    /// Waits (at most 20 s) until a file exists: a gate the test opens.
    static let waitForFile = ProcessPool.Job<String, Bool>(name: "waitForFile") { path in
        for _ in 0..<20_000 {
            if access(path, F_OK) == 0 { return true }
            usleep(1000)
        }
        return false
    }
    /// Creates a file: a side effect the test can look for.
    static let touch = ProcessPool.Job<String, Bool>(name: "touch") { path in
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }
    /// The worker's open descriptors (without the one listing them).
    static let descriptors = ProcessPool.Job<Int, [Int32]>(name: "descriptors") { _ in
        guard let directory = opendir("/proc/self/fd") else { throw TestJobError(message: "opendir failed") }
        defer { closedir(directory) }
        let own = dirfd(directory)
        var fds: [Int32] = []
        while let entry = readdir(directory) {
            // Read in place up to the NUL: the last entry of readdir's buffer
            // can end before the declared 256-byte d_name does, so copying
            // `entry.pointee.d_name` whole would read past the buffer.
            let nameOffset = MemoryLayout<dirent>.offset(of: \.d_name)!
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if let fd = Int32(name), fd != own { fds.append(fd) }
        }
        return fds.sorted()
    }

    static let all: [any ProcessPoolJob] = [square, echo, fail, abort, exit, pid, sleep, waitForFile, touch, descriptors]
}
