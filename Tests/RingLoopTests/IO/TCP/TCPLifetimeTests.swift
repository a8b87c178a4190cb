import Foundation
import Testing
@testable import RingLoop

/// What a connection holds and for how long: cancelled writes, staging
/// memory, dropped connections, flushing closes, binding on a dead loop.
@Suite("TCP lifetime and resources", .serialized)
struct TCPLifetimeTests {
    private func pair(_ loop: EventLoop) async throws -> (TCPListener, client: TCPConnection, server: TCPConnection) {
        let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
        let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
        guard let server = try await listener.accept() else { throw RingLoopError.closed(operation: "accept") }
        return (listener, client, server)
    }

    private func thrownError(_ body: () throws -> Void) -> (any Error)? {
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }

    /// The `RingLoopError` a completed future failed with (loop thread).
    private static func error(of future: Future<Void>) -> RingLoopError? {
        if case let .failure(error)? = future.result { return error as? RingLoopError }
        return nil
    }

    @Test func aWriteInAnAlreadyCancelledTaskThrowsAndSendsNothing() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            for round in 0..<50 {
                let write = Task(executorPreference: loop) {
                    withUnsafeCurrentTask { $0?.cancel() }
                    try await client.write([1, 2, 3])
                }
                await #expect(throws: CancellationError.self) { try await write.value }
                // Only the marker arrives: none of the cancelled bytes.
                let marker = UInt8(truncatingIfNeeded: 100 + round)
                try await client.write([marker])
                #expect(try await readExactly(1, from: server) == [marker])
            }
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test func theStagingBufferIsReleasedOnceTheQueueDrains() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            let burst = [UInt8](repeating: 5, count: 64 * 1024)
            try await loop.submit {
                for _ in 0..<8 { burst.withUnsafeBytes { client.write(copying: $0) } }
            }.get()
            _ = try await readExactly(8 * burst.count, from: server)
            #expect(try await eventually { try await loop.submit { client.pendingWriteBytes == 0 }.get() })
            let capacity = try await loop.submit { client.stagingCapacity }.get()
            #expect(capacity <= StagingBuffer.minimumCapacity, "kept \(capacity) bytes of staging after the burst")
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test func connectionsDroppedWithoutCloseAfterReadingReleaseTheirDescriptors() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let baseline = openFDCount()
            let peers = try await Task(executorPreference: loop) {
                var peers: [TCPConnection] = []
                for _ in 0..<100 {
                    let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
                    guard let peer = try await listener.accept() else { throw RingLoopError.closed(operation: "accept") }
                    peers.append(peer)
                    try await peer.write([42])
                    for try await chunk in client.inbound {
                        #expect(chunk == [42])
                        break
                    }
                    // `client` is dropped here without close().
                }
                return peers
            }.value
            // Only the peers' descriptors remain; they stay connected.
            #expect(await eventually { openFDCount() <= baseline + peers.count })
            #expect(try await loop.submit { peers.allSatisfy { !$0.isReceiving } }.get())
            for peer in peers { await peer.close() }
            await listener.close()
        }
    }

    private struct Stop: Error {}

    @Test func scopedConnectionsAreClosedHoweverTheirBodyEnds() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let server = Task(executorPreference: loop) { () -> Bool in
                guard let accepted = try await listener.accept() else { return false }
                // The accepted side's body throws; the connection is closed anyway.
                _ = try? await accepted.withClosing { connection in
                    try await connection.write([7])
                    throw Stop()
                }
                return try await loop.submit { accepted.closeFuture.result != nil }.get()
            }
            let (chunk, client) = try await TCPConnection.withConnection(to: listener.localAddress, on: loop) { connection in
                (try await connection.read(), connection)
            }
            #expect(chunk == [7])
            #expect(try await server.value, "the accepted connection was closed")
            #expect(try await loop.submit { client.closeFuture.result != nil }.get(), "the connecting side was closed")
            await listener.close()
        }
    }

    @Test func closeAfterPendingWritesToAPeerThatNeverReadsGivesUpAtItsDeadline() async throws {
        try await withSocketLoop { loop in try await flushToAPeerThatNeverReads(loop) }
    }

    private func flushToAPeerThatNeverReads(_ loop: EventLoop) async throws {
        let (listener, client, server) = try await pair(loop)
        // More than the kernel's buffers hold: the send never finishes.
        let write = client.write(pattern(64 << 20)) as Future<Void>
        #expect(try await eventually { try await loop.submit { client.pendingWriteBytes > 0 }.get() })
        let closing = client.close(afterPendingWrites: true, timeout: .milliseconds(300)) as Future<Void>
        var closed = false
        for _ in 0..<500 where !closed {
            closed = try await loop.submit { closing.result != nil }.get()
            if !closed { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(closed, "the flushing close never ended")
        let closeError = try await loop.submit { TCPLifetimeTests.error(of: closing) }.get()
        let writeError = try await loop.submit { TCPLifetimeTests.error(of: write) }.get()
        #expect(closeError == .timedOut(operation: "close(afterPendingWrites:)"), "close: \(String(describing: closeError))")
        #expect(writeError == .timedOut(operation: "close(afterPendingWrites:)"), "write: \(String(describing: writeError))")
        await client.close()
        await server.close()
        await listener.close()
    }

    @Test func aFlushingCloseCutShortByAnAbortFailsWithClosed() async throws {
        try await withSocketLoop { loop in try await abortDuringFlush(loop) }
    }

    private func abortDuringFlush(_ loop: EventLoop) async throws {
        let (listener, client, server) = try await pair(loop)
        let write = client.write(pattern(64 << 20)) as Future<Void>
        #expect(try await eventually { try await loop.submit { client.pendingWriteBytes > 0 }.get() })
        let closing = client.close(afterPendingWrites: true, timeout: .seconds(60)) as Future<Void>
        client.abort()
        var closed = false
        for _ in 0..<500 where !closed {
            closed = try await loop.submit { closing.result != nil }.get()
            if !closed { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(try await loop.submit { TCPLifetimeTests.error(of: closing) }.get() == .closed(operation: "close(afterPendingWrites:)"))
        #expect(try await loop.submit { TCPLifetimeTests.error(of: write) }.get() == .closed(operation: "write"))
        await server.close()
        await listener.close()
    }

    @Test func bindingOnALoopThatHasShutDownFails() async throws {
        let loop = try EventLoop.spawn()
        await loop.shutdownGracefully()
        let fdsBefore = openFDCount()
        let tcp = thrownError { _ = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop) }
        let udp = thrownError { _ = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop) }
        #expect(tcp as? RingLoopError == .shutDown, "TCPListener.bind: \(String(describing: tcp))")
        #expect(udp as? RingLoopError == .shutDown, "UDPSocket.bind: \(String(describing: udp))")
        #expect(openFDCount() == fdsBefore)
    }
}
