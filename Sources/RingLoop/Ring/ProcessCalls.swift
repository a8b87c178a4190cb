import CLiburing
#if canImport(Glibc)
import Glibc
#endif

/// The `waitid(2)` result buffer, owned by the operation that fills it.
package typealias WaitInfo = siginfo_t

extension WaitInfo {
    /// `CLD_EXITED`, `CLD_KILLED` or `CLD_DUMPED`.
    var childCode: Int32 {
        withUnsafePointer(to: self) { ringloop_siginfo_code($0) }
    }

    /// The exit code (`CLD_EXITED`) or the signal (killed or dumped).
    var childStatus: Int32 {
        withUnsafePointer(to: self) { ringloop_siginfo_status($0) }
    }
}

extension Ring {
    /// Whether this kernel's io_uring can perform `operation` (probed on a
    /// temporary ring, for facts that hold for the whole process).
    static func kernelSupports(_ operation: IOOperation) -> Bool {
        guard let probe = io_uring_get_probe() else { return false }
        defer { io_uring_free_probe(probe) }
        return io_uring_opcode_supported(probe, SQE.opcode(of: operation)) != 0
    }
}

/// System calls the process layer needs that glibc's Swift module does not
/// import (the shim spells them), gathered here so nothing above `Ring/`
/// imports `CLiburing`. They return -1 and set `errno` on failure.
enum ProcessCalls {
    /// pipe2(2) with `O_CLOEXEC`.
    static func pipe(_ fds: UnsafeMutablePointer<Int32>) -> Int32 { ringloop_pipe_cloexec(fds) }
    static func pidfdOpen(_ pid: pid_t) -> Int32 { ringloop_pidfd_open(pid) }
    static func pidfdSendSignal(_ pidfd: Int32, _ signal: Int32) -> Int32 { ringloop_pidfd_send_signal(pidfd, signal) }
    /// A close-on-exec, non-blocking signalfd for `mask` (`fd` -1), or a
    /// new mask for the signalfd `fd`.
    static func signalfd(_ fd: Int32, _ mask: inout sigset_t) -> Int32 { ringloop_signalfd(fd, &mask) }
    static func tgkill(thread: pid_t, _ signal: Int32) -> Int32 { ringloop_tgkill(thread, signal) }
    static func currentThreadID() -> pid_t { ringloop_gettid() }
    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29).
    static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32 {
        ringloop_spawn_addchdir(actions, path)
    }
    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34).
    static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ fd: Int32) -> Int32 {
        ringloop_spawn_addclosefrom(actions, fd)
    }
}
