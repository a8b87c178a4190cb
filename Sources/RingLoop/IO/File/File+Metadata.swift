#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Status, durability and size: statx, fsync/fdatasync, ftruncate, fallocate.
extension File {
    /// The file's status (statx on the open descriptor).
    /// - Throws: `IOError("statx", …)`.
    public func stat() async throws -> FileStatus {
        try await eventLoop.performRequest(statStarter())
    }

    /// `stat()` for callback code.
    public func stat() -> Future<FileStatus> {
        eventLoop.futureRequest(statStarter())
    }

    private func statStarter() -> RequestStarter<FileStatus> {
        { [self] done in
            // statx names a plain descriptor (it has no fixed-file form).
            switch target(for: "statx") {
            case let .failure(error):
                done(.failure(error))
                return nil
            case .success:
                return FileSystem.startStatus(
                    of: "", directory: descriptor.rawValue, flags: FileConstants.emptyPath,
                    loop: eventLoop, done
                )
            }
        }
    }

    /// Flushes the file's data and metadata to storage (fsync).
    public func sync() async throws {
        try await eventLoop.performRequest(simple(.sync(dataOnly: false), "fsync"))
    }

    /// `sync()` for callback code.
    public func sync() -> Future<Void> {
        eventLoop.futureRequest(simple(.sync(dataOnly: false), "fsync"))
    }

    /// Flushes the file's data, and only the metadata needed to read it back
    /// (fdatasync).
    public func syncData() async throws {
        try await eventLoop.performRequest(simple(.sync(dataOnly: true), "fdatasync"))
    }

    /// `syncData()` for callback code.
    public func syncData() -> Future<Void> {
        eventLoop.futureRequest(simple(.sync(dataOnly: true), "fdatasync"))
    }

    /// Sets the file's size (ftruncate): cuts it, or extends it with a hole.
    ///
    /// Runs as a ring operation where the kernel has one (Linux 6.9),
    /// otherwise as a direct ftruncate(2) call on the loop thread.
    /// - Throws: `IOError("ftruncate", …)`.
    public func truncate(to size: Int64) async throws {
        try await eventLoop.performRequest(truncateStarter(size))
    }

    /// `truncate(to:)` for callback code.
    public func truncate(to size: Int64) -> Future<Void> {
        eventLoop.futureRequest(truncateStarter(size))
    }

    private func truncateStarter(_ size: Int64) -> RequestStarter<Void> {
        { [self] done in
            if File.ringTruncates(eventLoop) {
                return simple(.truncate(length: size), "ftruncate")(done)
            }
            if case let .failure(error) = target(for: "ftruncate") {
                done(.failure(error))
                return nil
            }
            var rc: Int32
            repeat { rc = ftruncate(descriptor.rawValue, off_t(size)) } while rc != 0 && errno == EINTR
            done(rc == 0 ? .success(()) : .failure(IOError("ftruncate", Errno(rawValue: errno))))
            return nil
        }
    }

    /// Whether this kernel runs ftruncate as an io_uring operation (probed
    /// once per process).
    static func ringTruncates(_ loop: EventLoop) -> Bool {
        if let known = ftruncateProbe.withLockedValue({ $0 }) { return known }
        let supported = loop.supports(.ftruncate(fd: -1, length: 0))
        ftruncateProbe.withLockedValue { $0 = supported }
        return supported
    }

    private static let ftruncateProbe = LockedValue<Bool?>(nil)

    /// Allocates storage for `length` bytes at `offset` (fallocate), so later
    /// writes there cannot fail for lack of space. With `keepSize`, the file's
    /// size does not grow.
    /// - Throws: `IOError("fallocate", …)`: `.noSpace`, `.notSupported`
    ///   (file systems without fallocate)…
    public func allocate(at offset: Int64, length: Int64, keepSize: Bool = false) async throws {
        try await eventLoop.performRequest(simple(.allocate(mode: keepSize ? FileConstants.fallocateKeepSize : 0, offset: offset, length: length), "fallocate"))
    }

    /// `allocate(at:length:keepSize:)` for callback code.
    public func allocate(at offset: Int64, length: Int64, keepSize: Bool = false) -> Future<Void> {
        eventLoop.futureRequest(simple(.allocate(mode: keepSize ? FileConstants.fallocateKeepSize : 0, offset: offset, length: length), "fallocate"))
    }

    /// Frees the storage of `length` bytes at `offset`, leaving a hole that
    /// reads as zeros (fallocate with `PUNCH_HOLE | KEEP_SIZE`).
    public func punchHole(at offset: Int64, length: Int64) async throws {
        let mode = FileConstants.fallocatePunchHole | FileConstants.fallocateKeepSize
        try await eventLoop.performRequest(simple(.allocate(mode: mode, offset: offset, length: length), "fallocate"))
    }

    private func simple(_ kind: SimpleRequest.Kind, _ name: String) -> RequestStarter<Void> {
        { [self] done in
            let target: FileTarget
            switch self.target(for: name) {
            case let .success(t): target = t
            case let .failure(error):
                done(.failure(error))
                return nil
            }
            let request = SimpleRequest(loop: eventLoop, kind: kind, target: target) { done($0.map { _ in }) }
            request.start()
            return request
        }
    }
}
