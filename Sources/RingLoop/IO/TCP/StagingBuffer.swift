#if canImport(Glibc)
import Glibc
#endif

/// The bytes a connection copied in with `write(copying:)` and has not sent
/// yet: one growable buffer that queued staged writes point into by offset.
///
/// The in-flight send may point into the buffer, so a buffer replaced while
/// a send is in flight is retired, not freed, until `sendFinished()`.
///
/// Memory is bounded: doubling stops at `limit` (the connection's write
/// high watermark; past it a buffer grows only to what its bytes need), and
/// once everything is sent a buffer larger than `minimumCapacity` is freed,
/// so an idle connection holds at most that much.
/// Ownership: the buffer (and the retired ones) belong to this value, which
/// belongs to its connection; the kernel reads them until the send's final CQE.
struct StagingBuffer: ~Copyable {
    /// Capacity below which a buffer is never allocated, and the most an
    /// idle connection keeps (small writes then allocate nothing).
    static let minimumCapacity = 4096

    /// Capacity up to which the buffer grows by doubling.
    let limit: Int
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    /// Bytes at the start of the buffer in use (sent or not).
    private(set) var used = 0
    /// Replaced buffers an in-flight send may still read.
    private var retired: [UnsafeMutableRawPointer] = []
    /// Capacity of the last buffer freed on drain: a busy connection's next
    /// burst starts at that size instead of growing (and copying) again.
    private(set) var recentCapacity = 0

    init(limit: Int) {
        self.limit = limit
    }

    deinit {
        base?.deallocate()
        for old in retired { old.deallocate() }
    }

    /// Buffers replaced while a send was in flight and not yet freed.
    var retiredCount: Int { retired.count }

    /// Copies `count` bytes to the end of the buffer, growing it if needed;
    /// returns their offset. `sendInFlight`: a send may point into the
    /// current buffer, which then must outlive it.
    mutating func append(_ bytes: UnsafeRawPointer, count: Int, sendInFlight: Bool) -> Int {
        if base == nil || used + count > capacity {
            grow(toFit: used + count, sendInFlight: sendInFlight)
        }
        let offset = used
        // `grow` guarantees a buffer of at least `used + count` bytes.
        (base.unsafelyUnwrapped + offset).copyMemory(from: bytes, byteCount: count)
        used += count
        return offset
    }

    private mutating func grow(toFit needed: Int, sendInFlight: Bool) {
        let start = base == nil ? min(recentCapacity, limit) : 0
        let newCapacity = max(min(capacity * 2, limit), needed, StagingBuffer.minimumCapacity, start)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base {
            buffer.copyMemory(from: base, byteCount: used)
            if sendInFlight { retired.append(base) } else { base.deallocate() }
        }
        base = buffer
        capacity = newCapacity
    }

    /// Where the bytes at `offset` are now (valid until the next `append`,
    /// `compact` or `drained` call).
    func pointer(at offset: Int) -> UnsafeRawPointer? {
        base.map { UnsafeRawPointer($0 + offset) }
    }

    /// The send that might read retired buffers has finished: free them.
    mutating func sendFinished() {
        guard !retired.isEmpty else { return }
        for old in retired { old.deallocate() }
        retired.removeAll(keepingCapacity: true)
    }

    /// Reclaims the space before `firstLive`, the offset of the first unsent
    /// staged byte (no send may be in flight). Moves the live bytes only when
    /// the move costs no more than the space it frees. Returns how far they
    /// moved toward the start (0: not moved).
    mutating func compact(firstLive: Int) -> Int {
        guard let base else { return 0 }
        let live = used - firstLive
        guard firstLive > 0, live <= firstLive else { return 0 }
        base.copyMemory(from: base + firstLive, byteCount: live)
        used = live
        return firstLive
    }

    /// Copies `count` bytes in front of the live bytes, which start at
    /// `firstLive` (`used` if there are none; no send may be in flight): into
    /// the sent space before them if it is large enough, else moving them up.
    /// Returns the new bytes' offset and how far the live bytes moved toward
    /// the end (0: not moved).
    mutating func prepend(_ bytes: UnsafeRawPointer, count: Int, firstLive: Int) -> (offset: Int, moved: Int) {
        if let base, firstLive >= count {
            (base + firstLive - count).copyMemory(from: bytes, byteCount: count)
            return (firstLive - count, 0)
        }
        let live = used - firstLive
        if base == nil || count + live > capacity {
            grow(toFit: count + live, sendInFlight: false)
        }
        // `grow` guarantees a buffer of at least `count + live` bytes.
        let base = base.unsafelyUnwrapped
        if live > 0 { memmove(base + count, base + firstLive, live) }
        base.copyMemory(from: bytes, byteCount: count)
        used = count + live
        return (0, live > 0 ? count - firstLive : 0)
    }

    /// No staged byte is queued and no send is in flight: the whole buffer
    /// is free space again; a large one is freed.
    mutating func drained() {
        used = 0
        if capacity > StagingBuffer.minimumCapacity, let base {
            recentCapacity = capacity
            base.deallocate()
            self.base = nil
            capacity = 0
        }
    }
}
