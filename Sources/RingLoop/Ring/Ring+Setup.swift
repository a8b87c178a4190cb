import CLiburing
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// How a ring is set up. Sizes are rounded up to powers of two by the kernel.
package struct RingOptions: Sendable {
    /// Submission queue entries.
    package var submissionQueueEntries: UInt32 = 1024
    /// Completion queue entries; larger than the SQ so multishot operations
    /// and bursts rarely overflow it (overflow is handled, but costs a syscall).
    package var completionQueueEntries: UInt32 = 8192
    /// Replaces `io_uring_queue_init_params` (tests inject failures here).
    /// Returns 0 or a negative errno.
    package var setupOverride: (@Sendable (UInt32, UnsafeMutablePointer<io_uring>, UnsafeMutablePointer<io_uring_params>) -> Int32)?
    /// The CPUs the ring's io-wq workers may run on; nil: the kernel's choice.
    package var kernelWorkerCPUs: [Int]?

    package init() {}
}

extension Ring {
    /// Sets up a ring, trying the most efficient flags first and falling back
    /// when the kernel refuses them (`EINVAL`). Returns the ring (owned by the
    /// caller), the flags the kernel accepted and its feature bits.
    static func setUp(_ options: RingOptions) throws(RingLoopError) -> (UnsafeMutablePointer<io_uring>, UInt32, UInt32) {
        let base = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL
        let candidates: [UInt32] = [
            base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN,
            base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
            base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
            base | IORING_SETUP_COOP_TASKRUN,
            IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP,
            0,
        ]
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        ring.initialize(to: io_uring())
        var lastError: Int32 = -ENOSYS
        for flags in candidates {
            var params = io_uring_params()
            params.flags = flags
            params.cq_entries = options.completionQueueEntries
            let rc = options.setupOverride?(options.submissionQueueEntries, ring, &params)
                ?? io_uring_queue_init_params(options.submissionQueueEntries, ring, &params)
            if rc == 0 {
                if let cpus = options.kernelWorkerCPUs {
                    var set = CPUAffinity.mask(cpus)
                    let rc = io_uring_register_iowq_aff(ring, MemoryLayout<cpu_set_t>.size, &set)
                    if rc < 0 {
                        io_uring_queue_exit(ring)
                        ring.deallocate()
                        throw .invalidConfiguration(
                            setting: "kernelWorkerAffinity",
                            reason: "io_uring_register_iowq_aff(\(cpus)): \(Errno(rawValue: -rc))")
                    }
                }
                return (ring, params.flags, params.features)
            }
            lastError = rc
            // EINVAL: these flags are unknown to this kernel; try fewer.
            if rc != -EINVAL { break }
        }
        ring.deallocate()
        throw Ring.unavailableError(-lastError)
    }

    static func unavailableError(_ code: Int32) -> RingLoopError {
        let errno = Errno(rawValue: code)
        let hint: String
        switch code {
        case ENOSYS:
            hint = "this kernel has no io_uring (Linux 5.19 or newer is needed); RingLoop cannot run here"
        case EPERM, EACCES:
            var detail = "a seccomp profile (Docker/Kubernetes default) blocks io_uring_setup, or sysctl kernel.io_uring_disabled forbids it"
            if let disabled = Ring.readSysctl("/proc/sys/kernel/io_uring_disabled"), disabled != "0" {
                detail = "sysctl kernel.io_uring_disabled=\(disabled) forbids it (set it to 0, or add this user to kernel.io_uring_group)"
            }
            hint = detail + "; run with a seccomp profile that allows io_uring_setup/io_uring_enter/io_uring_register"
        case ENOMEM:
            hint = "the kernel could not allocate the ring (raise RLIMIT_MEMLOCK on kernels before 5.12, or use smaller queues)"
        case EMFILE, ENFILE:
            hint = "the process is out of file descriptors"
        default:
            hint = "the kernel refused io_uring_setup"
        }
        return .ioUringUnavailable(errno: errno, hint: hint)
    }

    private static func readSysctl(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].filter { $0 > 32 }, as: UTF8.self)
    }
}
