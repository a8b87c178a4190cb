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

    package init() {}
}

/// One io_uring: submission batching, the operation table and completion
/// dispatch. Owned by one event loop and touched only on its thread (the ring
/// is set up with `SINGLE_ISSUER` where the kernel allows it).
///
/// This is the only layer that calls liburing.
final class Ring: IOBackend {
    /// Reserved `user_data` of the loop's wakeup read.
    static let wakeupUserData: UInt64 = 1 << 63 | 1
    /// Reserved `user_data` for SQEs whose completion nobody waits for (cancels).
    static let ignoredUserData: UInt64 = 0

    private let ring: UnsafeMutablePointer<io_uring>
    /// The `IORING_SETUP_*` flags the kernel accepted.
    let setupFlags: UInt32
    /// The kernel's `IORING_FEAT_*` bits.
    let features: UInt32
    private(set) var operations: OperationTable
    private let reapBuffer: UnsafeMutablePointer<ringloop_completion>
    private let asideBuffer: UnsafeMutablePointer<ringloop_completion>
    private static let batch = 256
    /// CQEs moved out of the CQ ring to make room (for an SQ flush that the
    /// kernel refused with `EBUSY` while completions were backed up); dispatched
    /// first at the next reap.
    private var deferred: [ringloop_completion] = []
    private var isClosed = false
    /// Set by `beginShutdown`: cancelled operations then report `.shutDown`.
    private var isShuttingDown = false
    /// The next provided-buffer group id to hand out.
    private var nextBufferGroup: UInt16 = 0
    /// Counters, for tests and the benchmark harness.
    private(set) var submitCalls = 0
    /// SQEs handed out by `nextSQE()` (statistics: SQEs per `submitCalls`).
    private(set) var preparedSQEs = 0
    private(set) var overflowFlushes = 0
    /// When set, completion handlers are called through this instead of
    /// directly (the loop times them for its slow-callback reports).
    var invokeHandler: ((CompletionHandler, Completion, UInt64) -> Void)?
    /// Registered ("fixed") buffers and files.
    private var fixedTables = FixedResourceTables()

    /// Sets up a ring, trying the most efficient flags first and falling back
    /// when the kernel refuses them (`EINVAL`).
    init(options: RingOptions) throws(RingLoopError) {
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
        var accepted: (UInt32, UInt32)?
        for flags in candidates {
            var params = io_uring_params()
            params.flags = flags
            params.cq_entries = options.completionQueueEntries
            let rc = options.setupOverride?(options.submissionQueueEntries, ring, &params)
                ?? io_uring_queue_init_params(options.submissionQueueEntries, ring, &params)
            if rc == 0 {
                accepted = (params.flags, params.features)
                break
            }
            lastError = rc
            // EINVAL: these flags are unknown to this kernel; try fewer.
            if rc != -EINVAL { break }
        }
        guard let (flags, features) = accepted else {
            ring.deallocate()
            throw Ring.unavailableError(-lastError)
        }
        self.ring = ring
        self.setupFlags = flags
        self.features = features
        self.operations = OperationTable(reserving: Int(options.submissionQueueEntries))
        self.reapBuffer = .allocate(capacity: Ring.batch)
        self.asideBuffer = .allocate(capacity: Ring.batch)
    }

    deinit {
        close()
        reapBuffer.deallocate()
        asideBuffer.deallocate()
        ring.deallocate()
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        io_uring_queue_exit(ring)
    }

    var usesDeferredTaskRun: Bool { setupFlags & IORING_SETUP_DEFER_TASKRUN != 0 }

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

    // MARK: Submission

    /// The next free SQE. When the SQ is full, submits what is queued and
    /// retries: an operation is never dropped.
    func nextSQE() -> SQE {
        while true {
            if let sqe = io_uring_get_sqe(ring) {
                preparedSQEs &+= 1
                return SQE(sqe)
            }
            flushSubmissions()
        }
    }

