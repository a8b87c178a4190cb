import Foundation
import Testing
@testable import RingLoop

@Suite("TCP at scale", .serialized)
struct TCPScaleTests {
    /// Runs `count` operations with at most `width` in flight at once, each as
    /// a task on `loop`, collecting their results in order.
    private func windowed<T: Sendable>(
        _ count: Int, width: Int, on loop: EventLoop,
        _ body: @escaping @Sendable (Int) async throws -> T
    ) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results = [T?](repeating: nil, count: count)
            var next = 0
            func add() {
                let i = next
                next += 1
                group.addTask(executorPreference: loop) { (i, try await body(i)) }
            }
            while next < min(width, count) { add() }
            while let (i, value) = try await group.next() {
                results[i] = value
                if next < count { add() }
            }
            return results.compactMap { $0 }
        }
    }

    /// Set in the environment of the client process the scale test spawns.
    static let clientRoleVariable = "RINGLOOP_TEST_SCALE_CLIENT"

    /// 10,000 connections need 20,000 descriptors when both ends live in one
    /// process, more than a typical hard RLIMIT_NOFILE (20,000 here, and
    /// raising it needs CAP_SYS_RESOURCE). So the clients run in a second
    /// process: this test binary again, running `clientProcessRole` only.
    @Test(.timeLimit(.minutes(1)))
    func tenThousandConcurrentConnectionsOnOneLoopAreAllServed() async throws {
        let count = 10_000
        let limit = raiseFileLimit(to: count + 1024)
        try #require(limit >= count + 256, "RLIMIT_NOFILE could not be raised (\(limit))")
        try await withSocketLoop { loop in
            let stats = ServerStats()
            var options = TCPListener.Options()
            options.backlog = 4096
            let listener = try startEchoServer(on: loop, stats: stats, options: options)
            let client = try ChildProcess(
                arguments: ["--testing-library", "swift-testing", "--filter", "clientProcessRole"],
                environment: [TCPScaleTests.clientRoleVariable: "\(listener.localAddress.port ?? 0) \(count)"]
            )
            defer { client.kill() }
            #expect(client.readLine() == "CONNECTED \(count)")
            // Every connection is open at once on the server's one loop: one
            // multishot receive armed per connection, plus the accept.
            #expect(await eventually(timeout: .seconds(10)) { stats.accepted == count })
            // The client sends nothing until told, so no send is in flight here.
            #expect(try await inFlight(loop) == count + 1)
            client.send("ECHO")
            #expect(client.readLine() == "ECHOED \(count)")
            #expect(stats.closed == 0)
            client.closeInput()
            #expect(client.wait() == 0)
            #expect(await eventually(timeout: .seconds(15)) { stats.closed == count })
            await listener.close()
        }
    }

    /// The client side of `tenThousandConcurrentConnectionsOnOneLoopAreAllServed`,
    /// run in a child process: connects, echoes one message per connection,
    /// holds them all open until its input closes, then closes them.
    @Test(.enabled(if: ProcessInfo.processInfo.environment[TCPScaleTests.clientRoleVariable] != nil))
    func clientProcessRole() async throws {
        let spec = (ProcessInfo.processInfo.environment[TCPScaleTests.clientRoleVariable] ?? "").split(separator: " ").compactMap { Int($0) }
        try #require(spec.count == 2)
        let (port, count) = (spec[0], spec[1])
        raiseFileLimit(to: count + 1024)
        let loop = try EventLoop.spawn()
        let address = SocketAddress.loopbackIPv4(port: port)
        // A window of connects keeps the listener's SYN queue from overflowing.
        let clients = try await windowed(count, width: 256, on: loop) { _ in
            try await TCPConnection.connect(to: address, on: loop)
        }
        ChildProcess.report("CONNECTED \(clients.count)")
        guard ChildProcess.readInputLine() == "ECHO" else { return }
        let echoed = try await windowed(count, width: 1000, on: loop) { i in
            let message = withUnsafeBytes(of: UInt64(i).littleEndian) { Array($0) }
            try await clients[i].write(message)
            return try await readExactly(8, from: clients[i]) == message
        }
        ChildProcess.report("ECHOED \(echoed.filter { $0 }.count)")
        ChildProcess.waitForEndOfInput()
        _ = try await windowed(count, width: 1000, on: loop) { i in await clients[i].close() }
        await loop.shutdownGracefully()
    }

    @Test(.timeLimit(.minutes(1)))
    func tenThousandPendingReadsCancelCleanlyAndLoseNothing() async throws {
        let pairs = 5_000
        let limit = raiseFileLimit(to: 2 * pairs + 1024)
        try #require(limit >= 2 * pairs + 256, "RLIMIT_NOFILE could not be raised (\(limit))")
        try await withSocketLoop { loop in
            // 5,000 TCP connections on 127.0.0.1; a read is pending on both
            // ends of each: 10,000 receives in the kernel.
            let stats = ServerStats()
            var options = TCPListener.Options()
            options.backlog = 4096
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop, options: options)
            listener.start { stats.didAccept($0, keep: true) }
            let address = listener.localAddress
            let clients = try await windowed(pairs, width: 256, on: loop) { _ in
                try await TCPConnection.connect(to: address, on: loop)
            }
            #expect(await eventually(timeout: .seconds(10)) { stats.accepted == pairs })
            await listener.close()
            // Pair each client with its server side by address.
            let servers = Dictionary(uniqueKeysWithValues: stats.connections.compactMap { c in c.remoteAddress.map { ($0, c) } })
            var made: [TCPConnection] = []
            for client in clients {
                guard let local = client.localAddress, let server = servers[local] else { continue }
                made.append(client)
                made.append(server)
            }
            try #require(made.count == 2 * pairs)
            let ends = made
            let readers = ends.map { end in Task(executorPreference: loop) { try await end.read() } }
            #expect(try await eventually(timeout: .seconds(15)) { try await inFlight(loop) == 2 * pairs })
            for reader in readers { reader.cancel() }
            var cancelled = 0
            for reader in readers {
                do { _ = try await reader.value } catch is CancellationError { cancelled += 1 }
            }
            #expect(cancelled == 2 * pairs)
            // Every kernel receive has ended: nothing in flight, no buffer held.
            #expect(try await eventually(timeout: .seconds(10)) { try await inFlight(loop) == 0 })
            #expect(try await loop.submit { SocketResources.on(loop)?.lentBuffers ?? -1 }.get() == 0)
            // Nothing was lost: each end still reads what its peer sends.
            let intact = try await windowed(pairs, width: 500, on: loop) { i in
                let a = ends[2 * i], b = ends[2 * i + 1]
                try await a.write([UInt8(i & 0xFF), 1])
                try await b.write([UInt8(i & 0xFF), 2])
                let fromA = try await readExactly(2, from: b)
                let fromB = try await readExactly(2, from: a)
                return fromA == [UInt8(i & 0xFF), 1] && fromB == [UInt8(i & 0xFF), 2]
            }
            #expect(intact.count == pairs && intact.allSatisfy { $0 })
            for end in ends { _ = end.close() as Future<Void> }
            for end in ends { try await end.closeFuture.get() }
        }
    }
}
