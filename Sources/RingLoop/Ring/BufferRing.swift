import CLiburing
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A provided-buffer ring (`io_uring_register_buf_ring`): `count` buffers of
/// `size` bytes the kernel picks from when a receive completes, so a socket
/// holds no buffer while it waits for data.
///
/// Ownership: this object owns both mappings (the ring of buffer descriptors
/// and the buffers). A buffer is lent to user space by a CQE carrying its id
/// and must be given back with `recycle(_:)` once its bytes are consumed.
/// `unregister(from:)` must run before the io_uring closes; the memory is
/// unmapped then (or in `deinit` if it never registered).
///
/// liburing 2.3 lacks `io_uring_setup_buf_ring`, so the ring memory is mapped,
/// initialised and registered here by hand.
final class BufferRing {
    /// The buffer group id operations select with.
    let group: UInt16
    /// Bytes per buffer.
    let bufferSize: Int
    /// Number of buffers (a power of two).
    let count: Int
    private let ring: UnsafeMutablePointer<io_uring_buf_ring>
    private let ringBytes: Int
    private let buffers: UnsafeMutableRawPointer
    private let mask: Int32
    // The two fields below are unchecked: loop-thread only, and every access
    // is a plain load or store (no call is made while one is open), so
    // accesses cannot overlap.
    @exclusivity(unchecked) private var registered = true
    /// Buffers handed out by CQEs and not recycled yet (tests: back to 0 once
    /// every consumer has returned).
    @exclusivity(unchecked) private(set) var lent = 0

    /// Maps and registers a ring of `count` (power of two, ≤ 32768) buffers of
    /// `size` bytes on `owner`.
    /// - Throws: `BackendCallFailure` naming the call that failed.
    init(on owner: Ring, count: Int, size: Int) throws(BackendCallFailure) {
        precondition(count > 0 && count <= 32768 && count & (count - 1) == 0, "buffer count must be a power of two ≤ 32768")
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let ringBytes = (count * MemoryLayout<io_uring_buf>.stride + page - 1) / page * page
        guard let ringMemory = BufferRing.map(ringBytes) else {
            throw BackendCallFailure(call: "mmap", errno: Errno(rawValue: errno))
        }
        // Buffer memory is touched lazily: pages never filled by a receive
        // stay out of the resident set.
        guard let buffers = BufferRing.map(count * size) else {
            let code = errno
            munmap(ringMemory, ringBytes)
            throw BackendCallFailure(call: "mmap", errno: Errno(rawValue: code))
        }
        let ring = ringMemory.assumingMemoryBound(to: io_uring_buf_ring.self)
        io_uring_buf_ring_init(ring)
        switch owner.registerBufferRing(ringMemory, entries: UInt32(count)) {
        case let .failure(errno):
            munmap(ringMemory, ringBytes)
            munmap(buffers, count * size)
            throw BackendCallFailure(call: "io_uring_register_buf_ring", errno: errno)
        case let .success(group):
            self.group = group
        }
        self.ring = ring
        self.ringBytes = ringBytes
        self.buffers = buffers
        self.count = count
        self.bufferSize = size
        self.mask = io_uring_buf_ring_mask(UInt32(count))
        for id in 0..<count {
            io_uring_buf_ring_add(ring, buffers + id * size, UInt32(size), UInt16(id), mask, Int32(id))
        }
        io_uring_buf_ring_advance(ring, Int32(count))
    }

    deinit {
        munmap(UnsafeMutableRawPointer(ring), ringBytes)
        munmap(buffers, count * bufferSize)
    }

    private static func map(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        return p
    }

    /// Takes the buffer a completion lends (`Completion.bufferID`), if it
    /// lends one; the caller owns that buffer until it calls `recycle(_:)`.
    @inline(__always)
    func take(_ id: UInt16?) -> UInt16? {
        guard let id else { return nil }
        lent += 1
        return id
    }

    /// The first `count` bytes of buffer `id`.
    @inline(__always)
    func bytes(_ id: UInt16, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: buffers + Int(id) * bufferSize, count: max(0, min(count, bufferSize)))
    }

    /// Gives buffer `id` back to the kernel.
    @inline(__always)
    func recycle(_ id: UInt16) {
        lent -= 1
        guard registered else { return }
        io_uring_buf_ring_add(ring, buffers + Int(id) * bufferSize, UInt32(bufferSize), id, mask, 0)
        io_uring_buf_ring_advance(ring, 1)
    }

    /// Unregisters the ring; called once no operation can pick a buffer any more.
    func unregister(from owner: Ring) {
        guard registered else { return }
        registered = false
        owner.unregisterBufferRing(group: group)
    }
}
