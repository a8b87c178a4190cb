import CLiburing
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One io_uring: submission batching, the operation table and completion
/// dispatch. Owned by one event loop and touched only on its thread (the ring
/// is set up with `SINGLE_ISSUER` where the kernel allows it).
///
/// This is the only layer that calls liburing.
///
/// The fields touched per operation are `@exclusivity(unchecked)`: they are
/// loop-thread only, and no access to them spans a call out of the ring
/// (`OperationTable` never calls out; a handler runs after `take` returned),
/// so no two accesses can overlap and the runtime checks only cost time.
final class Ring: IOBackend {
    /// Reserved `user_data` of the loop's wakeup read.
    static let wakeupUserData: UInt64 = 1 << 63 | 1
    /// Reserved `user_data` for SQEs whose completion nobody waits for (cancels).
    static let ignoredUserData: UInt64 = 0

    /// The liburing ring (also used by `Ring+Registration.swift`).
    let ring: UnsafeMutablePointer<io_uring>
    /// The `IORING_SETUP_*` flags the kernel accepted.
    let setupFlags: UInt32
    /// The kernel's `IORING_FEAT_*` bits.
    let features: UInt32
    @exclusivity(unchecked) private(set) var operations: OperationTable
    private let reapBuffer: UnsafeMutablePointer<ringloop_completion>
    private let asideBuffer: UnsafeMutablePointer<ringloop_completion>
    private static let batch = 256
    /// CQEs moved out of the CQ ring to make room (for an SQ flush that the
    /// kernel refused with `EBUSY` while completions were backed up); dispatched
    /// first at the next reap.
    @exclusivity(unchecked) private var deferred: [ringloop_completion] = []
    private(set) var isClosed = false
    /// Set by `beginShutdown`: cancelled operations then report `.shutDown`.
    @exclusivity(unchecked) private var isShuttingDown = false
    /// The next provided-buffer group id to hand out.
    var nextBufferGroup: UInt16 = 0
    /// Counters, for tests and the benchmark harness.
    @exclusivity(unchecked) private(set) var submitCalls = 0
    /// SQEs handed out by `nextSQE()` (statistics: SQEs per `submitCalls`).
    @exclusivity(unchecked) private(set) var preparedSQEs = 0
    private(set) var overflowFlushes = 0
    /// When set, completion handlers are called through this instead of
    /// directly (the loop times them for its slow-callback reports).
    @exclusivity(unchecked) var invokeHandler: ((CompletionHandler, Completion, UInt64) -> Void)?
    /// Registered ("fixed") buffers and files.
    var fixedTables = FixedResourceTables()

    /// Sets up a ring (see `Ring+Setup.swift`).
    init(options: RingOptions) throws(RingLoopError) {
        let (ring, flags, features) = try Ring.setUp(options)
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
