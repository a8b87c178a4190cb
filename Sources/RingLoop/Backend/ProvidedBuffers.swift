/// The buffers a loop's socket receives pick from (`IOOperation.receive`'s
/// buffer group): a kernel buffer ring on io_uring, a plain pool on epoll.
/// Both lend buffers by id and take them back with `recycle(_:)`. Loop
/// thread only.
enum ProvidedBuffers {
    case ring(BufferRing)
    case pool(ProvidedBufferPool, group: UInt16)

    /// The group id receives name.
    var group: UInt16 {
        switch self {
        case let .ring(ring): return ring.group
        case let .pool(_, group): return group
        }
    }

    /// Takes the buffer a completion lends (`Completion.bufferID`), if any;
    /// the caller owns it until `recycle(_:)`.
    @inline(__always)
    func take(_ id: UInt16?) -> UInt16? {
        switch self {
        case let .ring(ring): return ring.take(id)
        case .pool: return id
        }
    }

    /// The first `count` bytes of buffer `id`.
    @inline(__always)
    func bytes(_ id: UInt16, count: Int) -> UnsafeRawBufferPointer {
        switch self {
        case let .ring(ring): return ring.bytes(id, count: count)
        case let .pool(pool, _): return pool.bytes(id, count: count)
        }
    }

    /// Gives buffer `id` back.
    @inline(__always)
    func recycle(_ id: UInt16) {
        switch self {
        case let .ring(ring): ring.recycle(id)
        case let .pool(pool, _): pool.recycle(id)
        }
    }

    /// A receive found every buffer taken (`ENOBUFS`): the ring posts more
    /// of its buffers before the receive is re-armed (see `BufferRing`).
    func ranDry() {
        if case let .ring(ring) = self { ring.ranDry() }
    }

    /// Whether plenty of buffers are left for receives, so that one may stay
    /// lent a little longer: until a send from it completes (see
    /// `TCPConnection.write(copying:)`).
    @inline(__always)
    var hasSpare: Bool {
        switch self {
        case let .ring(ring): return ring.available >= ring.window >> 1
        case let .pool(pool, _): return pool.lent < pool.count >> 1
        }
    }

    /// Buffers lent and not recycled yet (tests).
    var lent: Int {
        switch self {
        case let .ring(ring): return ring.lent
        case let .pool(pool, _): return pool.lent
        }
    }
}
