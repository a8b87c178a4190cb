import Foundation
import Testing
@testable import RingLoop

@Suite("TCP echo", .serialized)
struct TCPEchoTests {
    @Test(arguments: [1, 7, 1000, 16 * 1024, 16 * 1024 + 1, 100_000, 1 << 20])
    func echoReturnsExactlyTheBytesSent(size: Int) async throws {
        try await withSocketLoop { loop in
            let stats = ServerStats()
            let listener = try startEchoServer(on: loop, stats: stats)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            let message = pattern(size, seed: UInt8(size & 0xFF))
            try await client.write(message)
            let echoed = try await readExactly(size, from: client)
            #expect(echoed == message)
            await client.close()
            await listener.close()
            #expect(await waitUntil { stats.closed == 1 })
        }
    }
}
