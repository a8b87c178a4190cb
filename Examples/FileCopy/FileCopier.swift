import RingLoop
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// One copy of SRC to DST, run as a task on the event loop.
///
/// 1. Check the source (a regular file) and the destination (absent, or
///    `--force`; a directory means "into it").
/// 2. Write the copy to a temporary file in the destination's directory
///    (anonymous where the file system allows: `TemporaryCopy`), with
///    `queueDepth` blocks in flight: each slot reads a block into its own
///    buffer, writes it out, and takes the next block. Only the source's data
///    extents are copied, so holes stay holes. A source whose size reads as
///    0 (procfs, sysfs) is read sequentially until EOF instead.
/// 3. Set the size and permissions, optionally fsync and verify, then link
///    or rename the temporary file into place. Any failure removes it.
final class FileCopier: Sendable {
    let options: CopyOptions
    let loop: EventLoop
    let fs: FileSystem

    init(options: CopyOptions, loop: EventLoop) {
        self.options = options
        self.loop = loop
        self.fs = FileSystem(eventLoop: loop)
    }

    func run() async throws(CopyError) {
        let source = FilePath(options.source)
        let sourceStatus: FileStatus
        do { sourceStatus = try await fs.status(of: source) } catch { throw .io("open", options.source, error) }
        switch sourceStatus.type {
        case .regular: break
        case .directory: throw .failed("'\(options.source)' is a directory (only files are copied)")
        default: throw .failed("'\(options.source)' is not a regular file")
        }
        let destination = try await resolveDestination(source: source, sourceStatus: sourceStatus)

        // Named temporaries of copies that were killed (on a file system
        // without O_TMPFILE) are removed here, as nothing else would.
        TemporaryCopy.removeStale(near: destination)

        let input: File
        do { input = try await open(source, .readOnly, options: []) } catch { throw .io("open", options.source, error) }
        let temporary: TemporaryCopy
        let mode: FileDescriptor.AccessMode = options.verify ? .readWrite : .writeOnly
        do {
            temporary = try await TemporaryCopy.create(for: destination, anonymous: options.anonymousTemporary) { path, extra in
                try await self.open(path, mode, options: extra, permissions: [.ownerReadWrite])
            }
        } catch {
            try? await input.close()
            throw .io("create", destination.string, error)
        }
        let output = temporary.file
        if let path = temporary.path { PartialFile.remember(path) }
        do {
            if sourceStatus.size == 0 {
                // procfs and sysfs report 0 for files that are not empty:
                // read until EOF rather than trusting st_size.
                try await copyToEndOfFile(from: input, to: output, permissions: sourceStatus.permissions, destination: destination)
            } else {
                try await copy(from: input, to: output, status: sourceStatus, destination: destination)
            }
            try? await input.close()
            try await publish(temporary, as: destination)
            PartialFile.forget()
            do { try await output.close() } catch { throw CopyError.io("write", destination.string, error) }
        } catch {
            try? await input.close()
            try? await output.close()
            await temporary.discard(fs: fs)
            PartialFile.forget()
            throw error as? CopyError ?? .io("copy", options.source, error)
        }
    }

    // MARK: Steps

    /// DST, or DST/basename(SRC) when DST is a directory; refuses to replace
    /// an existing file without `--force`, and to copy a file onto itself.
    private func resolveDestination(source: FilePath, sourceStatus: FileStatus) async throws(CopyError) -> FilePath {
        var destination = FilePath(options.destination)
        var status = try await statusIfPresent(destination)
        if let found = status, found.type == .directory {
            guard let name = source.lastComponent else { throw .failed("'\(options.source)' has no file name") }
            destination = destination.appending(name)
            status = try await statusIfPresent(destination)
        }
        if let status {
            if status.isSameFile(as: sourceStatus) {
                throw .failed("'\(options.source)' and '\(destination)' are the same file")
            }
            if status.type == .directory { throw .failed("'\(destination)' is a directory") }
            if !options.force { throw .failed("'\(destination)' exists (use --force to replace it)") }
        }
        return destination
    }

    private func statusIfPresent(_ path: FilePath) async throws(CopyError) -> FileStatus? {
        do {
            return try await fs.status(of: path)
        } catch let error as IOError where error.errno == .noSuchFileOrDirectory {
            return nil
        } catch {
            throw .io("reach", path.string, error)
        }
    }

    /// Opens with O_DIRECT when asked, falling back to the page cache on a
    /// file system that refuses it (tmpfs answers EINVAL).
    func open(
        _ path: FilePath, _ mode: FileDescriptor.AccessMode,
        options extra: FileDescriptor.OpenOptions, permissions: FilePermissions? = nil
    ) async throws -> File {
        if options.direct {
            do {
                return try await File.open(path, mode, options: extra.union(.directIO), permissions: permissions, on: loop)
            } catch let error as IOError where error.errno == .invalidArgument {
                // Nothing was created: EINVAL comes before the file exists.
            }
        }
        return try await File.open(path, mode, options: extra, permissions: permissions, on: loop)
    }

