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
///
/// Cache footprint. The kernel takes buffers in the order they were posted,
/// so every posted buffer is filled once per cycle through the ring: with
/// all `count` buffers posted, a recycled buffer is refilled only after every
/// other one, and the bytes a busy loop moves sweep `count` buffers (4 MiB
/// at 4 KiB a message, more than this machine's L2) instead of staying in
/// cache. So only a `window` of buffers is posted, at least what the loop's
/// receives take per tick: it starts at `initialWindow`, doubles (up to
/// `count`) when the posted buffers run low, and the rest wait in a LIFO
/// reserve. And buffers are one cache line apart more than `size`, so that
/// the first bytes of consecutive buffers fall in different cache sets (at
/// a power-of-two stride, small messages would all compete for one set).
final class BufferRing {
    /// Buffers posted at first; see the type's notes.
    static let initialWindow = 64
    /// Padding between buffers: one cache line (see the type's notes).
    static let colorStep = 64
    /// The buffer group id operations select with.
    let group: UInt16
    /// Bytes per buffer.
    let bufferSize: Int
    /// Number of buffers (a power of two).
    let count: Int
    private let ring: UnsafeMutablePointer<io_uring_buf_ring>
    private let ringBytes: Int
    private let buffers: UnsafeMutableRawPointer
    /// Bytes from one buffer's start to the next: `bufferSize` + `colorStep`.
    private let stride: Int
    private let mask: Int32
    /// Ids neither posted nor lent, the most recently recycled on top.
    /// Owned by this object; `count` slots.
    private let reserve: UnsafeMutablePointer<UInt16>
    // The fields below are unchecked: loop-thread only, and every access is
    // a plain load or store (no call is made while one is open), so accesses
    // cannot overlap.
    @exclusivity(unchecked) private var registered = true
    /// Buffers handed out by CQEs and not recycled yet (tests: back to 0 once
    /// every consumer has returned).
    @exclusivity(unchecked) private(set) var lent = 0
    /// Posted buffers no CQE has reported yet: what the kernel can still
    /// pick from (at most; it may have taken some whose CQEs are not read yet).
    @exclusivity(unchecked) private(set) var available = 0
    /// How many buffers recycling keeps posted (see the type's notes).
    @exclusivity(unchecked) private(set) var window: Int
    /// Ids in `reserve`.
    @exclusivity(unchecked) private(set) var reserved = 0

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
        let stride = size + BufferRing.colorStep
        guard let buffers = BufferRing.map(count * stride) else {
            let code = errno
            munmap(ringMemory, ringBytes)
            throw BackendCallFailure(call: "mmap", errno: Errno(rawValue: code))
        }
        let ring = ringMemory.assumingMemoryBound(to: io_uring_buf_ring.self)
        io_uring_buf_ring_init(ring)
        switch owner.registerBufferRing(ringMemory, entries: UInt32(count)) {
        case let .failure(errno):
            munmap(ringMemory, ringBytes)
            munmap(buffers, count * stride)
            throw BackendCallFailure(call: "io_uring_register_buf_ring", errno: errno)
        case let .success(group):
            self.group = group
        }
        self.ring = ring
        self.ringBytes = ringBytes
        self.buffers = buffers
        self.stride = stride
        self.count = count
        self.bufferSize = size
        self.mask = io_uring_buf_ring_mask(UInt32(count))
        self.window = min(count, BufferRing.initialWindow)
        self.reserve = .allocate(capacity: count)
        // The lowest ids are posted; the reserve hands out the next lowest first.
        for id in (window..<count).reversed() {
            reserve[reserved] = UInt16(id)
            reserved += 1
        }
        for id in 0..<window {
            io_uring_buf_ring_add(ring, address(UInt16(id)), UInt32(size), UInt16(id), mask, Int32(id))
        }
        io_uring_buf_ring_advance(ring, Int32(window))
        available = window
    }

    deinit {
        munmap(UnsafeMutableRawPointer(ring), ringBytes)
        munmap(buffers, count * stride)
        reserve.deallocate()
    }

    @inline(__always)
    private func address(_ id: UInt16) -> UnsafeMutableRawPointer {
        buffers + Int(id) * stride
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
        available -= 1
        // A quarter of the window left: the receives of one tick may take
        // the rest, and a dry ring costs every receive that finds it so.
        if available < window >> 2, window < count { widen() }
        return id
    }

    /// The first `count` bytes of buffer `id`.
    @inline(__always)
    func bytes(_ id: UInt16, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: address(id), count: max(0, min(count, bufferSize)))
    }

    /// Gives buffer `id` back: posted again if the window has room (the
    /// kernel takes it after the other posted ones), else kept in reserve.
    @inline(__always)
    func recycle(_ id: UInt16) {
        lent -= 1
        guard registered else { return }
        if available < window {
            post(id)
            io_uring_buf_ring_advance(ring, 1)
        } else {
            reserve[reserved] = id
            reserved += 1
        }
    }

    /// A receive found no buffer (`ENOBUFS`): post more before it is re-armed.
    func ranDry() {
        guard registered else { return }
        widen()
    }

    @inline(__always)
    private func post(_ id: UInt16) {
        io_uring_buf_ring_add(ring, address(id), UInt32(bufferSize), id, mask, 0)
        available += 1
    }

    /// Doubles the window (up to `count`) and posts reserved buffers up to it.
    private func widen() {
        window = min(count, window * 2)
        var posted: Int32 = 0
        while available < window, reserved > 0 {
            reserved -= 1
            io_uring_buf_ring_add(ring, address(reserve[reserved]), UInt32(bufferSize), reserve[reserved], mask, posted)
            available += 1
            posted += 1
        }
        if posted > 0 { io_uring_buf_ring_advance(ring, posted) }
    }

    /// Unregisters the ring; called once no operation can pick a buffer any more.
    func unregister(from owner: Ring) {
        guard registered else { return }
        registered = false
        owner.unregisterBufferRing(group: group)
    }
}