    /// Submits queued SQEs now, making room in the CQ if the kernel asks for it.
    private func flushSubmissions() {
        submitCalls += 1
        let rc = io_uring_submit(ring)
        if rc == -EBUSY || rc == -EAGAIN {
            // Completions are backed up (CQ overflow): move them aside so the
            // kernel can flush its overflow list, then let the caller retry.
            moveCompletionsAside()
        }
    }

    /// Prepares `operation`; the returned identifier can cancel it. `handler`
    /// (and what it owns) is kept until the final CQE.
    @inline(__always)
    func submit(_ operation: IOOperation, options: IOOperation.Options, handler: CompletionHandler, context: UInt64) -> OperationID {
        let sqe = nextSQE()
        sqe.prepare(operation, options: options)
        let id = operations.insert(handler, context: context)
        io_uring_sqe_set_data64(sqe.raw, id.userData)
        return id
    }

    /// Arms the loop's wakeup read (reserved `user_data`, no handler).
    func armWakeup(fd: Int32, buffer: UnsafeMutablePointer<UInt64>) {
        let sqe = nextSQE()
        sqe.prepare(.read(fd: fd, buffer: UnsafeMutableRawPointer(buffer), count: 8, offset: 0), options: [])
        io_uring_sqe_set_data64(sqe.raw, Ring.wakeupUserData)
    }

    func cancelWakeup() {
        cancel(userData: Ring.wakeupUserData)
    }

    /// Asks the kernel to cancel `id`. Its handler still gets a (usually
    /// `-ECANCELED`) final CQE; memory stays owned until then. Returns false if
    /// the operation already finished.
    @discardableResult
    func cancel(_ id: OperationID) -> Bool {
        guard operations.contains(id) else { return false }
        cancel(userData: id.userData)
        return true
    }

    private func cancel(userData: UInt64) {
        let sqe = nextSQE()
        io_uring_prep_cancel64(sqe.raw, userData, 0)
        io_uring_sqe_set_data64(sqe.raw, Ring.ignoredUserData)
    }

    /// Cancels every operation on `fd` (used before closing a descriptor that
    /// still has operations in flight).
    func cancelAll(fd: Int32) {
        let sqe = nextSQE()
        io_uring_prep_cancel_fd(sqe.raw, fd, UInt32(IORING_ASYNC_CANCEL_ALL))
        io_uring_sqe_set_data64(sqe.raw, Ring.ignoredUserData)
    }

    func beginShutdown() {
        isShuttingDown = true
        for id in operations.liveIDs() { cancel(userData: id.userData) }
    }

    var liveOperations: Int { operations.live }

    // MARK: Provided buffer rings

