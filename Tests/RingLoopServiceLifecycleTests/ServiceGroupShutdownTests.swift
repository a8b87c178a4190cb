import Foundation
import Logging
import RingLoop
import RingLoopServiceLifecycle
import ServiceLifecycle
import Testing

/// A TCP echo server written the way a swift-service-lifecycle service is:
/// it serves until graceful shutdown, then stops accepting, lets every
/// connection finish the echo it is doing, half-closes it (the client reads
/// EOF after the last echoed byte), drains what the client still sends, and
/// closes it.
struct EchoService: Service {
    let group: EventLoopGroup
    /// Reports the bound port once the listener is up.
    let ready: @Sendable (Int) -> Void
    /// Bytes each connection's writes reported as written (acknowledged).
    let acknowledged = Ledger()

    func run() async throws {
        let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: group.next())
        ready(listener.localAddress.port ?? 0)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { connections in
                var index = 0
                do {
                    for try await connection in listener.connections {
                        let id = index
                        index += 1
                        connections.addTask { await serve(connection, id: id) }
                    }
                } catch {}
                await connections.waitForAll()
            }
        } onGracefulShutdown: {
            listener.close()
        }
    }

    private func serve(_ connection: TCPConnection, id: Int) async {
        do {
            while true {
                // Only the read is cut short by the shutdown (a cancelled read
                // consumes nothing); an echo under way completes.
                guard let chunk = try await cancelWhenGracefulShutdown({ try await connection.read() }) else { break }
                try await connection.write(chunk)
                acknowledged.add(chunk.count, to: id)
            }
        } catch {}
        // Lingering close: FIN after the echoed bytes, then read until the
        // client closes, so a late request never turns into an RST that could
        // destroy echoed bytes the client has not read yet.
        _ = try? await connection.shutdownOutput()
        _ = try? await withTimeout(.seconds(10), operation: "drain") {
            while try await connection.read() != nil {}
        }
        await connection.close()
    }
}

/// Thread-safe byte counts by connection.
final class Ledger: @unchecked Sendable {
    // Safe to share: `counts` is guarded by `lock`.
    private let lock = NSLock()
    private var counts: [Int: Int] = [:]
    func add(_ n: Int, to id: Int) { lock.withLock { counts[id, default: 0] += n } }
    var total: Int { lock.withLock { counts.values.reduce(0, +) } }
}

@Suite("ServiceLifecycle")
struct ServiceGroupShutdownTests {
    /// A client doing request/response round trips until the server ends the
    /// stream; returns what it sent and what came back.
    static func client(port: Int, on loop: EventLoop, id: Int, roundTrips: AsyncSemaphore) async throws -> (sent: [UInt8], received: [UInt8]) {
        let connection = try await TCPConnection.connect(to: .loopbackIPv4(port: port), on: loop)
        var sent: [UInt8] = []
        var received: [UInt8] = []
        var sequence = 0
        loop: while true {
            let message = (0..<64).map { UInt8(truncatingIfNeeded: $0 &+ sequence &+ id) }
            sequence += 1
            do {
                try await connection.write(message)
            } catch {
                break   // the server has shut down; what it echoed is in `received`
            }
            sent += message
            let goal = received.count + message.count
            while received.count < goal {
                guard let chunk = try await connection.read() else { break loop }
                received += chunk
            }
            roundTrips.release()
        }
        // Read what may still be on the way, up to EOF.
        while let chunk = try? await connection.read() { received += chunk }
        await connection.close()
        return (sent, received)
    }

    @Test func serviceGroupWithAnEchoServerShutsDownOnSIGTERMWithConnectionsOpenAndLosesNoAcknowledgedWrite() async throws {
        let group = try EventLoopGroup(numberOfLoops: 2)
        let clientLoop = try EventLoop.spawn()
        let port = AsyncQueue<Int>()
        let server = EchoService(group: group, ready: { _ = try? port.tryPut($0) })
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let services = ServiceGroup(
            services: [group, server],
            gracefulShutdownSignals: [.sigterm],
            logger: logger
        )

        try await withTimeout(.seconds(60), operation: "service group test") {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await services.run() }
                let bound = try await port.get(timeout: .seconds(10))
                let roundTrips = AsyncSemaphore(value: 0)
                let clients = (0..<4).map { id in
                    Task { try await Self.client(port: bound, on: clientLoop, id: id, roundTrips: roundTrips) }
                }
                // Every connection is open and echoing before the signal.
                for _ in 0..<40 {
                    try await roundTrips.acquire(timeout: .seconds(10))
                }
                kill(getpid(), SIGTERM)
                try await tasks.next()   // the service group returns

                var totalReceived = 0
                for client in clients {
                    let (sent, received) = try await client.value
                    #expect(received.count <= sent.count)
                    #expect(Array(sent.prefix(received.count)) == received, "echoed bytes are what was sent, in order")
                    totalReceived += received.count
                }
                #expect(totalReceived == server.acknowledged.total, "every acknowledged echo reached its client")
                #expect(totalReceived >= 40 * 64)
            }
        }
        let allShutDown = group.loops.allSatisfy { $0.isShutDown }
        #expect(allShutDown, "the group was shut down as a service")
        await clientLoop.shutdownGracefully()
    }

    @Test func threadPoolAsAServiceDrainsOnGracefulShutdown() async throws {
        let pool = ThreadPool(threadCount: 1, name: "svc-pool")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let services = ServiceGroup(services: [pool], gracefulShutdownSignals: [], logger: logger)
        try await withTimeout(.seconds(30), operation: "pool service") {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await services.run() }
                let value = try await pool.run { 21 * 2 }
                #expect(value == 42)
                await services.triggerGracefulShutdown()
                try await tasks.next()
            }
        }
        #expect(pool.statistics.liveWorkers == 0, "every worker was joined")
        await #expect(throws: RingLoopError.shutDown) { try await pool.run { 1 } }
    }
}
