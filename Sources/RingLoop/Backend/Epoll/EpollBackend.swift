import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The loop's I/O on epoll readiness, for where io_uring is unavailable
/// (seccomp profiles, `kernel.io_uring_disabled`, gVisor, old kernels): the
/// same `IOOperation`s and `Completion`s as `Ring`, emulated by an
/// `EpollReactor`.
///
/// What differs, by design:
/// - Sockets and streams are tried without blocking and retried on readiness;
///   files and paths run on the reactor's worker threads.
/// - Provided-buffer groups are plain pools (`ProvidedBufferPool`): same ids,
///   same `ENOBUFS` when empty.
/// - Registered buffers and files do not exist: `File.register()` and
///   `FixedBuffers` degrade to plain descriptors and buffers (see there), and
///   `.fixedFile`, `.linkNext` and `.forceAsync` are never needed.
///
/// Loop thread only.
final class EpollBackend: IOBackend {
    /// Reserved `userData` of the loop's wakeup read (top bit set, like the
    /// ring's reserved values, so it never collides with an operation id).
    private static let wakeupUserData: UInt64 = 1 << 63 | 1

    private let reactor: EpollReactor
    private var operations = OperationTable(reserving: 256)
    private var isShuttingDown = false
    /// Buffer pools by group id.
    private var pools: [ProvidedBufferPool?] = []
    /// `epoll_wait` calls so far (the analogue of the ring's enter count).
    private(set) var waitCalls = 0
    /// Operations submitted so far.
    private(set) var submissions = 0
    var invokeHandler: ((CompletionHandler, Completion, UInt64) -> Void)?

    init(blockingThreads: Int = 4, name: String, workerCPUs: [Int]? = nil) throws(BackendCallFailure) {
        reactor = try EpollReactor(
            blockingThreads: blockingThreads, name: String("\(name)-io".utf8.prefix(15)) ?? "ringloop-io",
            workerCPUs: workerCPUs)
    }

    // MARK: IOBackend

    @inline(__always)
    func submit(_ operation: IOOperation, options: IOOperation.Options, handler: CompletionHandler, context: UInt64) -> OperationID {
        submissions &+= 1
        let id = operations.insert(handler, context: context)
        reactor.submit(userData: id.userData, translate(operation))
        return id
    }

    @discardableResult
    func cancel(_ id: OperationID) -> Bool {
        guard operations.contains(id) else { return false }
        reactor.cancel(userData: id.userData)
        return true
    }

    func cancelAll(fd: Int32) {
        reactor.cancelAll(fd: fd)
    }

    func beginShutdown() {
        isShuttingDown = true
        for id in operations.liveIDs() { reactor.cancel(userData: id.userData) }
    }

    /// Everything but `waitid` runs here (what epoll cannot wait for runs on
    /// a worker); a child's exit is watched by polling its pidfd instead.
    func supports(_ operation: IOOperation) -> Bool {
        if case .waitid = operation { return false }
        return true
    }

    var liveOperations: Int { operations.live }

    func armWakeup(fd: Int32, buffer: UnsafeMutablePointer<UInt64>) {
        reactor.submit(userData: EpollBackend.wakeupUserData, .streamRead(fd: fd, buffer: UnsafeMutableRawPointer(buffer), count: 8))
    }

    func cancelWakeup() {
        reactor.cancel(userData: EpollBackend.wakeupUserData)
    }

    func submitAndWait(timeoutNanoseconds: UInt64?) {
        waitCalls += 1
        reactor.wait(timeoutNanoseconds: timeoutNanoseconds)
    }

    @discardableResult
    func processCompletions(wakeup: () -> Void) -> Int {
        reactor.processCompletions { c in
            if c.userData == EpollBackend.wakeupUserData {
                wakeup()
                return
            }
            // Every completion the reactor posts belongs to a live record:
            // the record goes only with the final completion.
            guard let (handler, context) = operations.take(c.userData, final: !c.hasMore) else { return }
            let outcome: Completion.Outcome
            if c.result >= 0 {
                outcome = .success(c.result)
            } else if c.result == -ECANCELED {
                outcome = isShuttingDown ? .shutDown : .cancelled
            } else {
                outcome = .failure(Errno(rawValue: -c.result))
            }
            let completion = Completion(outcome, hasMore: c.hasMore, bufferID: c.bufferID)
            if let invokeHandler {
                invokeHandler(handler, completion, context)
            } else {
                handler.completed(completion, context: context)
            }
        }
    }

    func close() {
        reactor.close()
        pools.removeAll()
    }

    // MARK: Provided buffers

    /// A pool of `count` buffers of `size` bytes under a fresh group id.
    func makeBufferPool(count: Int, size: Int) throws(BackendCallFailure) -> (group: UInt16, pool: ProvidedBufferPool) {
        let pool = try ProvidedBufferPool(count: count, size: size)
        pools.append(pool)
        return (UInt16(truncatingIfNeeded: pools.count - 1), pool)
    }

