#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Path operations as io_uring operations on one loop: statx, unlink,
/// rename, mkdir, rmdir.
///
/// ```swift
/// let fs = FileSystem(eventLoop: loop)
/// try await fs.makeDirectory("/tmp/out")
/// try await fs.rename("/tmp/out.partial", to: "/tmp/out/data", replacingExisting: false)
/// let status = try await fs.status(of: "/tmp/out/data")
/// try await fs.unlink("/tmp/out/data")
/// ```
///
/// Every operation also has a `Future` form. Errors are `IOError`s naming
/// the operation (`"statx"`, `"unlinkat"`, `"renameat"`, `"mkdirat"`).
public struct FileSystem: Sendable {
    /// The loop that runs the operations.
    public let eventLoop: EventLoop

    public init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    // MARK: Status

    /// The status of the file at `path` (statx).
    /// - Parameters:
    ///   - path: the file to describe.
    ///   - followSymlinks: when false, a symbolic link is described itself
    ///     rather than its target.
    public func status(of path: FilePath, followSymlinks: Bool = true) async throws -> FileStatus {
        try await eventLoop.performRequest(statusStarter(path, followSymlinks))
    }

    /// `status(of:followSymlinks:)` for callback code.
    public func status(of path: FilePath, followSymlinks: Bool = true) -> Future<FileStatus> {
        eventLoop.futureRequest(statusStarter(path, followSymlinks))
    }

    private func statusStarter(_ path: FilePath, _ followSymlinks: Bool) -> RequestStarter<FileStatus> {
        let loop = eventLoop
        let flags = followSymlinks ? 0 : FileConstants.noFollowSymlinks
        return { done in FileSystem.startStatus(of: path, directory: AT_FDCWD, flags: flags, loop: loop, done) }
    }

    /// Submits a statx and converts its result (loop thread).
    static func startStatus(
        of path: FilePath, directory: Int32, flags: Int32, loop: EventLoop,
        _ done: @escaping (Result<FileStatus, any Error>) -> Void
    ) -> LoopCancellable {
        let storage = PathRequest.StatusStorage()
        let request = PathRequest(loop: loop, kind: .status(flags: flags, into: storage), path: path, directory: directory) { result in
            done(result.map { _ in storage.status })
        }
        request.start()
        return request
    }

    // MARK: Removing and renaming

    /// Removes the file (not directory) at `path` (unlinkat).
    public func unlink(_ path: FilePath) async throws {
        try await eventLoop.performRequest(pathStarter(.unlink(flags: 0), path))
    }

    /// `unlink(_:)` for callback code.
    public func unlink(_ path: FilePath) -> Future<Void> {
        eventLoop.futureRequest(pathStarter(.unlink(flags: 0), path))
    }

    /// Removes the empty directory at `path` (unlinkat with `AT_REMOVEDIR`).
    public func removeDirectory(_ path: FilePath) async throws {
        try await eventLoop.performRequest(pathStarter(.unlink(flags: FileConstants.removeDirectory), path))
    }

    /// `removeDirectory(_:)` for callback code.
    public func removeDirectory(_ path: FilePath) -> Future<Void> {
        eventLoop.futureRequest(pathStarter(.unlink(flags: FileConstants.removeDirectory), path))
    }

    /// Renames `source` to `destination` (renameat2), atomically replacing
    /// an existing destination unless `replacingExisting` is false, in which
    /// case an existing destination fails with `.fileExists`.
    public func rename(_ source: FilePath, to destination: FilePath, replacingExisting: Bool = true) async throws {
        try await eventLoop.performRequest(pathStarter(.rename(to: destination, flags: replacingExisting ? 0 : FileConstants.renameNoReplace), source))
    }

    /// `rename(_:to:replacingExisting:)` for callback code.
    public func rename(_ source: FilePath, to destination: FilePath, replacingExisting: Bool = true) -> Future<Void> {
        eventLoop.futureRequest(pathStarter(.rename(to: destination, flags: replacingExisting ? 0 : FileConstants.renameNoReplace), source))
    }

    // MARK: Directories

    /// Creates a directory (mkdirat); `permissions` are reduced by the umask.
    public func makeDirectory(_ path: FilePath, permissions: FilePermissions = [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute]) async throws {
        try await eventLoop.performRequest(pathStarter(.makeDirectory(mode: UInt32(permissions.rawValue)), path))
    }

    /// `makeDirectory(_:permissions:)` for callback code.
    public func makeDirectory(_ path: FilePath, permissions: FilePermissions = [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute]) -> Future<Void> {
        eventLoop.futureRequest(pathStarter(.makeDirectory(mode: UInt32(permissions.rawValue)), path))
    }

    private func pathStarter(_ kind: PathRequest.Kind, _ path: FilePath) -> RequestStarter<Void> {
        let loop = eventLoop
        return { done in
            let request = PathRequest(loop: loop, kind: kind, path: path) { done($0.map { _ in }) }
            request.start()
            return request
        }
    }
}
