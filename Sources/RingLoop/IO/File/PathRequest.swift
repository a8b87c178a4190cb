#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A file operation that names a path: openat, statx, unlinkat, renameat,
/// mkdirat. Owns copies of its paths (and the statx result buffer) until the
/// final CQE, since the caller's strings may be gone by the time the kernel
/// reads them.
final class PathRequest: FileRequest {
    enum Kind: Sendable {
        case open(flags: Int32, mode: UInt32)
        case status(flags: Int32, into: StatusStorage)
        case unlink(flags: Int32)
        case rename(to: FilePath, flags: UInt32)
        case makeDirectory(mode: UInt32)
    }

    private let kind: Kind
    private let directory: Int32
    private let path: UnsafeMutablePointer<CChar>
    private let secondPath: UnsafeMutablePointer<CChar>?
    /// Where statx writes: shared with the caller, who reads it once the
    /// request succeeded; retained here until the final CQE.
    // Safe to share: created, filled (by the kernel, before the CQE) and read
    // on the loop thread only.
    final class StatusStorage: @unchecked Sendable {
        let buffer: UnsafeMutablePointer<StatxBuffer>
        init() {
            buffer = .allocate(capacity: 1)
            buffer.initialize(to: StatxBuffer())
        }
        deinit { buffer.deallocate() }
        var status: FileStatus { FileStatus(buffer.pointee) }
    }

    init(
        loop: EventLoop, kind: Kind, path: FilePath, directory: Int32 = AT_FDCWD,
        completion: @escaping (Result<Int, any Error>) -> Void
    ) {
        self.kind = kind
        self.directory = directory
        self.path = PathRequest.copy(path)
        let name: String
        switch kind {
        case .open: name = "openat"
        case .status: name = "statx"
        case .unlink: name = "unlinkat"
        case .rename: name = "renameat"
        case .makeDirectory: name = "mkdirat"
        }
        if case let .rename(target, _) = kind {
            secondPath = PathRequest.copy(target)
        } else {
            secondPath = nil
        }
        super.init(loop: loop, operation: name, completion: completion)
    }

    deinit {
        path.deallocate()
        secondPath?.deallocate()
    }

    private static func copy(_ path: FilePath) -> UnsafeMutablePointer<CChar> {
        path.withPlatformString { source in
            let count = strlen(source) + 1
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: count)
            copy.initialize(from: source, count: count)
            return copy
        }
    }

    override func nextOperation() -> (IOOperation, IOOperation.Options) {
        switch kind {
        case let .open(flags, mode):
            return (.openAt(directory: directory, path: path, flags: flags, mode: mode), [])
        case let .status(flags, storage):
            return (.statx(directory: directory, path: path, flags: flags, mask: FileConstants.statxBasic, buffer: storage.buffer), [])
        case let .unlink(flags):
            return (.unlinkAt(directory: directory, path: path, flags: flags), [])
        case let .rename(_, flags):
            guard let secondPath else { return (.nop, []) }
            return (.renameAt(fromDirectory: directory, from: path, toDirectory: directory, to: secondPath, flags: flags), [])
        case let .makeDirectory(mode):
            return (.mkdirAt(directory: directory, path: path, mode: mode), [])
        }
    }
}
