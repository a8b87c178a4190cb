import Foundation
import Testing
@testable import RingLoop

/// Echoes every byte back with the zero-allocation write path, pausing reads
/// while the send queue is over its high watermark.
final class EchoHandler: TCPConnectionHandler {
    let onClose: (() -> Void)?
    init(onClose: (() -> Void)? = nil) { self.onClose = onClose }

    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
        connection.write(copying: bytes)
        if !connection.isWritable { connection.pauseReading() }
    }

    func connectionWritabilityDidChange(_ connection: TCPConnection) {
        if connection.isWritable { connection.resumeReading() }
    }

    func connectionDidClose(_ connection: TCPConnection) { onClose?() }
}

/// Counts connections a server accepted and closed (any thread).
final class ServerStats: @unchecked Sendable {
    // Safe to share: guarded by `lock`.
    private let lock = NSLock()
    private var _accepted = 0
    private var _closed = 0
    private var _connections: [TCPConnection] = []
    var accepted: Int { lock.lock(); defer { lock.unlock() }; return _accepted }
    var closed: Int { lock.lock(); defer { lock.unlock() }; return _closed }
    var connections: [TCPConnection] { lock.lock(); defer { lock.unlock() }; return _connections }
    func didAccept(_ c: TCPConnection, keep: Bool) { lock.lock(); _accepted += 1; if keep { _connections.append(c) }; lock.unlock() }
    func didClose() { lock.lock(); _closed += 1; lock.unlock() }
}

/// Starts a callback-style echo server on 127.0.0.1, port 0.
func startEchoServer(on loop: EventLoop, stats: ServerStats = ServerStats(), options: TCPListener.Options = .init()) throws -> TCPListener {
    let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop, options: options)
    listener.start { connection in
        stats.didAccept(connection, keep: false)
        connection.setHandler(EchoHandler(onClose: { stats.didClose() }))
    }
    return listener
}

/// An echo server on 127.0.0.1 (its one connection kept, an `EchoHandler`
/// on it) and a client connected to it: the listener, the client and the
/// server's side of the connection.
func echoPair(on loop: EventLoop) async throws -> (TCPListener, TCPConnection, TCPConnection) {
    let stats = ServerStats()
    let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
    listener.start { connection in
        stats.didAccept(connection, keep: true)
        connection.setHandler(EchoHandler())
    }
    let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
    #expect(await eventually { stats.accepted == 1 })
    return (listener, client, try #require(stats.connections.first))
}

/// Reads from `connection` until `count` bytes arrived (or EOF).
func readExactly(_ count: Int, from connection: TCPConnection) async throws -> [UInt8] {
    var received: [UInt8] = []
    received.reserveCapacity(count)
    while received.count < count {
        guard let chunk = try await connection.read() else { break }
        received += chunk
    }
    return received
}

/// Deterministic pseudo-random test bytes (a shifted or repeated chunk never
/// matches by accident).
func pattern(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        var x = UInt32(seed) &* 2_654_435_761 &+ 1
        for i in 0..<count {
            x = x &* 1_664_525 &+ 1_013_904_223
            buffer[i] = UInt8(truncatingIfNeeded: x >> 24)
        }
        initialized = count
    }
}

/// Operations in flight on `loop`, read on the loop.
func inFlight(_ loop: EventLoop) async throws -> Int {
    try await loop.submit { loop.inFlightOperations }.get()
}


/// Runs `body` with a fresh loop; afterwards checks that the loop has no
/// operation in flight and that no descriptor leaked (the loop's own are
/// released by its shutdown).
func withSocketLoop<T>(_ body: (EventLoop) async throws -> T) async throws -> T {
    let namesBefore = fdNames()
    let loop = try EventLoop.spawn()
    let value: T
    do {
        value = try await body(loop)
    } catch {
        await loop.shutdownGracefully()
        throw error
    }
    let drained = try await eventually { try await inFlight(loop) == 0 }
    let left = try await inFlight(loop)
    #expect(drained, "operations still in flight: \(left)")
    let buffersBack = try await loop.submit { SocketResources.on(loop)?.lentBuffers ?? 0 }.get()
    #expect(buffersBack == 0)
    await loop.shutdownGracefully()
    let namesAfter = fdNames()
    #expect(namesAfter == namesBefore, "fd leak: new \(namesAfter.subtracting(namesBefore)), gone \(namesBefore.subtracting(namesAfter))")
    return value
}

/// Raises RLIMIT_NOFILE's soft limit to at least `wanted` (and the hard limit
/// when allowed); returns the soft limit in force.
@discardableResult
func raiseFileLimit(to wanted: Int) -> Int {
    var limit = rlimit()
    getrlimit(RLIMIT_NOFILE_VALUE, &limit)
    if Int(limit.rlim_cur) >= wanted { return Int(limit.rlim_cur) }
    var raised = limit
    raised.rlim_cur = rlim_t(wanted)
    if Int(raised.rlim_max) < wanted { raised.rlim_max = rlim_t(wanted) }
    if setrlimit(RLIMIT_NOFILE_VALUE, &raised) != 0 {
        raised.rlim_max = limit.rlim_max
        raised.rlim_cur = limit.rlim_max
        setrlimit(RLIMIT_NOFILE_VALUE, &raised)
    }
    getrlimit(RLIMIT_NOFILE_VALUE, &limit)
    return Int(limit.rlim_cur)
}

let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

/// "fd -> target" for every open descriptor, except the timerfds Dispatch
/// opens on demand for timed sleeps and the pipes a sanitizer opens to its
/// symbolizer (neither is ours to account for).
func fdNames() -> Set<String> {
    _ = sanitizerSymbolizerStarted
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return Set(names.compactMap { name in
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")) ?? "?"
        return target.contains("[timerfd]") || target.hasPrefix("pipe:") ? nil : "\(name) -> \(target)"
    })
}
