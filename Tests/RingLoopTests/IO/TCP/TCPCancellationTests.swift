import Foundation
import Testing
@testable import RingLoop

@Suite("TCP cancellation", .serialized)
struct TCPCancellationTests {
    /// A connected pair whose server side is not read yet, so big writes stay
    /// in the kernel.
    private func pair(_ loop: EventLoop) async throws -> (TCPListener, client: TCPConnection, server: TCPConnection) {
        let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
        let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
        guard let server = try await listener.accept() else { throw RingLoopError.closed(operation: "accept") }
        return (listener, client, server)
    }

    @Test func cancelledQueuedWriteIsDroppedAndTheStreamStaysWhole() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            let a = pattern(32 << 20, seed: 1)
            let b = [UInt8](repeating: 0xBB, count: 1000)
            let c = pattern(5000, seed: 3)
            let writeA = Task(executorPreference: loop) { try await client.write(a) }
            #expect(try await eventually { try await loop.submit { client.pendingWriteBytes > 0 }.get() })
            let writeB = Task(executorPreference: loop) { try await client.write(b) }
            #expect(try await eventually { try await loop.submit { client.pendingWriteBytes > a.count / 2 + b.count }.get() })
            writeB.cancel()
            await #expect(throws: CancellationError.self) { try await writeB.value }
            let writeC = Task(executorPreference: loop) { try await client.write(c) }
            // The reader gets A then C: nothing of B, nothing lost.
            let got = try await readExactly(a.count + c.count, from: server)
            try await writeA.value
            try await writeC.value
            #expect(got.count == a.count + c.count)
            #expect(Array(got[..<a.count]) == a && Array(got[a.count...]) == c)
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test func cancellingAWriteTheKernelHasStartedReportsWhatWasSentAndBreaksTheOutput() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            let big = pattern(64 << 20, seed: 2)
            let write = Task(executorPreference: loop) { try await client.write(big) }
            // Wait until part of it is in the socket and the rest waits in the kernel.
            #expect(try await eventually {
                try await loop.submit { (1..<big.count).contains(client.pendingWriteBytes) }.get()
            })
            write.cancel()
            // Not CancellationError: part of it went out, and the error says how much.
            var sent = -1
            do {
                try await write.value
                Issue.record("a 64 MiB write to a peer that does not read completed")
            } catch let error as PartialWriteError {
                #expect(error.requested == big.count && error.reason is CancellationError)
                sent = error.written
            }
            #expect(sent > 0 && sent < big.count)
            // Only the listener's accept is left in flight.
            #expect(try await eventually { try await inFlight(loop) == 1 })
            // The stream has a hole now: later writes fail instead of corrupting it.
            await #expect(throws: RingLoopError.writeCancelledMidway(operation: "send")) { try await client.write([1]) }
            // What went out is exactly the prefix the error reported.
            await client.close()
            var got: [UInt8] = []
            for try await chunk in server.inbound { got += chunk }
            #expect(got.count == sent && got == Array(big[..<got.count]))
            await server.close()
            await listener.close()
        }
    }

    @Test func cancelledReadLosesNoBytes() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            for round in 0..<50 {
                let read = Task(executorPreference: loop) { try await server.read() }
                #expect(try await eventually { try await loop.submit { server.hasPendingRead && server.isReceiving }.get() })
                read.cancel()
                await #expect(throws: CancellationError.self) { _ = try await read.value }
                #expect(try await eventually { try await loop.submit { !server.isReceiving }.get() })
                let message = pattern(100 + round, seed: UInt8(round))
                try await client.write(message)
                #expect(try await readExactly(message.count, from: server) == message)
            }
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test func cancellingAnAcceptingTaskLeavesTheListenerUsable() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let accepting = Task { try await listener.accept() }
            #expect(try await eventually { try await inFlight(loop) == 1 })
            accepting.cancel()
            await #expect(throws: CancellationError.self) { _ = try await accepting.value }
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            let server = try await listener.accept()
            #expect(server?.remoteAddress == client.localAddress)
            await client.close()
            await server?.close()
            await listener.close()
        }
    }
}
