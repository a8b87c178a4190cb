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
            #expect(await eventually { stats.closed == 1 })
        }
    }
}

extension TCPEchoTests {
    @Test func pipelinedWritesAreEchoedInOrder() async throws {
        try await withSocketLoop { loop in
            let listener = try startEchoServer(on: loop)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            // Many writes queued at once, of varied sizes: gathered into
            // vectored sends, short sends resubmitted, order kept.
            var expected: [UInt8] = []
            var futures: [Future<Void>] = []
            for i in 0..<300 {
                let message = pattern(1 + (i * 997) % 40_000, seed: UInt8(i & 0xFF))
                expected += message
                futures.append(client.write(message))
            }
            let echoed = try await readExactly(expected.count, from: client)
            for future in futures { try await future.get() }
            #expect(echoed == expected)
            await client.close()
            await listener.close()
        }
    }

    @Test func vectoredWriteSendsEveryBufferInOrder() async throws {
        try await withSocketLoop { loop in
            let listener = try startEchoServer(on: loop)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            let chunks = (0..<40).map { pattern(100 + $0 * 3000, seed: UInt8($0)) }
            try await client.write(contentsOf: chunks)
            let total = chunks.reduce(0) { $0 + $1.count }
            let echoed = try await readExactly(total, from: client)
            #expect(echoed == chunks.flatMap { $0 })
            await client.close()
            await listener.close()
        }
    }

    @Test func asyncServerAndCallbackClientEchoOnTheSameMachinery() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            // Async server: for-await over connections and their inbound bytes.
            let server = Task(executorPreference: loop) {
                for try await connection in listener.connections {
                    Task(executorPreference: loop) {
                        for try await chunk in connection.inbound { try await connection.write(chunk) }
                        await connection.close()
                    }
                }
            }
            // Callback client: future connect, handler collecting bytes.
            final class Collector: TCPConnectionHandler, @unchecked Sendable {
                // Safe to share: `bytes` is guarded by `lock`.
                let lock = NSLock()
                var bytes: [UInt8] = []
                var eof = false
                func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
                    lock.lock(); self.bytes += bytes; lock.unlock()
                }
                func connectionDidReachEOF(_ connection: TCPConnection) {
                    lock.lock(); eof = true; lock.unlock()
                    connection.close()
                }
                var snapshot: ([UInt8], Bool) { lock.lock(); defer { lock.unlock() }; return (bytes, eof) }
            }
            let collector = Collector()
            let message = pattern(200_000, seed: 3)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop).flatMap { connection in
                connection.setHandler(collector)
                return connection.write(message).map { connection }
            }.get()
            #expect(await eventually { collector.snapshot.0.count == message.count })
            #expect(collector.snapshot.0 == message)
            try await client.shutdownOutput().get()
            #expect(await eventually { collector.snapshot.1 })
            try await client.closeFuture.get()
            await listener.close()
            try await server.value
        }
    }

    @Test func echoWorksOverIPv6AndUnixDomainSockets() async throws {
        let path = NSTemporaryDirectory() + "ringloop-echo-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        for address in [SocketAddress.loopbackIPv6(port: 0), try SocketAddress(unixDomainSocketPath: path)] {
            try await withSocketLoop { loop in
                let listener = try TCPListener.bind(to: address, on: loop)
                listener.start { $0.setHandler(EchoHandler()) }
                let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
                let message = pattern(70_000, seed: 9)
                try await client.write(message)
                #expect(try await readExactly(message.count, from: client) == message)
                #expect(client.remoteAddress == listener.localAddress)
                await client.close()
                await listener.close()
            }
        }
        #expect(!FileManager.default.fileExists(atPath: path), "the listener removes its socket file")
    }

    @Test func connectionsReportAddressesAndApplyOptions() async throws {
        try await withSocketLoop { loop in
            let stats = ServerStats()
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            listener.start { stats.didAccept($0, keep: true) }
            var options = TCPConnection.Options()
            options.keepAlive = .init(idle: .seconds(30), interval: .seconds(5), count: 4)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop, options: options)
            #expect(await eventually { stats.accepted == 1 })
            let server = stats.connections[0]
            #expect(client.remoteAddress == listener.localAddress)
            #expect(server.remoteAddress == client.localAddress)
            #expect(server.localAddress == client.remoteAddress)
            #expect(client.localAddress?.ipAddress == "127.0.0.1")
            let (noDelay, keepAlive, idle, count) = try await loop.submit {
                (client.socketOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY),
                 client.socketOption(level: SOL_SOCKET, name: SO_KEEPALIVE),
                 client.socketOption(level: Int32(IPPROTO_TCP), name: TCP_KEEPIDLE),
                 client.socketOption(level: Int32(IPPROTO_TCP), name: TCP_KEEPCNT))
            }.get()
            #expect(noDelay == 1 && keepAlive == 1 && idle == 30 && count == 4)
            let off = try await loop.submit { () throws -> Int32? in
                try server.setNoDelay(false)
                try server.setKeepAlive(nil)
                return server.socketOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY)
            }.get()
            #expect(off == 0)
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test func socketAddressesParseAndPrint() throws {
        let v4 = try SocketAddress(ipAddress: "127.0.0.1", port: 8080)
        #expect(v4.description == "127.0.0.1:8080" && v4.family == .ipv4 && v4.port == 8080)
        let v6 = try SocketAddress(ipAddress: "::1", port: 443)
        #expect(v6.description == "[::1]:443" && v6 == .loopbackIPv6(port: 443))
        #expect(SocketAddress.loopbackIPv4(port: 1) == (try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        #expect(throws: RingLoopError.invalidAddress("localhost", reason: "not a numeric IPv4 or IPv6 address (names are not resolved)")) {
            try SocketAddress(ipAddress: "localhost", port: 1)
        }
        #expect(throws: RingLoopError.invalidAddress("127.0.0.1 port 70000", reason: "the port is outside 0...65535")) {
            try SocketAddress(ipAddress: "127.0.0.1", port: 70_000)
        }
        let long = String(repeating: "x", count: 200)
        #expect(throws: RingLoopError.invalidAddress(long, reason: "a Unix socket path must be shorter than 108 bytes")) {
            try SocketAddress(unixDomainSocketPath: long)
        }
        #expect(throws: RingLoopError.invalidAddress("", reason: "an empty Unix socket path")) {
            try SocketAddress(unixDomainSocketPath: "")
        }
        let unix = try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")
        #expect(unix.unixDomainSocketPath == "/tmp/x.sock" && unix.port == nil)
    }
}
