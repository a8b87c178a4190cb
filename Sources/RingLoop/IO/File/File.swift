#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// An open file whose operations run as io_uring operations on one event loop
/// (no thread pool of our own: the kernel completes them inline or on its
/// io-wq workers).
///
/// Every operation comes in two forms on the same machinery: `async` (honours
/// task cancellation) and `Future`-returning (for callback code):
///
/// ```swift
/// let loop = try EventLoop.spawn()
/// let file = try await File.open("/tmp/data", .readWrite, options: [.create, .truncate],
///                                permissions: [.ownerReadWrite], on: loop)
/// try await file.write(Array("hello".utf8), at: 0)
/// let bytes = try await file.readAll()                 // [104, 101, 108, 108, 111]
/// let size = file.stat().map { $0.size }               // Future<Int64>, in callback code
/// try await file.close()
/// ```
///
/// **Whole-buffer semantics.** `read(into:…)` fills the whole requested range
/// unless the file ends first: a count smaller than requested means end of
/// file, and 0 means the offset is at or past it. `readExactly` throws
/// `EndOfFileError` instead. `write` writes everything (short writes are
/// resubmitted) or throws.
///
/// **Errors** are `IOError`s naming the operation (`"openat"`, `"read"`,
/// `"write"`, `"statx"`…) with the kernel's `Errno`; `RingLoopError.shutDown`
/// once the loop is closing; `CancellationError` when the awaiting task is
/// cancelled (the kernel's operation is cancelled too, and its buffer kept
/// alive until the kernel lets go of it).
///
/// **Lifetime.** `close()` closes the descriptor through the ring. A `File`
/// dropped without `close()` closes its descriptor with close(2) when the last
/// reference goes (in-flight operations hold references).
// Safe to share: `eventLoop`, `descriptor` and `path` are immutable; `isClosed`
// and `fixedSlot` are touched only on the loop thread, or in deinit, when no
// other reference exists.
public final class File: @unchecked Sendable {
    /// The loop that runs this file's operations.
    public let eventLoop: EventLoop
    /// The open descriptor (owned by this `File`: don't close it yourself).
    public let descriptor: FileDescriptor
    /// The path it was opened with, if any.
    public let path: FilePath?
    /// Set by `close()` (loop thread); requests check it before resubmitting.
    private(set) var isClosed = false
    /// Slot in the ring's registered-file table, once `register()` ran.
    private var fixedSlot: UInt32?

    init(descriptor: FileDescriptor, path: FilePath?, eventLoop: EventLoop) {
        self.descriptor = descriptor
        self.path = path
        self.eventLoop = eventLoop
    }

    /// Takes ownership of an open descriptor (it is closed by `close()`, or
    /// when the `File` goes away).
    public convenience init(adopting descriptor: FileDescriptor, path: FilePath? = nil, on loop: EventLoop) {
        self.init(descriptor: descriptor, path: path, eventLoop: loop)
    }

    deinit {
        guard !isClosed else { return }
        if let slot = fixedSlot {
            let loop = eventLoop
            loop.execute {
                loop.unregisterFixedFile(slot: slot)
            }
        }
        _ = Glibc.close(descriptor.rawValue)
    }

    // MARK: Opening

    /// Opens (or creates) a file with openat(2) on the ring. `O_CLOEXEC` is
    /// always added.
    ///
    /// - Parameters:
    ///   - path: absolute, or relative to the working directory.
    ///   - mode: `.readOnly`, `.writeOnly` or `.readWrite`.
    ///   - options: `.create`, `.truncate`, `.exclusiveCreate`, `.append`,
    ///     `.directIO` (O_DIRECT: buffers, offsets and lengths must then be
    ///     aligned to the device's block size; `FileBuffer` is page aligned)…
    ///   - permissions: for a created file (default `0o644`, less the umask).
    ///   - loop: the loop that will run the file's operations.
    /// - Throws: `IOError("openat", …)`: `.noSuchFileOrDirectory`,
    ///   `.permissionDenied`, `.isDirectory` (writing a directory), `.fileExists`…
    public static func open(
        _ path: FilePath,
        _ mode: FileDescriptor.AccessMode = .readOnly,
        options: FileDescriptor.OpenOptions = [],
        permissions: FilePermissions? = nil,
        on loop: EventLoop
    ) async throws -> File {
        try await loop.performRequest(openStarter(path, mode, options, permissions, loop))
    }

    /// `open` for callback code: the future succeeds with the open file.
    public static func open(
        _ path: FilePath,
        _ mode: FileDescriptor.AccessMode = .readOnly,
        options: FileDescriptor.OpenOptions = [],
        permissions: FilePermissions? = nil,
        on loop: EventLoop
    ) -> Future<File> {
        loop.futureRequest(openStarter(path, mode, options, permissions, loop))
    }

