#if canImport(Glibc)
import Glibc
#endif

/// A fixed-size block of memory for file I/O, aligned for `O_DIRECT` (page
/// aligned by default) and owned by reference.
///
/// File operations keep a reference to their buffer until the kernel is done
/// with it, even when the awaiting task is cancelled, so the memory never goes
/// away under an in-flight read. Reuse a few buffers across operations instead
/// of allocating one per block:
///
/// ```swift
/// let buffer = FileBuffer(capacity: 1 << 20)
/// var offset: Int64 = 0
/// while true {
///     let n = try await file.read(into: buffer, at: offset)
///     if n == 0 { break }                        // end of file
///     consume(buffer.bytes(0..<n))
///     offset += Int64(n)
/// }
/// ```
///
/// A buffer is not synchronised: its bytes are shared memory, like an
/// `UnsafeMutableRawBufferPointer`. Don't touch them while an operation that
/// uses the buffer is in flight. After a *cancelled* read the contents are
/// unspecified, and the kernel may still be writing them until the operation's
/// completion arrives; give such a buffer up, or wait for another operation on
/// the same loop before reusing it.
// Safe to share: the object's own fields are immutable after init; its bytes
// are raw memory whose accesses the caller orders (documented above), and I/O
// operations retain the object until their final completion.
public final class FileBuffer: @unchecked Sendable {
    /// Usable bytes.
    public let capacity: Int
    /// Alignment of the first byte (a power of two).
    public let alignment: Int
    /// Start of the memory; `capacity` bytes, at least one byte allocated.
    let address: UnsafeMutableRawPointer
    /// The buffer's slot in a ring's registered-buffer table, for buffers
    /// made by `FixedBuffers`.
    let registration: BufferRegistration?

    /// The system page size: the default alignment, which suits `O_DIRECT`.
    public static let pageSize: Int = max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))

    /// Allocates `capacity` uninitialised bytes aligned to `alignment`.
    ///
    /// - Parameters:
    ///   - capacity: size in bytes (not negative).
    ///   - alignment: a power of two; the page size by default, which `O_DIRECT`
    ///     transfers need (they also need offsets and lengths that are multiples
    ///     of the device's logical block size).
    public convenience init(capacity: Int, alignment: Int = FileBuffer.pageSize) {
        self.init(capacity: capacity, alignment: alignment, registration: nil)
    }

    init(capacity: Int, alignment: Int, registration: BufferRegistration?) {
        precondition(capacity >= 0, "FileBuffer capacity must not be negative")
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "FileBuffer alignment must be a power of two")
        self.capacity = capacity
        self.alignment = max(alignment, MemoryLayout<Int>.alignment)
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, self.alignment, max(capacity, 1))
        guard rc == 0, let raw else {
            // Out of memory: the same outcome as any Swift allocation failing.
            preconditionFailure("FileBuffer: cannot allocate \(capacity) bytes (\(rc))")
        }
        self.address = raw
        self.registration = registration
    }

    /// A buffer holding a copy of `bytes`; its capacity is `bytes.count`.
    public convenience init(_ bytes: some Collection<UInt8>, alignment: Int = FileBuffer.pageSize) {
        self.init(capacity: bytes.count, alignment: alignment)
        let target = UnsafeMutableRawBufferPointer(start: address, count: capacity)
        _ = target.initializeMemory(as: UInt8.self, from: bytes)
    }

    deinit {
        free(address)
    }

    /// Calls `body` with the buffer's bytes, read-only.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: address, count: capacity))
    }

    /// Calls `body` with the buffer's bytes, for writing.
    public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: address, count: capacity))
    }

    /// A copy of the bytes in `range` (clamped to the capacity).
    public func bytes(_ range: Range<Int>) -> [UInt8] {
        let lower = min(max(range.lowerBound, 0), capacity)
        let upper = min(max(range.upperBound, lower), capacity)
        return [UInt8](UnsafeRawBufferPointer(start: address + lower, count: upper - lower))
    }

    /// Copies `bytes` into the buffer at `offset`; returns how many fitted.
    @discardableResult
    public func copyBytes(from bytes: some Collection<UInt8>, at offset: Int = 0) -> Int {
        guard offset >= 0, offset < capacity else { return 0 }
        let target = UnsafeMutableRawBufferPointer(start: address + offset, count: capacity - offset)
        let count = min(bytes.count, target.count)
        _ = target.initializeMemory(as: UInt8.self, from: bytes.prefix(count))
        return count
    }
}
