import Logging
#if canImport(Glibc)
import Glibc
#endif

extension EventLoop {
    /// The kernel interface a loop performs its I/O with. The public API and
    /// its semantics are the same on both.
    ///
    /// By default a loop uses io_uring, and falls back to epoll when io_uring
    /// cannot be set up (a seccomp profile such as Docker's default denies
    /// `io_uring_setup`, `kernel.io_uring_disabled` forbids it, gVisor or a
    /// kernel older than 5.19 lacks it), logging one line at `notice` when it
    /// does. `EventLoop.Configuration.backend` or the environment variable
    /// `RINGLOOP_BACKEND=io_uring|epoll` forces one (the configuration wins).
    ///
    /// On epoll, what only io_uring has degrades to its plain form: registered
    /// files (`File.register()`) and buffers (`FixedBuffers`) are not
    /// registered, and sockets receive into a per-loop buffer pool instead of
    /// a kernel buffer ring. File operations run on a few worker threads per
    /// loop (started on first use), as SwiftNIO's and tokio's file I/O do.
    public enum Backend: String, Sendable, CustomStringConvertible {
        /// io_uring: operations are submitted to the kernel and complete there.
        case ioUring = "io_uring"
        /// epoll readiness: operations are tried without blocking and retried
        /// when their descriptor is ready; files go through worker threads.
        case epoll

        public var description: String { rawValue }

        /// The environment variable that forces a backend.
        public static let environmentVariable = "RINGLOOP_BACKEND"

        /// The backend `RINGLOOP_BACKEND` names, if it is set to one.
        static var fromEnvironment: Backend? {
            guard let raw = getenv(environmentVariable) else { return nil }
            let value = String(cString: raw).lowercased()
            switch value {
            case "io_uring", "iouring", "uring": return .ioUring
            case "epoll": return .epoll
            default: return nil
            }
        }
    }
}

/// The loop's backend, as a concrete enum over the two implementations: each
/// call is one switch and a static call, never an existential dispatch, so the
/// io_uring path costs what it did before there was a choice.
enum LoopBackend {
    case ioUring(Ring)
    case epoll(EpollBackend)

    /// Sets up the backend the configuration (then `RINGLOOP_BACKEND`) asks
    /// for; without either, io_uring, or epoll when io_uring is unavailable.
    static func make(_ configuration: EventLoop.Configuration, options: RingOptions) throws(RingLoopError) -> LoopBackend {
        var requested = configuration.backend
        if requested == nil, let raw = getenv(EventLoop.Backend.environmentVariable) {
            requested = EventLoop.Backend.fromEnvironment
            if requested == nil {
                configuration.logger.warning("unknown \(EventLoop.Backend.environmentVariable) value; choosing automatically", metadata: [
                    "value": "\(String(cString: raw))", "expected": "io_uring or epoll",
                ])
            }
        }
        switch requested {
        case .ioUring:
            return .ioUring(try Ring(options: options))
        case .epoll:
            return try makeEpoll(configuration)
        case nil:
            do {
                return .ioUring(try Ring(options: options))
            } catch {
                guard case .ioUringUnavailable = error else { throw error }
                FallbackNotice.logOnce(configuration.logger, reason: error)
                return try makeEpoll(configuration)
            }
        }
    }

    private static func makeEpoll(_ configuration: EventLoop.Configuration) throws(RingLoopError) -> LoopBackend {
        do {
            return .epoll(try EpollBackend(name: configuration.name, workerCPUs: configuration.kernelWorkerAffinity))
        } catch {
            throw .backendUnavailable(operation: error.call, errno: error.errno)
        }
    }

    var kind: EventLoop.Backend {
        switch self {
        case .ioUring: return .ioUring
        case .epoll: return .epoll
        }
    }

    @inline(__always)
    func submit(_ operation: IOOperation, options: IOOperation.Options, handler: CompletionHandler, context: UInt64) -> OperationID {
        switch self {
        case let .ioUring(ring): return ring.submit(operation, options: options, handler: handler, context: context)
        case let .epoll(epoll): return epoll.submit(operation, options: options, handler: handler, context: context)
        }
    }

    @inline(__always)
    @discardableResult
    func cancel(_ id: OperationID) -> Bool {
        switch self {
        case let .ioUring(ring): return ring.cancel(id)
        case let .epoll(epoll): return epoll.cancel(id)
        }
    }

    func cancelAll(fd: Int32) {
        switch self {
        case let .ioUring(ring): ring.cancelAll(fd: fd)
        case let .epoll(epoll): epoll.cancelAll(fd: fd)
        }
    }

    func beginShutdown() {
        switch self {
        case let .ioUring(ring): ring.beginShutdown()
        case let .epoll(epoll): epoll.beginShutdown()
        }
    }

    func supports(_ operation: IOOperation) -> Bool {
        switch self {
        case let .ioUring(ring): return ring.supports(operation)
        case let .epoll(epoll): return epoll.supports(operation)
        }
    }

    var liveOperations: Int {
        switch self {
        case let .ioUring(ring): return ring.liveOperations
        case let .epoll(epoll): return epoll.liveOperations
        }
    }

    func armWakeup(fd: Int32, buffer: UnsafeMutablePointer<UInt64>) {
        switch self {
        case let .ioUring(ring): ring.armWakeup(fd: fd, buffer: buffer)
        case let .epoll(epoll): epoll.armWakeup(fd: fd, buffer: buffer)
        }
    }

    func cancelWakeup() {
        switch self {
        case let .ioUring(ring): ring.cancelWakeup()
        case let .epoll(epoll): epoll.cancelWakeup()
        }
    }

    @inline(__always)
    func submitAndWait(timeoutNanoseconds: UInt64?) {
        switch self {
        case let .ioUring(ring): ring.submitAndWait(timeoutNanoseconds: timeoutNanoseconds)
        case let .epoll(epoll): epoll.submitAndWait(timeoutNanoseconds: timeoutNanoseconds)
        }
    }

    @inline(__always)
    @discardableResult
    func processCompletions(wakeup: () -> Void) -> Int {
        switch self {
        case let .ioUring(ring): return ring.processCompletions(wakeup: wakeup)
        case let .epoll(epoll): return epoll.processCompletions(wakeup: wakeup)
        }
    }

    func setInvokeHandler(_ body: ((CompletionHandler, Completion, UInt64) -> Void)?) {
        switch self {
        case let .ioUring(ring): ring.invokeHandler = body
        case let .epoll(epoll): epoll.invokeHandler = body
        }
    }

    func close() {
        switch self {
        case let .ioUring(ring): ring.close()
        case let .epoll(epoll): epoll.close()
        }
    }

    /// The ring, for what only io_uring has (registered files and buffers,
    /// buffer rings, ring statistics); nil on epoll.
    var ring: Ring? {
        if case let .ioUring(ring) = self { return ring }
        return nil
    }
}

/// The one log line that says a process runs on epoll because io_uring is
/// unavailable (not one per loop of a group).
enum FallbackNotice {
    private static let logged = LockedValue(false)

    static func logOnce(_ logger: Logger, reason: RingLoopError) {
        let first = logged.withLockedValue { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        logger.notice("io_uring is unavailable; running on epoll", metadata: [
            "reason": "\(reason)",
            "force": "set \(EventLoop.Backend.environmentVariable)=epoll to choose epoll without trying io_uring",
        ])
    }
}
