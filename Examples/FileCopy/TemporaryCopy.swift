import RingLoop
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Where the copy is written until it is complete, so that an interrupted
/// copy leaves no partial destination.
///
/// Preferably an anonymous file (`O_TMPFILE`) in the destination's directory:
/// it has no name until `publish` links it in, so a copy killed with SIGKILL
/// leaves nothing behind (the kernel frees the file with its last fd). On a
/// file system without `O_TMPFILE`, a hidden file named
/// `.DST.file-copy-NS-PID-N`; a run that finds such files of a dead process
/// removes them (`removeStale`), since nothing else will.
struct TemporaryCopy {
    /// The open file the copy is written to.
    let file: File
    /// The visible temporary name; nil for an anonymous file.
    let path: FilePath?

    /// `__O_TMPFILE` (the same value on every architecture Linux defines it
    /// for; glibc names it only under _GNU_SOURCE). Always used with O_DIRECTORY.
    private static let tmpfileFlag = FileDescriptor.OpenOptions(rawValue: 0o20000000)

    /// Creates the temporary file for `destination` with `open` (which adds
    /// O_DIRECT when asked). `anonymous: false` skips `O_TMPFILE`.
    static func create(
        for destination: FilePath, anonymous: Bool,
        open: (FilePath, FileDescriptor.OpenOptions) async throws -> File
    ) async throws -> TemporaryCopy {
        if anonymous, access("/proc/self/fd", F_OK) == 0 {
            do {
                return TemporaryCopy(file: try await open(directory(of: destination), [.directory, tmpfileFlag]), path: nil)
            } catch let error as IOError where [EOPNOTSUPP, EISDIR, EINVAL].contains(error.errno.rawValue) {
                // This file system has no O_TMPFILE (EOPNOTSUPP), or the
                // kernel predates it (EISDIR): use a name.
            }
        }
        let path = namedPath(for: destination)
        return TemporaryCopy(file: try await open(path, [.create, .exclusiveCreate]), path: path)
    }

    /// Gives the complete copy the name `destination`. Without `replacing`,
    /// an existing destination fails with `.fileExists` and is left alone.
    func publish(as destination: FilePath, replacing: Bool, fs: FileSystem) async throws {
        if let path {
            try await fs.rename(path, to: destination, replacingExisting: replacing)
            return
        }
        if !replacing {
            try link(to: destination)
            return
        }
        // linkat cannot replace: link under a temporary name, rename that
        // over the destination. A kill in between leaves a complete named
        // temporary, which the next run's `removeStale` takes away.
        let named = Self.namedPath(for: destination)
        try link(to: named)
        do {
            try await fs.rename(named, to: destination, replacingExisting: true)
        } catch {
            try? await fs.unlink(named)
            throw error
        }
    }

    /// Removes the temporary name, if there is one (the file itself goes with
    /// its last fd).
    func discard(fs: FileSystem) async {
        if let path { try? await fs.unlink(path) }
    }

    /// linkat through /proc/self/fd (works without CAP_DAC_READ_SEARCH,
    /// which AT_EMPTY_PATH needs). io_uring's LINKAT would take the same
    /// path; one metadata call is not worth a ring round trip here.
    private func link(to name: FilePath) throws {
        let source = "/proc/self/fd/\(file.descriptor.rawValue)"
        let result = name.withPlatformString { linkat(AT_FDCWD, source, AT_FDCWD, $0, AT_SYMLINK_FOLLOW) }
        if result != 0 { throw IOError("linkat", Errno(rawValue: errno)) }
    }

    // MARK: Named temporaries

    /// The prefix of every named temporary's final component after
    /// `.DST`: `.file-copy-NS-` where NS identifies this PID namespace, so
    /// that a process in another namespace sharing the directory (another
    /// container) never judges our PIDs.
    private static let marker: String = {
        var buffer = [CChar](repeating: 0, count: 64)
        let n = readlink("/proc/self/ns/pid", &buffer, buffer.count - 1)
        // "pid:[4026531836]" → "4026531836"; "0" when unknown.
        let text = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let digits = text.filter(\.isNumber)
        return ".file-copy-\(digits.isEmpty ? "0" : digits)-"
    }()

    /// `.DST.file-copy-NS-PID-N` in DST's directory: same file system, so the
    /// final rename is atomic.
    static func namedPath(for destination: FilePath) -> FilePath {
        let name = destination.lastComponent?.string ?? "copy"
        return directory(of: destination).appending(".\(name)\(marker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    private static func directory(of destination: FilePath) -> FilePath {
        let directory = destination.removingLastComponent()
        return directory.isEmpty ? FilePath(".") : directory
    }

    /// Removes the named temporaries in `destination`'s directory left by
    /// processes of this PID namespace that no longer exist (killed with
    /// SIGKILL, or the machine lost power). A temporary whose PID has been
    /// reused stays: we never remove a file a live process may be writing.
    /// Returns the names removed.
    @discardableResult
    static func removeStale(near destination: FilePath) -> [String] {
        let directory = directory(of: destination)
        guard let stream = directory.withPlatformString({ opendir($0) }) else { return [] }
        defer { closedir(stream) }
        var removed: [String] = []
        while let entry = readdir(stream) {
            let name = entryName(entry)
            guard name.hasPrefix("."), let pid = ownerPID(ofTemporary: name), pid != getpid() else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            if directory.appending(name).withPlatformString({ unlink($0) }) == 0 { removed.append(name) }
        }
        return removed
    }

    /// The name in a `readdir` entry. Read in place, up to its NUL: the
    /// kernel packs entries by `d_reclen`, so the last one in `readdir`'s
    /// buffer can end before the declared 256-byte `d_name` does, and copying
    /// `entry.pointee.d_name` whole reads past the buffer (AddressSanitizer:
    /// heap-buffer-overflow).
    private static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        let offset = MemoryLayout<dirent>.offset(of: \.d_name)!
        return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
    }

    /// The PID in a name `.X.file-copy-NS-PID-N` made in this namespace.
    static func ownerPID(ofTemporary name: String) -> pid_t? {
        let bytes = Array(name.utf8), key = Array(marker.utf8)
        guard bytes.count > key.count,
              let start = (0...(bytes.count - key.count)).last(where: { bytes[$0..<($0 + key.count)].elementsEqual(key) })
        else { return nil }
        let parts = bytes[(start + key.count)...].split(separator: UInt8(ascii: "-")).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count == 2, let pid = pid_t(parts[0]), pid > 0, UInt32(parts[1]) != nil else { return nil }
        return pid
    }
}
