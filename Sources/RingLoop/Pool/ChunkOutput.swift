/// The output buffer of a `parallelMap`: one allocation for every result,
/// which each chunk initializes in place over its own range.
///
/// For plain-data results (`_isPOD`: no references, nothing to release) the
/// buffer is the returned array's own storage, so the results are written
/// once and never copied. Other results go to a separate buffer, moved into
/// the array in one copy at the end.
///
/// Cleans up after failure: a chunk that throws deinitializes what it wrote
/// (`discard`); the ranges of chunks that completed are recorded, and deinitialized
/// by `deinit` unless `takeArray()` moved them out.
// Safe to share: chunks write disjoint ranges of `base`; `filled` and `taken`
// are guarded by `lock`; `takeArray()` runs after every chunk has finished
// (the caller is resumed through the chunk collector's lock). `array` is
// written in `init` and read in `takeArray()` only.
@usableFromInline final class ChunkOutput<T>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<T>
    @usableFromInline let count: Int
    /// For plain-data `T`: the array whose storage `base` points into. Made
    /// with its full count up front (the elements are plain bits, so an
    /// element not yet written is harmless), never mutated until taken, so
    /// its storage stays put and uniquely owned here.
    @usableFromInline var array: [T]?
    /// Whether `base` is a buffer of our own (not plain data), to clean up
    /// and free in `deinit`.
    @usableFromInline let ownsBuffer: Bool
    private let lock = Lock()
    private var filled: [Range<Int>] = []
    private var taken = false

    @inlinable
    init(count: Int) {
        self.count = count
        if _isPOD(T.self) {
            var array = [T](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
            // The storage address outlives the closure: the array is uniquely
            // referenced (by `self.array`, below) and not mutated until
            // `takeArray()`, so its storage is neither copied nor moved.
            base = array.withUnsafeMutableBufferPointer { $0.baseAddress! }
            self.array = array
            ownsBuffer = false
        } else {
            base = .allocate(capacity: count)
            array = nil
            ownsBuffer = true
        }
    }

    deinit {
        guard ownsBuffer else { return }  // plain data in `array`: nothing to deinitialize
        if !taken {
            for range in filled { (base + range.lowerBound).deinitialize(count: range.count) }
        }
        base.deallocate()
    }

    /// Deinitializes `range`, written by a chunk that then failed.
    @inlinable
    func discard(_ range: Range<Int>) {
        (base + range.lowerBound).deinitialize(count: range.count)
    }

    /// Records that a chunk initialized `range`.
    @usableFromInline
    func markFilled(_ range: Range<Int>) {
        lock.withLock { filled.append(range) }
    }

    /// Moves every result into an array; only once every chunk has filled
    /// its range.
    @inlinable
    func takeArray() -> [T] {
        markTaken()
        if let array {
            self.array = nil
            return array
        }
        return Array(unsafeUninitializedCapacity: count) { buffer, initialized in
            guard let target = buffer.baseAddress else { return }
            target.moveInitialize(from: base, count: count)
            initialized = count
        }
    }

    @usableFromInline
    func markTaken() {
        lock.withLock { taken = true }
    }
}
