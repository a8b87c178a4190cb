import Foundation
import Testing
@testable import RingLoop

@Suite("TCP errors and closing", .serialized)
struct TCPErrorTests {
    /// A port on 127.0.0.1 that nothing listens on (held bound, not listening,
    /// so that nobody else takes it meanwhile).
    private func deadPort() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    @Test func connectToAPortNobodyListensOnIsRefused() async throws {
        try await withSocketLoop { loop in
            let (fd, port) = try deadPort()
            defer { close(fd) }
            await #expect(throws: IOError("connect", .connectionRefused)) {
                _ = try await TCPConnection.connect(to: .loopbackIPv4(port: port), on: loop)
            }
            // The future flavour reports the same typed error.
            let future: Future<TCPConnection> = TCPConnection.connect(to: .loopbackIPv4(port: port), on: loop)
            await #expect(throws: IOError("connect", .connectionRefused)) { _ = try await future.get() }
        }
    }

    @Test func connectThatGetsNoAnswerTimesOut() async throws {
        try await withSocketLoop { loop in
            // A listener with a full accept queue drops further SYNs, so a
            // connect to it hangs until our deadline.
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop, options: { var o = TCPListener.Options(); o.backlog = 0; return o }())
            var fillers: [TCPConnection] = []
            var timedOut = false
            for _ in 0..<8 where !timedOut {
                do {
                    fillers.append(try await TCPConnection.connect(to: listener.localAddress, on: loop, timeout: .milliseconds(300)))
                } catch RingLoopError.timedOut {
                    timedOut = true
                }
            }
            #expect(timedOut)
            let started = Deadline.now()
            await #expect(throws: RingLoopError.timedOut(operation: "connect")) {
                _ = try await TCPConnection.connect(to: listener.localAddress, on: loop, timeout: .milliseconds(200))
            }
            #expect(Deadline.now() - started < .seconds(2))
            // The same with an absolute deadline, async and as a future.
            await #expect(throws: RingLoopError.timedOut(operation: "connect")) {
                _ = try await TCPConnection.connect(to: listener.localAddress, on: loop, deadline: .now() + .milliseconds(100))
            }
            let future: Future<TCPConnection> = TCPConnection.connect(
                to: listener.localAddress, on: loop, deadline: .now() + .milliseconds(100))
            await #expect(throws: RingLoopError.timedOut(operation: "connect")) { _ = try await value(of: future) }
            #expect(try await loop.submit { loop.pendingTimerCount }.get() == 0)
            for filler in fillers { await filler.close() }
            await listener.close()
        }
    }

    @Test func cancellingAConnectClosesItsSocket() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop, options: { var o = TCPListener.Options(); o.backlog = 0; return o }())
            var fillers: [TCPConnection] = []
            while fillers.count < 8, let c = try? await TCPConnection.connect(to: listener.localAddress, on: loop, timeout: .milliseconds(200)) {
                fillers.append(c)
            }
            let attempt = Task { try await TCPConnection.connect(to: listener.localAddress, on: loop) }
            #expect(try await eventually { try await inFlight(loop) == 1 })
            attempt.cancel()
            await #expect(throws: CancellationError.self) { _ = try await attempt.value }
            for filler in fillers { await filler.close() }
            await listener.close()
        }
    }

    @Test func peerResetMidStreamThrowsConnectionResetNotEOF() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            guard let server = try await listener.accept() else { Issue.record("no connection"); return }
            let message = pattern(64 * 1024, seed: 5)
            try await client.write(message)
            var received: [UInt8] = []
            if let first = try await server.read() { received += first }
            try await client.abort().get()
            var outcome: (any Error)?
            do {
                while let chunk = try await server.read() { received += chunk }
            } catch {
                outcome = error
            }
            #expect(outcome as? IOError == IOError("recv", .connectionReset), "got \(String(describing: outcome))")
            #expect(Array(message.prefix(received.count)) == received, "bytes before the reset arrive intact")
            // Writing to a reset connection fails with a typed error too.
            await #expect(throws: IOError.self) {
                for _ in 0..<4 { try await server.write(pattern(1000)) }
            }
            await server.close()
            await listener.close()
        }
    }

    @Test func handlersSeeResetAndEOFAsDistinctEvents() async throws {
        final class Recorder: TCPConnectionHandler, @unchecked Sendable {
            // Safe to share: guarded by `lock`.
            let lock = NSLock()
            var events: [String] = []
            func record(_ e: String) { lock.lock(); events.append(e); lock.unlock() }
            var snapshot: [String] { lock.lock(); defer { lock.unlock() }; return events }
            func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {}
            func connectionDidReachEOF(_ connection: TCPConnection) { record("eof"); connection.close() }
            func connection(_ connection: TCPConnection, didFailWith error: any Error) {
                record((error as? IOError)?.errno == .connectionReset ? "reset" : "error \(error)")
                connection.close()
            }
            func connectionDidClose(_ connection: TCPConnection) { record("closed") }
        }
        try await withSocketLoop { loop in
            let recorders = [Recorder(), Recorder()]
            let index = Box(0)
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            listener.start { connection in
                let i = index.with { v in defer { v += 1 }; return v }
                connection.setHandler(recorders[i])
            }
            let polite = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            #expect(await eventually { index.get == 1 })
            await polite.close()
            #expect(await eventually { recorders[0].snapshot == ["eof", "closed"] })
            let rude = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            #expect(await eventually { index.get == 2 })
            try await rude.abort().get()
            #expect(await eventually { recorders[1].snapshot == ["reset", "closed"] })
            await listener.close()
        }
    }

    @Test func halfCloseDeliversEOFWhileTheOtherDirectionKeepsWorking() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            guard let server = try await listener.accept() else { Issue.record("no connection"); return }
            let request = pattern(50_000, seed: 1)
            try await client.write(request)
            try await client.shutdownOutput()
            // The server reads the whole request, then EOF.
            var got: [UInt8] = []
            for try await chunk in server.inbound { got += chunk }
            #expect(got == request)
            let afterEOF = try await server.read()
            #expect(afterEOF == nil, "EOF stays EOF")
            // Writing on the shut-down side fails; the other direction works.
            await #expect(throws: IOError("send", .brokenPipe)) { try await client.write([1]) }
            let response = pattern(30_000, seed: 2)
            try await server.write(response)
            await server.close()
            var back: [UInt8] = []
            for try await chunk in client.inbound { back += chunk }
            #expect(back == response)
            await client.close()
            await listener.close()
        }
    }

    @Test func closingFailsPendingWorkWithClosed() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            guard let server = try await listener.accept() else { Issue.record("no connection"); return }
            let reader = Task { try await client.read() }
            #expect(try await eventually { try await loop.submit { client.isReceiving }.get() })
            await client.close()
            await #expect(throws: RingLoopError.closed(operation: "read")) { _ = try await reader.value }
            await #expect(throws: RingLoopError.closed(operation: "write")) { try await client.write([1, 2, 3]) }
            await #expect(throws: RingLoopError.closed(operation: "read")) { _ = try await client.read() }
            await client.close()  // idempotent
            let end = try await server.read()
            #expect(end == nil)
            await server.close()
            await listener.close()
        }
    }

    @Test func aSecondReaderIsRefusedNamingTheOperation() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            guard let server = try await listener.accept() else { Issue.record("no connection"); return }
            let reader = Task { try await client.read() }
            #expect(try await eventually { try await loop.submit { client.hasPendingRead }.get() })
            await #expect(throws: RingLoopError.alreadyConsumed(operation: "read")) { _ = try await client.read() }
            // The refusal took nothing from the first reader.
            try await server.write([7])
            #expect(try await reader.value == [7])
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test func closeAfterPendingWritesSendsThemFirst() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            guard let server = try await listener.accept() else { Issue.record("no connection"); return }
            let message = pattern(3 << 20, seed: 4)
            let write: Future<Void> = client.write(message)
            _ = client.close(afterPendingWrites: true) as Future<Void>
            var got: [UInt8] = []
            for try await chunk in server.inbound { got += chunk }
            try await write.get()
            #expect(got == message)
            try await client.closeFuture.get()
            await server.close()
            await listener.close()
        }
    }

    @Test func loopShutdownClosesConnectionsAndListeners() async throws {
        let fdsBefore = openFDCount()
        let loop = try EventLoop.spawn()
        let listener = try startEchoServer(on: loop)
        let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
        try await client.write([1, 2, 3])
        #expect(try await readExactly(3, from: client) == [1, 2, 3])
        let reader = Task { try await client.read() }
        #expect(try await eventually { try await loop.submit { client.isReceiving }.get() })
        await loop.shutdownGracefully()
        await #expect(throws: RingLoopError.shutDown) { _ = try await reader.value }
        try await client.closeFuture.get()
        try await listener.closeFuture.get()
        await #expect(throws: RingLoopError.shutDown) {
            _ = try await TCPConnection.connect(to: listener.localAddress, on: loop)
        }
        #expect(openFDCount() == fdsBefore)
    }
}