    /// Registers a provided-buffer ring at `address` (page-aligned, `entries`
    /// × `io_uring_buf`) under a fresh buffer group id. Returns the group id,
    /// or the kernel's negative errno. See `BufferRing`.
    func registerBufferRing(_ address: UnsafeMutableRawPointer, entries: UInt32) -> Result<UInt16, Errno> {
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: address))
        registration.ring_entries = entries
        registration.bgid = nextBufferGroup
        let rc = io_uring_register_buf_ring(ring, &registration, 0)
        guard rc == 0 else { return .failure(Errno(rawValue: -rc)) }
        nextBufferGroup &+= 1
        return .success(registration.bgid)
    }

    /// Unregisters a buffer ring; afterwards its memory may be unmapped.
    func unregisterBufferRing(group: UInt16) {
        guard !isClosed else { return }
        _ = io_uring_unregister_buf_ring(ring, Int32(group))
    }

    /// Registers a buffer in the ring's fixed-buffer table; returns its slot.
    func registerBuffer(address: UnsafeMutableRawPointer, count: Int) -> Result<UInt16, Errno> {
        fixedTables.registerBuffer(ring, address: address, count: count)
    }

    func unregisterBuffer(slot: UInt16) {
        fixedTables.unregisterBuffer(ring, slot: slot)
    }

    /// Registers a descriptor in the ring's fixed-file table; returns its slot.
    func registerFile(fd: Int32) -> Result<UInt32, Errno> {
        fixedTables.registerFile(ring, fd: fd)
    }

    func unregisterFile(slot: UInt32) {
        fixedTables.unregisterFile(ring, slot: slot)
    }

    func supports(_ operation: IOOperation) -> Bool {
        guard !isClosed else { return false }
        let opcode = SQE.opcode(of: operation)
        guard let probe = io_uring_get_probe_ring(ring) else { return false }
        defer { io_uring_free_probe(probe) }
        return io_uring_opcode_supported(probe, opcode) != 0
    }

    // MARK: Waiting and completion

    /// Submits every SQE prepared since the last call, in one syscall, and
    /// waits up to `timeoutNanoseconds` (nil: until a completion; 0: not at all)
    /// for at least one completion.
    func submitAndWait(timeoutNanoseconds: UInt64?) {
        submitCalls += 1
        var rc: Int32
        if timeoutNanoseconds == 0 || !deferred.isEmpty {
            rc = io_uring_submit_and_get_events(ring)
        } else {
            var cqe: UnsafeMutablePointer<io_uring_cqe>?
            if let ns = timeoutNanoseconds {
                var ts = __kernel_timespec(tv_sec: Int64(ns / 1_000_000_000), tv_nsec: Int64(ns % 1_000_000_000))
                rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, nil)
            } else {
                rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1, nil, nil)
            }
        }
        if rc == -EBUSY || rc == -EAGAIN {
            moveCompletionsAside()
        }
        // -ETIME (timeout) and -EINTR (signal) are ordinary wake-ups. SQEs the
        // kernel did not consume stay in the SQ and go with the next call.
    }

    /// Copies ready CQEs into `deferred`, freeing CQ slots without running
    /// handlers (this may be called from inside a handler).
    private func moveCompletionsAside() {
        overflowFlushes += 1
        while true {
            let n = Int(ringloop_reap(ring, asideBuffer, UInt32(Ring.batch)))
            if n == 0 { break }
            deferred.append(contentsOf: UnsafeBufferPointer(start: asideBuffer, count: n))
        }
        _ = io_uring_get_events(ring)
    }

    /// Dispatches every available completion: operation CQEs go to their
    /// handlers, reserved ones to `reserved`. Returns how many were handled.
    @discardableResult
    func processCompletions(wakeup: () -> Void) -> Int {
        var handled = 0
        let limit = 4 * Int(ring.pointee.cq.ring_entries)
        while handled < limit {
            if !deferred.isEmpty {
                let pending = deferred
                deferred.removeAll(keepingCapacity: true)
                for c in pending { dispatch(c, wakeup) }
                handled += pending.count
                continue
            }
            let n = Int(ringloop_reap(ring, reapBuffer, UInt32(Ring.batch)))
            if n == 0 {
                if ringloop_cq_overflowed(ring) != 0 {
                    overflowFlushes += 1
                    _ = io_uring_get_events(ring)
                    continue
                }
                break
            }
            for i in 0..<n { dispatch(reapBuffer[i], wakeup) }
            handled += n
        }
        return handled
    }

    @inline(__always)
    private func dispatch(_ c: ringloop_completion, _ wakeup: () -> Void) {
        if OperationTable.isReserved(c.user_data) {
            if c.user_data == Ring.wakeupUserData { wakeup() }
            return
        }
        let completion = Completion(result: c.res, flags: c.flags, shuttingDown: isShuttingDown)
        guard let (handler, context) = operations.take(c.user_data, final: !completion.hasMore) else { return }
        if let invokeHandler {
            invokeHandler(handler, completion, context)
        } else {
            handler.completed(completion, context: context)
        }
    }
}
