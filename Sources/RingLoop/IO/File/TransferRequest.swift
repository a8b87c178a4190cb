#if canImport(Glibc)
import Glibc
#endif

/// A read or write of a whole byte range at a file offset, from one buffer
/// or, vectored, from several in order.
///
/// Short transfers are resubmitted for the remainder; a read stops early only
/// at end of file (a result of 0), which is how the caller learns of it. The
/// request retains its buffers (and owns its iovec array) until the final CQE.
final class TransferRequest: FileRequest {
    enum Direction { case read, write }

    /// A byte range inside one buffer.
    struct Segment: Sendable {
        let buffer: FileBuffer
        let start: Int
        let count: Int
    }

    /// Largest transfer per SQE: Linux caps one read/write near 2 GiB; a
    /// multiple of the page size keeps O_DIRECT resubmissions aligned.
    static let maxChunk = 1 << 30
    /// Most iovecs per SQE (`IOV_MAX`).
    static let maxVectors = 1024

    private let direction: Direction
    private let fd: Int32
    private let usesFixedFile: Bool
    private let segments: [Segment]
    private let total: Int
    private let offset: Int64
    /// Whether a short result ends the request (one plain read(2)), rather
    /// than resubmitting for the rest.
    private let singleShot: Bool
    private let fixedBufferIndex: UInt16?
    private(set) var transferred = 0
    /// Owned iovec storage for vectored submissions; freed in deinit, which
    /// runs only after the final CQE has released the request.
    private var iovecs: UnsafeMutablePointer<iovec>?
    /// First segment not yet fully transferred, and how far into it.
    private var cursor = 0
    private var cursorOffset = 0

    init(
        loop: EventLoop, operation: String, direction: Direction, target: FileTarget,
        segments: [Segment], offset: Int64, singleShot: Bool = false,
        completion: @escaping (Result<Int, any Error>) -> Void
    ) {
        self.direction = direction
        self.fd = target.fd
        self.usesFixedFile = target.isFixed
        self.segments = segments
        self.total = segments.reduce(0) { $0 + $1.count }
        self.offset = offset
        self.singleShot = singleShot
        if segments.count == 1, let registration = segments[0].buffer.registration,
           let index = registration.index(on: loop) {
            self.fixedBufferIndex = index
        } else {
            self.fixedBufferIndex = nil
        }
        super.init(loop: loop, operation: operation, owner: target.owner, completion: completion)
    }

    deinit {
        iovecs?.deallocate()
    }

    /// Bytes requested in all.
    var requested: Int { total }

    override func nextOperation() -> (IOOperation, IOOperation.Options) {
        let position = offset &+ Int64(transferred)
        let options: IOOperation.Options = usesFixedFile ? .fixedFile : []
        if segments.count == 1 {
            let segment = segments[0]
            let start = segment.buffer.address + segment.start + transferred
            let count = UInt32(min(total - transferred, TransferRequest.maxChunk))
            switch (direction, fixedBufferIndex) {
            case (.read, nil): return (.read(fd: fd, buffer: start, count: count, offset: position), options)
            case (.write, nil): return (.write(fd: fd, buffer: start, count: count, offset: position), options)
            case let (.read, index?): return (.readFixed(fd: fd, buffer: start, count: count, offset: position, bufferIndex: index), options)
            case let (.write, index?): return (.writeFixed(fd: fd, buffer: start, count: count, offset: position, bufferIndex: index), options)
            }
        } else {
            let vectors = fillVectors()
            switch direction {
            case .read: return (.readv(fd: fd, iovecs: vectors.base, count: vectors.count, offset: position), options)
            case .write: return (.writev(fd: fd, iovecs: vectors.base, count: vectors.count, offset: position), options)
            }
        }
    }

    /// Describes what is left, from the cursor on, in the owned iovec array.
    private func fillVectors() -> (base: UnsafeMutablePointer<iovec>, count: UInt32) {
        let capacity = min(segments.count, TransferRequest.maxVectors)
        let vectors: UnsafeMutablePointer<iovec>
        if let iovecs {
            vectors = iovecs
        } else {
            vectors = .allocate(capacity: capacity)
            iovecs = vectors
        }
        var filled = 0
        var bytes = 0
        var index = cursor
        var skip = cursorOffset
        while index < segments.count, filled < capacity, bytes < TransferRequest.maxChunk {
            let segment = segments[index]
            let length = min(segment.count - skip, TransferRequest.maxChunk - bytes)
            if length > 0 {
                vectors[filled] = iovec(iov_base: segment.buffer.address + segment.start + skip, iov_len: length)
                filled += 1
                bytes += length
            }
            index += 1
            skip = 0
        }
        return (vectors, UInt32(filled))
    }

    /// Moves the cursor past `count` transferred bytes.
    private func advance(by count: Int) {
        var left = count
        while left > 0, cursor < segments.count {
            let available = segments[cursor].count - cursorOffset
            if left < available {
                cursorOffset += left
                return
            }
            left -= available
            cursor += 1
            cursorOffset = 0
        }
    }

    /// A write that already moved bytes reports how many, like a cancelled
    /// one; a read's partial bytes would read as end of file, so it fails.
    override func stoppedByClose() -> Result<Int, any Error> {
        let closed = IOError(operation, .badFileDescriptor)
        if direction == .write, transferred > 0 {
            return .failure(PartialWriteError(written: transferred, requested: total, reason: closed))
        }
        return .failure(closed)
    }

    override func handle(result: Int32) -> Result<Int, any Error>? {
        let count = Int(result)
        if count == 0 {
            // Reading: end of file. Writing: no progress is possible (a
            // regular file reports ENOSPC/EFBIG instead; a zero here would
            // otherwise resubmit forever).
            return direction == .read ? .success(transferred) : .failure(IOError(operation, .ioError))
        }
        transferred += count
        if segments.count > 1 { advance(by: count) }
        if transferred >= total || singleShot { return .success(transferred) }
        return nil
    }
}

/// The descriptor an operation names: a plain fd, or an index into the
/// ring's registered-file table, and the file it belongs to (checked before a
/// resubmission, since a closed file's number or slot may be reused).
struct FileTarget: Sendable {
    let fd: Int32
    let isFixed: Bool
    var owner: File? = nil
}
