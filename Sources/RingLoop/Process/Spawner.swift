#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A child just started by `Spawner`: its pid, a pidfd when the kernel gave
/// one, and the parent's ends of the pipes it asked for. The caller owns
/// every descriptor here.
struct SpawnedChild {
    let pid: pid_t
    let pidfd: Int32
    /// errno of a failed pidfd_open (`pidfd` is then -1).
    let pidfdError: Int32
    let pipes: [Int32?]   // parent ends for stdin, stdout, stderr (nil: no pipe)
}

/// Starts a child with posix_spawn(3): glibc runs it with `clone(CLONE_VFORK)`
/// and reports a failed `chdir`/`exec` as the call's return code.
///
/// The child gets exactly descriptors 0, 1 and 2: every descriptor of ours is
/// close-on-exec, and `addclosefrom_np(3)` closes the rest even if another
/// library opened one without `O_CLOEXEC`. Its signal mask is emptied and its
/// signal dispositions reset (RingLoop's threads block signals, and a child
/// would otherwise inherit the block).
enum Spawner {
    static func spawn(
        _ executable: Subprocess.Executable, arguments: [String], environment: Subprocess.Environment,
        workingDirectory: FilePath?, stdio: [Subprocess.Redirection]
    ) throws(SubprocessError) -> SpawnedChild {
        let variables = environment.resolved(parent: currentEnvironment())
        let path = try resolve(executable, path: variables["PATH"] ?? currentEnvironment()["PATH"], workingDirectory: workingDirectory)

        // Descriptors to close in the parent once the child has them.
        var childEnds: [Int32] = []
        var parentEnds: [Int32?] = Array(repeating: nil, count: max(3, stdio.count))
        defer { for fd in childEnds { _ = close(fd) } }
        func fail(_ operation: String, _ code: Int32) -> SubprocessError {
            for fd in parentEnds.compactMap({ $0 }) { _ = close(fd) }
            return .spawnFailed(operation: operation, executable: executable.description, Errno(rawValue: code))
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, redirection) in stdio.enumerated() {
            let target = Int32(target)
            switch redirection {
            case .inherit:
                continue
            case .discarded:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .pipe:
                var fds: [Int32] = [-1, -1]
                guard ProcessCalls.pipe(&fds) == 0 else { throw fail("pipe2", errno) }
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                childEnds.append(childEnd)
                parentEnds[Int(target)] = parentEnd
                posix_spawn_file_actions_adddup2(&actions, childEnd, target)
            case let .fileDescriptor(fd):
                // A private close-on-exec copy above 2, so one redirection's
                // source is never another's target (stdout → fd 0, say).
                let copy = fcntl(fd.rawValue, F_DUPFD_CLOEXEC, 3)
                guard copy >= 0 else { throw fail("fcntl(F_DUPFD_CLOEXEC)", errno) }
                childEnds.append(copy)
                posix_spawn_file_actions_adddup2(&actions, copy, target)
            }
        }
        if let workingDirectory {
            let rc = workingDirectory.withPlatformString { ProcessCalls.addChdir(&actions, $0) }
            if rc != 0 { throw fail("posix_spawn_file_actions_addchdir_np", rc) }
        }
        // Entries past stdio (a pool worker's socket at 3) are kept too.
        _ = ProcessCalls.addCloseFrom(&actions, Int32(max(3, stdio.count)))

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable.argumentZero] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        // A child spawned on a pinned loop's thread would inherit the pin.
        let rc = CPUAffinity.withProcessDefault {
            path.withPlatformString { posix_spawn(&pid, $0, &actions, &attributes, argv, envp) }
        }
        guard rc == 0 else {
            for fd in parentEnds.compactMap({ $0 }) { _ = close(fd) }
            throw classify(rc, path: path, executable: executable, workingDirectory: workingDirectory)
        }
        // The child is ours and unreaped, so its pid cannot be reused before
        // the pidfd refers to it. -1 (EMFILE…) is handled by the caller.
        let pidfd = ProcessCalls.pidfdOpen(pid)
        return SpawnedChild(pid: pid, pidfd: pidfd, pidfdError: pidfd < 0 ? errno : 0, pipes: parentEnds)
    }

    /// Turns posix_spawn's return code into the error that names the culprit.
    private static func classify(_ rc: Int32, path: FilePath, executable: Subprocess.Executable, workingDirectory: FilePath?) -> SubprocessError {
        if let workingDirectory, rc == ENOENT || rc == ENOTDIR || rc == EACCES {
            // chdir runs before exec: blame the directory if it is the one
            // that cannot be entered.
            let usable = workingDirectory.withPlatformString { access($0, X_OK) == 0 }
            if !usable { return .failedToChangeWorkingDirectory(workingDirectory, Errno(rawValue: rc)) }
        }
        switch rc {
        case ENOENT, ENOTDIR: return .executableNotFound(path.string)
        case EACCES, EPERM: return .permissionDenied(path)
        default: return .spawnFailed(operation: "posix_spawn", executable: executable.description, Errno(rawValue: rc))
        }
    }

    /// The path to execute: a name is looked up in `PATH` (first executable
    /// match; a match that is not executable means permission denied).
    private static func resolve(_ executable: Subprocess.Executable, path: String?, workingDirectory: FilePath?) throws(SubprocessError) -> FilePath {
        let name: String
        switch executable.storage {
        case let .path(path): return path
        case let .name(n): name = n
        }
        if name.contains("/") { return FilePath(name) }
        var denied: FilePath?
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = FilePath(directory.isEmpty ? "." : String(directory)).appending(name)
            let (exists, runnable) = candidate.withPlatformString { (access($0, F_OK) == 0, access($0, X_OK) == 0) }
            if runnable, !isDirectory(candidate) { return candidate }
            if exists, denied == nil { denied = candidate }
        }
        if let denied { throw .permissionDenied(denied) }
        throw .executableNotFound(name)
    }

    private static func isDirectory(_ path: FilePath) -> Bool {
        var info = stat()
        return path.withPlatformString { stat($0, &info) } == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    private static func currentEnvironment() -> [String: String] {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return variables
    }
}

extension Subprocess.Executable {
    /// `argv[0]`: the name as given, or the path.
    var argumentZero: String { description }
}