    private func copy(from input: File, to output: File, status: FileStatus, destination: FilePath) async throws(CopyError) {
        let extents: [Range<Int64>]
        do { extents = try DataExtents.of(input.descriptor, size: status.size, allocated: status.allocatedSize) } catch {
            throw .io("read", options.source, error)
        }
        let dataBytes = extents.reduce(Int64(0)) { $0 + ($1.upperBound - $1.lowerBound) }
        if options.preallocate, dataBytes == status.size, status.size > 0 {
            do {
                try await output.allocate(at: 0, length: status.size)
            } catch let error as IOError where error.errno == .notSupported || error.errno == .invalidArgument {
                // This file system cannot reserve space; writes will tell.
            } catch {
                throw .io("write", destination.string, error)
            }
        }

        let (buffers, registration) = await makeBuffers()
        defer { withExtendedLifetime(registration) {} }
        let progress = Progress(total: dataBytes, label: "copying", enabled: !options.quiet, loop: loop)
        let direct = options.direct
        do {
            try await Pipeline.run(extents: extents, blockSize: options.blockSize, bufferSets: buffers.map { [$0] }) { buffers, chunk in
                let buffer = buffers[0]
                // O_DIRECT wants whole blocks: round the last one up; the
                // read stops at the end of the file anyway.
                let want = direct ? chunk.count.roundedUp(to: 4096) : chunk.count
                let n: Int
                do { n = try await input.read(into: buffer, count: want, at: chunk.offset) } catch {
                    throw CopyError.io("read", self.options.source, error)
                }
                guard n == chunk.count else {
                    throw CopyError.failed("'\(self.options.source)' changed while being copied")
                }
                do {
                    if n < want {
                        // Zero the padding of a short O_DIRECT block; the
                        // final truncate cuts it off.
                        buffer.withUnsafeMutableBytes { _ = $0[n..<want].initializeMemory(as: UInt8.self, repeating: 0) }
                    }
                    try await output.write(buffer, count: want, at: chunk.offset)
                } catch {
                    throw CopyError.io("write", destination.string, error)
                }
                progress.advance(by: n)
            }
        } catch {
            progress.finish(success: false)
            throw error as? CopyError ?? .io("copy", options.source, error)
        }
        progress.finish(success: true)

        do {
            // Holes at the end, or O_DIRECT padding: set the exact size.
            if extents.last?.upperBound != status.size || direct {
                try await output.truncate(to: status.size)
            }
            if fchmod(output.descriptor.rawValue, status.permissions.rawValue) != 0 {
                throw IOError("fchmod", Errno(rawValue: errno))
            }
            if options.sync { try await output.sync() }
        } catch {
            throw .io("write", destination.string, error)
        }
        if options.verify {
            try await verify(input, output, extents: extents, size: status.size, destination: destination)
        }
    }

    /// Re-reads both files (the extents copied, then the destination's tail
    /// beyond them must read as zeros, which a hole does) and compares them.
    private func verify(_ input: File, _ output: File, extents: [Range<Int64>], size: Int64, destination: FilePath) async throws(CopyError) {
        let (sourceBuffers, registration) = await makeBuffers()
        defer { withExtendedLifetime(registration) {} }
        let copyBuffers = (0..<sourceBuffers.count).map { _ in FileBuffer(capacity: options.blockSize) }
        let pairs = zip(sourceBuffers, copyBuffers).map { [$0, $1] }
        let all: [Range<Int64>] = size > 0 ? [0..<size] : []
        let progress = Progress(total: size, label: "verifying", enabled: !options.quiet, loop: loop)
        let direct = options.direct
        do {
            try await Pipeline.run(extents: all, blockSize: options.blockSize, bufferSets: pairs) { buffers, chunk in
                let want = direct ? chunk.count.roundedUp(to: 4096) : chunk.count
                let a: Int, b: Int
                do { a = try await input.read(into: buffers[0], count: want, at: chunk.offset) } catch {
                    throw CopyError.io("read", self.options.source, error)
                }
                do { b = try await output.read(into: buffers[1], count: want, at: chunk.offset) } catch {
                    throw CopyError.io("read", destination.string, error)
                }
                guard a == chunk.count, b == chunk.count, buffers[0].hasSameBytes(as: buffers[1], count: a) else {
                    throw CopyError.failed("verification failed: '\(destination)' differs from '\(self.options.source)' in bytes \(chunk.offset)..<\(chunk.offset + Int64(chunk.count))")
                }
                progress.advance(by: a)
            }
        } catch {
            progress.finish(success: false)
            throw error as? CopyError ?? .io("verify", destination.string, error)
        }
        progress.finish(success: true)
    }

    /// Gives the complete copy its name. An anonymous temporary is linked in
    /// while still open (its fd names it); the caller closes it afterwards.
    private func publish(_ temporary: TemporaryCopy, as destination: FilePath) async throws(CopyError) {
        do {
            try await temporary.publish(as: destination, replacing: options.force, fs: fs)
        } catch let error as IOError where error.errno == .fileExists {
            throw .failed("'\(destination)' exists (use --force to replace it)")
        } catch {
            throw .io("create", destination.string, error)
        }
    }

    /// One buffer per slot: registered with the ring when asked (falling back
    /// to plain buffers when the kernel refuses, e.g. a low RLIMIT_MEMLOCK).
    /// The registration lasts while the returned object lives.
    func makeBuffers() async -> ([FileBuffer], FixedBuffers?) {
        if options.fixedBuffers,
           let fixed = try? await FixedBuffers.register(count: options.queueDepth, capacity: options.blockSize, on: loop) {
            return (fixed.buffers, fixed)
        }
        return ((0..<options.queueDepth).map { _ in FileBuffer(capacity: options.blockSize) }, nil)
    }
}

extension Int {
    func roundedUp(to multiple: Int) -> Int { (self + multiple - 1) / multiple * multiple }
}

extension FileBuffer {
    /// Whether the first `count` bytes equal `other`'s.
    func hasSameBytes(as other: FileBuffer, count: Int) -> Bool {
        withUnsafeBytes { a in
            other.withUnsafeBytes { b in
                guard count <= a.count, count <= b.count, count > 0, let x = a.baseAddress, let y = b.baseAddress else {
                    return count == 0
                }
                return memcmp(x, y, count) == 0
            }
        }
    }
}
