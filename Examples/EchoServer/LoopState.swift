import RingLoop
import Synchronization

/// One loop's share of the server: its open connections (touched on that loop
/// only) and counters other threads may read.
final class LoopState: Sendable {
    let loop: EventLoop
    /// Open connections, by identity. Only touched on `loop`.
    private let open = LoopBound<[ObjectIdentifier: TCPConnection]>([:])

    // Single writer (the loop), so increments are a relaxed load and store,
    // not a locked read-modify-write on the hot path.
    let reads = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
    let accepted = Atomic<Int>(0)
    let rejected = Atomic<Int>(0)
    let openCount = Atomic<Int>(0)

    init(loop: EventLoop) { self.loop = loop }

    @inline(__always)
    static func bump(_ counter: borrowing Atomic<Int>, by n: Int = 1) {
        counter.store(counter.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    func add(_ connection: TCPConnection) {
        open.value[ObjectIdentifier(connection)] = connection
        LoopState.bump(openCount)
    }

    func remove(_ connection: TCPConnection) {
        if open.value.removeValue(forKey: ObjectIdentifier(connection)) != nil {
            LoopState.bump(openCount, by: -1)
        }
    }

    /// Every open connection (on the loop).
    var connections: [TCPConnection] { Array(open.value.values) }
}

/// A value confined to one event loop's thread.
// Safe to share: only read or written from the owning loop's callbacks, which
// never run concurrently.
final class LoopBound<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
