import RingLoop

/// Pseudo-random bytes that messages are cut from: message k of a connection
/// is `size` bytes starting at offset k % 251, so consecutive messages differ
/// and a lost, repeated or reordered byte shows.
// Safe to share: written once in `init`, only read afterwards.
final class MessageSource: @unchecked Sendable {
    static let period = 251
    let size: Int
    let bytes: UnsafeMutableRawPointer

    init(size: Int) {
        self.size = size
        bytes = .allocate(byteCount: size + MessageSource.period, alignment: 16)
        var x: UInt32 = 0x9E37_79B9
        for i in 0..<(size + MessageSource.period) {
            x = x &* 1_664_525 &+ 1_013_904_223
            bytes.storeBytes(of: UInt8(truncatingIfNeeded: x >> 24), toByteOffset: i, as: UInt8.self)
        }
    }

    deinit { bytes.deallocate() }

    func message(_ k: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bytes + k % MessageSource.period, count: size)
    }
}

/// Counters of one loop's connections (touched on that loop only).
final class LoadStats {
    var latencies = LatencyHistogram()
    var messages = 0
    var bytes = 0
    var errors = 0
    var unfinished = 0
    var onAllFinished: (() -> Void)?

    func finished() {
        unfinished -= 1
        if unfinished == 0 { onAllFinished?() }
    }
}

/// One client connection: keeps `depth` messages in flight, checks each echoed
/// byte against what was sent, records each message's round-trip time.
final class LoadConnection: TCPConnectionHandler {
    private let source: MessageSource
    private let depth: Int
    private let stats: LoadStats
    private var sendTimes: [UInt64]
    private var sent = 0
    private var received = 0
    /// Bytes of message `received` checked so far.
    private var offset = 0
    private var messageIntact = true
    private var running = true
    private var done = false
    private var countUntil: Deadline = .distantFuture

    init(source: MessageSource, depth: Int, stats: LoadStats) {
        self.source = source
        self.depth = depth
        self.stats = stats
        self.sendTimes = [UInt64](repeating: 0, count: depth)
    }

    func start(_ connection: TCPConnection, until end: Deadline) {
        countUntil = end
        connection.setHandler(self)
        for _ in 0..<depth { send(on: connection) }
    }

    /// Stops sending; the connection closes once its in-flight echoes are back.
    func stop(_ connection: TCPConnection) {
        running = false
        if received == sent { finish(connection) }
    }

    private func send(on connection: TCPConnection) {
        sendTimes[sent % depth] = Deadline.now().uptimeNanoseconds
        connection.write(copying: source.message(sent))
        sent += 1
    }

    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            guard received < sent else {
                stats.errors += 1   // bytes nobody sent
                return
            }
            let expected = source.message(received)
            let n = min(rest.count, source.size - offset)
            if memcmp(rest.baseAddress!, expected.baseAddress! + offset, n) != 0 { messageIntact = false }
            offset += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            guard offset == source.size else { continue }
            let now = Deadline.now()
            if !messageIntact { stats.errors += 1 }
            if now <= countUntil {
                stats.latencies.record(nanoseconds: now.uptimeNanoseconds &- sendTimes[received % depth])
                stats.messages += 1
                stats.bytes += source.size
            }
            received += 1
            offset = 0
            messageIntact = true
            if running {
                send(on: connection)
            } else if received == sent {
                finish(connection)
            }
        }
    }

    func connection(_ connection: TCPConnection, didFailWith error: any Error) {
        stats.errors += 1
        finish(connection)
    }

    func connectionDidReachEOF(_ connection: TCPConnection) {
        if received < sent { stats.errors += 1 }
        finish(connection)
    }

    private func finish(_ connection: TCPConnection) {
        guard !done else { return }
        done = true
        connection.close()
        stats.finished()
    }
}

#if canImport(Glibc)
import Glibc
#endif