    /// Forgets a group once no operation can pick from it.
    func releaseBufferPool(group: UInt16) {
        if Int(group) < pools.count { pools[Int(group)] = nil }
    }

    // MARK: Translation

    /// Whether `fd` is a file with positions (not a pipe, socket or
    /// character device). io_uring ignores the offset of a transfer on a
    /// stream; so does this backend, which must also wait for readiness there
    /// rather than block a worker (a pipe read with no writer never returns).
    /// `fstat`, not `lseek(SEEK_CUR)`: on a seq_file (procfs) even that lseek
    /// resets the read position, and every later read at an offset would
    /// walk the file from its start.
    private static func isSeekable(_ fd: Int32) -> Bool {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return true }
        let type = info.st_mode & S_IFMT
        return type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR
    }

    private func translate(_ operation: IOOperation) -> ReactorOperation {
        switch operation {
        case .nop:
            return .nop
        case let .acceptMultishot(fd):
            return .acceptMultishot(fd: fd)
        case let .connect(fd, address, length):
            return .connect(fd: fd, address: UnsafeRawPointer(address), length: length)
        case let .receive(fd, group, multishot):
            guard Int(group) < pools.count, let pool = pools[Int(group)] else { return .immediate(result: -ENOBUFS) }
            return .receive(fd: fd, pool: pool, multishot: multishot)
        case let .send(fd, buffer, count):
            return .send(fd: fd, buffer: buffer, count: count)
        case let .sendNow(fd, buffer, count):
            return .sendNow(fd: fd, buffer: buffer, count: count)
        case let .sendMessage(fd, message):
            return .sendMessage(fd: fd, message: message)
        case let .receiveMessage(fd, message):
            return .receiveMessage(fd: fd, message: message)
        case let .shutdown(fd, how):
            return .shutdown(fd: fd, how: how)
        case let .close(fd):
            return .close(fd: fd)
        case let .poll(fd, events, multishot):
            return .poll(fd: fd, events: events, multishot: multishot)
        case let .read(fd, buffer, count, offset), let .readFixed(fd, buffer, count, offset, _):
            if offset < 0 || !EpollBackend.isSeekable(fd) { return .streamRead(fd: fd, buffer: buffer, count: Int(count)) }
            return .blocking(fd: fd, call: .read(fd: fd, into: buffer, count: Int(count), offset: offset))
        case let .write(fd, buffer, count, offset), let .writeFixed(fd, buffer, count, offset, _):
            if offset < 0 || !EpollBackend.isSeekable(fd) { return .streamWrite(fd: fd, buffer: buffer, count: Int(count)) }
            return .blocking(fd: fd, call: .write(fd: fd, from: buffer, count: Int(count), offset: offset))
        case let .readv(fd, iovecs, count, offset):
            if offset < 0 || !EpollBackend.isSeekable(fd) { return .streamReadv(fd: fd, iovecs: iovecs, count: Int32(count)) }
            return .blocking(fd: fd, call: .readv(fd: fd, iovecs: iovecs, count: Int32(count), offset: offset))
        case let .writev(fd, iovecs, count, offset):
            if offset < 0 || !EpollBackend.isSeekable(fd) { return .streamWritev(fd: fd, iovecs: iovecs, count: Int32(count)) }
            return .blocking(fd: fd, call: .writev(fd: fd, iovecs: iovecs, count: Int32(count), offset: offset))
        case let .openAt(directory, path, flags, mode):
            return .blocking(fd: -1, call: .openAt(directory: directory, path: path, flags: flags, mode: mode))
        case let .fsync(fd, dataOnly):
            return .blocking(fd: fd, call: .fsync(fd: fd, dataOnly: dataOnly))
        case let .statx(directory, path, flags, mask, buffer):
            return .blocking(fd: -1, call: .statx(directory: directory, path: path, flags: flags, mask: mask, into: UnsafeMutableRawPointer(buffer)))
        case let .fallocate(fd, mode, offset, length):
            return .blocking(fd: fd, call: .fallocate(fd: fd, mode: mode, offset: offset, length: length))
        case let .ftruncate(fd, length):
            return .blocking(fd: fd, call: .ftruncate(fd: fd, length: length))
        case let .unlinkAt(directory, path, flags):
            return .blocking(fd: -1, call: .unlinkAt(directory: directory, path: path, flags: flags))
        case let .renameAt(fromDirectory, from, toDirectory, to, flags):
            return .blocking(fd: -1, call: .renameAt(fromDirectory: fromDirectory, from: from, toDirectory: toDirectory, to: to, flags: flags))
        case let .mkdirAt(directory, path, mode):
            return .blocking(fd: -1, call: .mkdirAt(directory: directory, path: path, mode: mode))
        case .waitid:
            // Unsupported (see `supports`): a worker blocked in waitid could
            // not be cancelled at shutdown.
            return .immediate(result: -EOPNOTSUPP)
        case let .splice(input, inputOffset, output, outputOffset, count):
            return .blocking(fd: input, call: .splice(input: input, inputOffset: inputOffset, output: output, outputOffset: outputOffset, count: Int(count)))
        }
    }
}
