import RingLoop
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

extension FileCopier {
    /// Copies a source whose size reads as 0 (procfs and sysfs files, or a
    /// really empty file) by reading it in order until EOF: such files have no
    /// extents to pipeline. `File.read` fills each block unless the file ends
    /// (it resubmits short reads: pseudo-files return a page or a record at a
    /// time), so writes stay block-aligned for O_DIRECT. `--verify`
    /// re-reads the copy and compares it with what was read (a checksum and
    /// length): re-reading a pseudo-file may give different bytes (the CPU
    /// clock in /proc/cpuinfo), so the source is not read twice.
    func copyToEndOfFile(from input: File, to output: File, permissions: FilePermissions, destination: FilePath) async throws(CopyError) {
        let buffer = FileBuffer(capacity: options.blockSize)
        let direct = options.direct
        var read = Checksum()
        var offset: Int64 = 0
        while true {
            let filled = try await fill(buffer, from: input, at: offset, path: options.source)
            if filled == 0 { break }
            buffer.withUnsafeBytes { read.add(UnsafeRawBufferPointer(rebasing: $0[0..<filled])) }
            let want = direct ? filled.roundedUp(to: 4096) : filled
            if want > filled {
                buffer.withUnsafeMutableBytes { _ = $0[filled..<want].initializeMemory(as: UInt8.self, repeating: 0) }
            }
            do { try await output.write(buffer, count: want, at: offset) } catch {
                throw .io("write", destination.string, error)
            }
            offset += Int64(filled)
            if filled < buffer.capacity { break }
        }
        do {
            if direct { try await output.truncate(to: offset) }
            if fchmod(output.descriptor.rawValue, permissions.rawValue) != 0 {
                throw IOError("fchmod", Errno(rawValue: errno))
            }
            if options.sync { try await output.sync() }
        } catch {
            throw .io("write", destination.string, error)
        }
        guard options.verify else { return }
        var copied = Checksum()
        var position: Int64 = 0
        while true {
            let filled = try await fill(buffer, from: output, at: position, path: destination.string)
            if filled == 0 { break }
            buffer.withUnsafeBytes { copied.add(UnsafeRawBufferPointer(rebasing: $0[0..<filled])) }
            position += Int64(filled)
        }
        guard copied == read else {
            throw .failed("verification failed: '\(destination)' (\(copied.count) bytes) differs from the \(read.count) bytes read from '\(options.source)'")
        }
    }

    /// Reads a block at `offset`; fewer bytes than the buffer holds only at EOF.
    private func fill(_ buffer: FileBuffer, from file: File, at offset: Int64, path: String) async throws(CopyError) -> Int {
        do { return try await file.read(into: buffer, at: offset) } catch { throw .io("read", path, error) }
    }
}

/// Length and FNV-1a hash of a byte stream: enough to tell whether a copy
/// holds the bytes that were read, without keeping them.
struct Checksum: Equatable {
    private(set) var count = 0
    private var hash: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        count += bytes.count
    }
}