    private static func openStarter(
        _ path: FilePath, _ mode: FileDescriptor.AccessMode, _ options: FileDescriptor.OpenOptions,
        _ permissions: FilePermissions?, _ loop: EventLoop
    ) -> RequestStarter<File> {
        let flags = mode.rawValue | options.rawValue | O_CLOEXEC
        let mode = (permissions ?? [.ownerReadWrite, .groupRead, .otherRead]).rawValue
        return { done in
            let request = PathRequest(loop: loop, kind: .open(flags: flags, mode: UInt32(mode)), path: path) { result in
                done(result.map { File(descriptor: FileDescriptor(rawValue: Int32($0)), path: path, eventLoop: loop) })
            }
            request.start()
            return request
        }
    }

    // MARK: Closing

    /// Closes the descriptor (as a ring operation), without waiting for
    /// operations in flight. A submission already in the kernel finishes
    /// normally: the kernel holds the open file until it does. (The epoll
    /// backend runs the close after the file calls queued on its worker, and
    /// ends a transfer waiting for readiness on a pipe or FIFO with
    /// `.canceled`.) Nothing is submitted on the descriptor again, since the
    /// number may belong to a file opened since: an operation that needs
    /// another submission after the close (the rest of a short transfer, a
    /// retry after `EINTR`) fails with `IOError(op, .badFileDescriptor)`, or,
    /// for a write that already wrote part of its bytes, `PartialWriteError`
    /// with that count and the `IOError` as its reason. New operations fail
    /// with `IOError(op, .badFileDescriptor)`. Once the loop has shut down,
    /// the descriptor is closed with close(2) instead.
    ///
    /// - Throws: `IOError("close", …)`; `RingLoopError.alreadyClosed` if
    ///   already closed.
    public func close() async throws {
        try await eventLoop.performRequest(closeStarter())
    }

    /// `close` for callback code.
    public func close() -> Future<Void> {
        eventLoop.futureRequest(closeStarter())
    }

    private func closeStarter() -> RequestStarter<Void> {
        { [self] done in
            guard !isClosed else {
                done(.failure(RingLoopError.alreadyClosed(operation: "File.close")))
                return nil
            }
            isClosed = true
            if let slot = fixedSlot {
                fixedSlot = nil
                eventLoop.unregisterFixedFile(slot: slot)
            }
            let fd = descriptor.rawValue
            let request = SimpleRequest(loop: eventLoop, kind: .close, target: FileTarget(fd: fd, isFixed: false)) { result in
                if case .failure(RingLoopError.shutDown) = result {
                    // The loop is closing: close synchronously, so the
                    // descriptor does not leak and closing still succeeds.
                    done(Glibc.close(fd) == 0 ? .success(()) : .failure(IOError("close", Errno(rawValue: errno))))
                    return
                }
                done(result.map { _ in })
            }
            request.start()
            return request
        }
    }

    // MARK: Registration

    /// Registers the descriptor in the loop's ring (an io_uring "fixed
    /// file"): later operations skip the kernel's per-operation descriptor
    /// lookup. An opt-in for hot paths; `close()` undoes it. On the epoll
    /// backend this does nothing: operations use the plain descriptor.
    ///
    /// - Throws: `IOError("register_files", …)` when the table is full or the
    ///   kernel refuses; `.badFileDescriptor` once closed.
    public func register() async throws {
        try await eventLoop.submit { [self] in
            guard !isClosed else { throw IOError("register_files", .badFileDescriptor) }
            guard fixedSlot == nil else { return }
            switch eventLoop.registerFixedFile(descriptor.rawValue) {
            case nil: return  // epoll has no registered files: the plain descriptor serves.
            case let .success(slot): fixedSlot = slot
            case let .failure(errno): throw IOError("register_files", errno)
            }
        }.get()
    }

    /// Whether the descriptor is registered with the ring (loop thread).
    var isRegistered: Bool { fixedSlot != nil }

    /// What operations should name, or the error for a closed file (loop
    /// thread only).
    func target(for operation: String) -> Result<FileTarget, IOError> {
        eventLoop.preconditionInEventLoop()
        if isClosed { return .failure(IOError(operation, .badFileDescriptor)) }
        if let slot = fixedSlot { return .success(FileTarget(fd: Int32(slot), isFixed: true, owner: self)) }
        return .success(FileTarget(fd: descriptor.rawValue, isFixed: false, owner: self))
    }
}

extension FileDescriptor.OpenOptions {
    /// `O_DIRECT`: transfers bypass the page cache. Buffers, offsets and
    /// lengths must be aligned to the device's logical block size (a
    /// page-aligned `FileBuffer` and page-multiple offsets and lengths always
    /// are); the last, short block of a file reads fine.
    public static var directIO: FileDescriptor.OpenOptions { .init(rawValue: FileConstants.direct) }
}
