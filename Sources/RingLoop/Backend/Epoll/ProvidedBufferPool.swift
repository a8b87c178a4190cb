import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The epoll backend's stand-in for a provided-buffer ring: `count` buffers of
/// `size` bytes that receives pick from when data is there, handed out by id
/// exactly as the ring lends them, so the I/O layer reads `bytes(id:)` and
/// gives buffers back with `recycle(_:)` on either backend.
///
/// There is no kernel involvement: a receive takes a buffer only once the
/// socket is readable, so an idle connection holds none; when every buffer is
/// lent the receive fails with `ENOBUFS`, as it does on the ring.
///
/// Ownership: this object owns the mapping. Loop thread only.
final class ProvidedBufferPool {
    /// Bytes per buffer.
    let bufferSize: Int
    /// Number of buffers.
    let count: Int
    private let buffers: UnsafeMutableRawPointer
    /// Bytes from one buffer's start to the next: one cache line more than
    /// `bufferSize`, so that the first bytes of the buffers fall in different
    /// cache sets (as in `BufferRing`).
    private let stride: Int
    /// Ids not lent; the most recently recycled is handed out first (its
    /// pages are the likeliest to be resident and in cache).
    private var free: [UInt16]
    /// Buffers handed out and not recycled yet.
    var lent: Int { count - free.count }

    /// Maps `count` (≤ 65536) buffers of `size` bytes. Pages are touched
    /// lazily: buffers never filled stay out of the resident set.
    init(count: Int, size: Int) throws(BackendCallFailure) {
        precondition(count > 0 && count <= 65536 && size > 0, "buffer pool: 1...65536 buffers of at least one byte")
        let stride = size + 64
        let p = mmap(nil, count * stride, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { throw BackendCallFailure(call: "mmap", errno: Errno(rawValue: errno)) }
        self.buffers = p
        self.stride = stride
        self.count = count
        self.bufferSize = size
        self.free = (0..<count).reversed().map { UInt16(truncatingIfNeeded: $0) }
    }

    deinit {
        munmap(buffers, count * stride)
    }

    /// Lends a buffer; nil when every buffer is lent (the caller reports `ENOBUFS`).
    @inline(__always)
    func take() -> UInt16? {
        free.popLast()
    }

    /// Where buffer `id` starts (a receive fills it).
    @inline(__always)
    func address(_ id: UInt16) -> UnsafeMutableRawPointer {
        buffers + Int(id) * stride
    }

    /// The first `count` bytes of buffer `id`.
    @inline(__always)
    func bytes(_ id: UInt16, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: address(id), count: max(0, min(count, bufferSize)))
    }

    /// Gives buffer `id` back to the pool.
    @inline(__always)
    func recycle(_ id: UInt16) {
        free.append(id)
    }
}
