import Testing
@testable import RingLoop

/// `write(copying:)` of the bytes a handler is handed sends them from their
/// receive buffer (no staging copy) when that cannot hold a shared buffer.
@Suite("TCP send from the receive buffer", .serialized)
struct TCPLendingTests {
    @Test(.timeLimit(.minutes(1)))
    func anEchoToAReaderThatKeepsUpNeedsNoStagingBuffer() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await echoPair(on: loop)
            for round in 0..<50 {
                let message = pattern(100 + round, seed: UInt8(round))
                try await client.write(message)
                #expect(try await readExactly(message.count, from: client) == message)
            }
            let state = try await loop.submit {
                (server.stagingCapacity, SocketResources.on(loop)?.lentBuffers ?? -1, server.pendingWriteBytes)
            }.get()
            #expect(state.0 == 0, "every echo went out from its receive buffer")
            #expect(state.1 == 0, "and every buffer went back once its send completed")
            #expect(state.2 == 0)
            await client.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aPeerThatDoesNotReadHoldsNoReceiveBufferAndGetsEveryByteOnceItReads() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await echoPair(on: loop)
            // 4 KiB at a time, nobody reading the echoes: the socket fills,
            // the sends that would borrow a buffer come back short or with
            // EAGAIN, and what they left is staged.
            let total = 8 << 20
            let source = pattern(total, seed: 42)
            let progress = Box(0)
            let writer = Task {
                var sent = 0
                while sent < total {
                    try await client.write(Array(source[sent..<(sent + 4096)]))
                    sent += 4096
                    progress.with { $0 = sent }
                }
            }
            // Wait until nothing moves (the writer is held back, or done with
            // every byte in socket buffers): the echo queue is full. (While bytes still flow, a buffer may be lent to
            // a send for the tick until its completion.)
            var stalledAt = -1
            #expect(try await eventually(timeout: .seconds(10)) {
                try await Task.sleep(for: .milliseconds(200))
                defer { stalledAt = progress.get }
                return progress.get == stalledAt
            })
            let state = try await loop.submit {
                (server.pendingWriteBytes, server.stagingCapacity, SocketResources.on(loop)?.lentBuffers ?? -1)
            }.get()
            #expect(state.0 > 0 && state.1 > 0, "the unsent echo is staged")
            #expect(state.2 == 0, "a stalled echo keeps no shared receive buffer")
            let received = try await readExactly(total, from: client)
            #expect(received == source, "every byte, in order")
            try await writer.value
            await client.close()
            await listener.close()
        }
    }
}
