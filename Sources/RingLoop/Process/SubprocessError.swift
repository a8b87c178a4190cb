import SystemPackage

/// Why a child process could not be started or watched. Each case names the
/// path or operation involved.
public enum SubprocessError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No executable by this name on `PATH`, or no file at this path.
    case executableNotFound(String)
    /// The file exists but may not be executed (no execute bit, a
    /// directory, a `noexec` mount).
    case permissionDenied(FilePath)
    /// The child could not change into this working directory.
    case failedToChangeWorkingDirectory(FilePath, Errno)
    /// posix_spawn(3) (or a call preparing it: `pipe2`, `open`) failed.
    case spawnFailed(operation: String, executable: String, Errno)
    /// `run` collected more than `limit` bytes from the named stream
    /// (`"standardOutput"` or `"standardError"`); the child was killed.
    case outputLimitExceeded(stream: String, limit: Int)
    /// The child was reaped by someone else (a `waitpid(-1…)` elsewhere, or
    /// `SIGCHLD` set to `SIG_IGN`), so its status is lost.
    case statusUnavailable(pid: Int32, Errno)

    public var description: String {
        switch self {
        case let .executableNotFound(name): return "executable not found: \(name)"
        case let .permissionDenied(path): return "permission denied executing \(path)"
        case let .failedToChangeWorkingDirectory(path, errno): return "cannot change to working directory \(path): \(errno)"
        case let .spawnFailed(operation, executable, errno): return "\(operation) failed spawning \(executable): \(errno)"
        case let .outputLimitExceeded(stream, limit): return "the child wrote more than \(limit) bytes to \(stream)"
        case let .statusUnavailable(pid, errno): return "the status of process \(pid) is unavailable (waitid: \(errno))"
        }
    }
}
