import Foundation
import Testing
@testable import RingLoop

/// Deadlines on TCP reads, writes and accepts, each named by the Python
/// behaviour it mirrors (`asyncio.wait_for(reader.read())`,
/// `socket.settimeout`): a timed-out operation did nothing, or says what it
/// did, and leaves no operation or timer behind.
@Suite("TCP deadlines", .serialized)
struct TCPDeadlineTests {
    /// A connected pair; the listener's multishot accept stays armed.
    private func pair(_ loop: EventLoop) async throws -> (TCPListener, client: TCPConnection, server: TCPConnection) {
        let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
        let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
        guard let server = try await listener.accept(timeout: .seconds(10)) else {
            throw RingLoopError.closed(operation: "accept")
        }
        return (listener, client, server)
    }

    private func timers(_ loop: EventLoop) async throws -> Int {
        try await loop.submit { loop.pendingTimerCount }.get()
    }

    @Test(.timeLimit(.minutes(1)))
    func waitForReaderReadTimesOutAndDataThatArrivesLaterIsNotLost() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            let start = Deadline.now()
            await #expect(throws: RingLoopError.timedOut(operation: "read")) {
                _ = try await server.read(timeout: .milliseconds(50))
            }
            #expect(Deadline.now() - start >= .milliseconds(50))
            // The timed-out read's receive is gone; only the accept is left.
            #expect(try await eventually { try await loop.submit { !server.hasPendingRead && !server.isReceiving }.get() })
            #expect(try await eventually { try await inFlight(loop) == 1 })
            #expect(try await timers(loop) == 0)
            try await client.write(Array("late".utf8))
            #expect(try await server.read(timeout: .seconds(10)) == Array("late".utf8))
            #expect(try await timers(loop) == 0, "a read that finished disarms its deadline")
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func readsWithDeadlinesRacingTheWritesLoseNoByte() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            var got: [UInt8] = []
            var timedOut = 0
            for round in 0..<50 {
                // Deadlines from 0 to ~1 ms: some rounds time out before the
                // byte arrives, some right as it does; no byte may be lost.
                async let written: Void = client.write([UInt8(round)])
                do {
                    if let chunk = try await server.read(timeout: .microseconds(Int64(round) * 20)) { got += chunk }
                } catch RingLoopError.timedOut {
                    timedOut += 1
                }
                try await written
            }
            while got.count < 50, let chunk = try await server.read(timeout: .seconds(10)) { got += chunk }
            #expect(got == (0..<50).map { UInt8($0) }, "every byte, in order, once (\(timedOut) reads timed out)")
            #expect(try await timers(loop) == 0)
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aReadWhoseDeadlineHasPassedTakesNothing() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            try await client.write([1, 2, 3])
            await #expect(throws: RingLoopError.timedOut(operation: "read")) {
                _ = try await server.read(deadline: .distantPast)
            }
            #expect(try await readExactly(3, from: server) == [1, 2, 3], "nothing was consumed")
            // On the loop thread a kept chunk is taken without waiting; a
            // past deadline refuses that too.
            let refused = try await loop.run { () async throws -> Bool in
                try await client.write([4])
                guard await eventually({ server.bufferedInboundBytes == 1 }) else { return false }
                do {
                    _ = try await server.read(deadline: .distantPast)
                    return false
                } catch RingLoopError.timedOut(operation: "read") {
                    return server.bufferedInboundBytes == 1
                }
            }
            #expect(refused)
            #expect(try await readExactly(1, from: server) == [4])
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func sendallWithATimeoutToAPeerThatDoesNotReadReportsWhatWasSent() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            // Built before the clock starts: a 64 MiB pattern takes a while in a debug build.
            let big = pattern(64 << 20, seed: 4)
            var sent = -1
            do {
                try await client.write(big, timeout: .milliseconds(200))
                Issue.record("a 64 MiB write to a peer that does not read completed")
            } catch let error as PartialWriteError {
                #expect(error.requested == big.count)
                #expect(error.reason as? RingLoopError == .timedOut(operation: "write"))
                sent = error.written
            }
            #expect(sent > 0 && sent < big.count)
            #expect(try await eventually { try await inFlight(loop) == 1 })
            #expect(try await timers(loop) == 0)
            // The stream has a hole: later writes fail instead of corrupting it.
            await #expect(throws: RingLoopError.writeCancelledMidway(operation: "send")) { try await client.write([1]) }
            await client.close()
            var got: [UInt8] = []
            for try await chunk in server.inbound { got += chunk }
            #expect(got.count == sent && got == Array(big[..<got.count]), "the peer got exactly the reported prefix")
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aWriteThatTimesOutBeforeSendingAnythingLeavesTheConnectionUsable() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            let a = pattern(32 << 20, seed: 5)
            let b = [UInt8](repeating: 0xBB, count: 1000)
            let c = pattern(5000, seed: 6)
            let writeA = Task(executorPreference: loop) { try await client.write(a) }
            // A fills the socket; B waits behind it and times out unsent.
            #expect(try await eventually { try await loop.submit { client.pendingWriteBytes > 0 }.get() })
            await #expect(throws: RingLoopError.timedOut(operation: "write")) {
                try await client.write(b, timeout: .milliseconds(50))
            }
            #expect(try await timers(loop) == 0)
            // The connection goes on: the reader gets A then C, nothing of B.
            let writeC = Task(executorPreference: loop) {
                try await client.write(contentsOf: [Array(c[..<100]), Array(c[100...])], timeout: .seconds(30))
            }
            let got = try await readExactly(a.count + c.count, from: server)
            try await writeA.value
            try await writeC.value
            #expect(got.count == a.count + c.count)
            #expect(Array(got[..<a.count]) == a && Array(got[a.count...]) == c)
            #expect(try await timers(loop) == 0)
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func acceptOnASocketWithATimeoutRaisesAndTheListenerStaysUsable() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let start = Deadline.now()
            await #expect(throws: RingLoopError.timedOut(operation: "accept")) {
                _ = try await listener.accept(timeout: .milliseconds(50))
            }
            #expect(Deadline.now() - start >= .milliseconds(50))
            #expect(try await timers(loop) == 0)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            let server = try #require(try await listener.accept(timeout: .seconds(10)))
            try await client.write([42])
            #expect(try await readExactly(1, from: server) == [42])
            // A deadline already past takes no connection that is waiting.
            let second = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            await #expect(throws: RingLoopError.timedOut(operation: "accept")) {
                _ = try await listener.accept(deadline: .distantPast)
            }
            let secondServer = try #require(try await listener.accept(deadline: .now() + .seconds(10)))
            try await second.write([43])
            #expect(try await readExactly(1, from: secondServer) == [43])
            #expect(try await timers(loop) == 0)
            for connection in [client, server, second, secondServer] { await connection.close() }
            await listener.close()
        }
    }
}
