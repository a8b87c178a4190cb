import CLiburing
#if canImport(Glibc)
import Glibc
#endif

/// The `waitid(2)` result buffer, owned by the operation that fills it.
typealias WaitInfo = siginfo_t

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

/// Preparation of the process operations.
extension SQE {
    /// `waitid(P_PID, pid, info, WEXITED)` as `IORING_OP_WAITID` (Linux 6.7),
    /// filled by hand: liburing 2.3 has no helper. Probe `Ring.opWaitid` first.
    /// Reaps the child; `info` must stay valid until the final CQE.
    func prepareWaitid(pid: pid_t, into info: UnsafeMutablePointer<WaitInfo>) {
        ringloop_prep_waitid(raw, P_PID, id_t(pid), info, WEXITED)
    }

    /// A read or write at the descriptor's current position (offset -1), as
    /// pipes, FIFOs, ttys and character devices need.
    func prepareStreamRead(fd: Int32, into buffer: UnsafeMutableRawPointer, count: UInt32) {
        io_uring_prep_read(raw, fd, buffer, count, UInt64.max)
    }

    func prepareStreamWrite(fd: Int32, from buffer: UnsafeRawPointer, count: UInt32) {
        io_uring_prep_write(raw, fd, buffer, count, UInt64.max)
    }
}

extension Ring {
    static let opWaitid = ringloop_OP_WAITID

    /// Whether this kernel's io_uring knows `opcode` (probed on a temporary
    /// ring, for facts that hold for the whole process).
    static func kernelSupports(opcode: Int32) -> Bool {
        guard let probe = io_uring_get_probe() else { return false }
        defer { io_uring_free_probe(probe) }
        return io_uring_opcode_supported(probe, opcode) != 0
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
    /// A close-on-exec signalfd for `mask`.
    static func signalfd(_ mask: inout sigset_t) -> Int32 { ringloop_signalfd(&mask) }
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
