import Foundation
import SystemPackage
import Testing
@testable import RingLoop

@Suite("TCP backpressure and resource limits", .serialized)
struct TCPBackpressureTests {
    /// Resident set size of this process, in bytes.
    private func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// Bytes with period 251 (prime, so chunk boundaries never line up with it).
    private static let period = 251
    private static let source: [UInt8] = (0..<((1 << 20) + period)).map { UInt8($0 % period) }

    /// Checks that `chunk` is what the stream holds at `position`.
    private func matches(_ chunk: [UInt8], at position: Int) -> Bool {
        let offset = position % TCPBackpressureTests.period
        return chunk.withUnsafeBytes { got in
            TCPBackpressureTests.source.withUnsafeBytes { all in
                got.isEmpty || memcmp(got.baseAddress!, all.baseAddress! + offset, got.count) == 0
            }
        }
    }

    /// Writes `total` bytes of the stream in 1 MiB writes.
    private func startWriter(_ connection: TCPConnection, total: Int, progress: Box<Int>) -> Task<Void, any Error> {
        Task {
            var sent = 0
            while sent < total {
                let offset = sent % TCPBackpressureTests.period
                let count = min(1 << 20, total - sent)
                try await connection.write(Array(TCPBackpressureTests.source[offset..<(offset + count)]))
                sent += count
                progress.with { $0 = sent }
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func slowReaderHoldsBoundedMemoryAndLosesNothingOnceItReads() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            guard let server = try await listener.accept() else { Issue.record("no connection"); return }
            let total = 100 << 20
            let rssBefore = residentBytes()
            let progress = Box(0)
            let writer = startWriter(client, total: total, progress: progress)

            // The server reads one chunk (so it reads ahead), then stops reading.
            var position = 0
            guard let first = try await server.read() else { Issue.record("early EOF"); return }
            #expect(matches(first, at: 0))
            position += first.count

            // Read-ahead fills up to its limit, then receiving stops, TCP flow
            // control pushes back and the writer stalls.
            let stopped = try await eventually(timeout: .seconds(10)) {
                try await loop.submit { !server.isReceiving && server.bufferedInboundBytes >= TCPConnection.readAheadLimit / 2 }.get()
            }
            #expect(stopped)
            var stalledAt = progress.get
            #expect(try await eventually(timeout: .seconds(10)) {
                try await Task.sleep(for: .milliseconds(200))
                defer { stalledAt = progress.get }
                return progress.get == stalledAt
            })
            let buffered = try await loop.submit { server.bufferedInboundBytes }.get()
            let lent = try await loop.submit { SocketResources.on(loop)?.lentBuffers ?? -1 }.get()
            let growth = residentBytes() - rssBefore
            #expect(buffered <= TCPConnection.readAheadLimit + 8 * SocketResources.bufferSize, "buffered \(buffered)")
            #expect(lent == 0, "no shared receive buffer is held by a connection that does not read")
            #expect(progress.get < total / 2, "the writer is held back (sent \(progress.get))")
            // (AddressSanitizer's quarantine keeps freed memory resident.)
            let underASan = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil
            #expect(underASan || growth < 64 << 20, "RSS grew by \(growth >> 20) MiB while the peer pushed")

            // Now read everything: every byte arrives, in order.
            var intact = true
            while position < total, let chunk = try await server.read() {
                if intact && !matches(chunk, at: position) { intact = false }
                position += chunk.count
            }
            #expect(intact)
            #expect(position == total)
            try await writer.value
            await client.close()
            let end = try await server.read()
            #expect(end == nil)
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func echoServerQueueStaysBoundedForAClientThatDoesNotRead() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await echoPair(on: loop)
            let total = 48 << 20
            let progress = Box(0)
            let writer = startWriter(client, total: total, progress: progress)
            // Nobody reads the echoes: the server's send queue fills to its
            // high watermark, it pauses reading, and the client stalls.
            var stalledAt = -1
            #expect(try await eventually(timeout: .seconds(10)) {
                try await Task.sleep(for: .milliseconds(200))
                defer { stalledAt = progress.get }
                return progress.get == stalledAt
            })
            let queued = try await loop.submit { server.pendingWriteBytes }.get()
            #expect(queued <= TCPConnection.writeHighWatermark + 2 * SocketResources.bufferSize, "queued \(queued)")
            #expect(progress.get < total)
            // Reading the echoes lets everything through, intact.
            var position = 0
            var intact = true
            while position < total, let chunk = try await client.read() {
                if intact && !matches(chunk, at: position) { intact = false }
                position += chunk.count
            }
            #expect(intact && position == total)
            try await writer.value
            await client.close()
            await listener.close()
        }
    }

    @Test func handlerThatPausesReadingKeepsItsBytesUntilItResumes() async throws {
        final class Pausing: TCPConnectionHandler, @unchecked Sendable {
            // Safe to share: guarded by `lock`.
            let lock = NSLock()
            var bytes: [UInt8] = []
            func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
                lock.lock(); self.bytes += bytes; lock.unlock()
                connection.pauseReading()
            }
            var count: Int { lock.lock(); defer { lock.unlock() }; return bytes.count }
        }
        try await withSocketLoop { loop in
            let handler = Pausing()
            let stats = ServerStats()
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            listener.start { stats.didAccept($0, keep: true); $0.setHandler(handler) }
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            let message = pattern(2 << 20, seed: 8)
            let write: Future<Void> = client.write(message)
            #expect(await eventually { handler.count > 0 })
            let server = stats.connections[0]
            #expect(try await eventually { try await loop.submit { !server.isReceiving }.get() })
            let whilePaused = handler.count
            try await Task.sleep(for: .milliseconds(100))
            #expect(handler.count == whilePaused, "a paused handler gets nothing")
            // Resume repeatedly until everything arrived.
            #expect(try await eventually(timeout: .seconds(10)) {
                try await loop.submit { server.resumeReading() }.get()
                return handler.count == message.count
            })
            #expect(handler.lock.withLock { handler.bytes } == message)
            try await write.get()
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func listenerSurvivesDescriptorExhaustionAndKeepsServing() async throws {
        try await withSocketLoop { loop in
            // io_uring reads the descriptor limit when an accept is armed, so
            // the limit is set first, then every descriptor under it is used up.
            var original = rlimit()
            getrlimit(RLIMIT_NOFILE_VALUE, &original)
            defer { setrlimit(RLIMIT_NOFILE_VALUE, &original) }
            var lowered = original
            lowered.rlim_cur = rlim_t(openFDCount() + 64)
            setrlimit(RLIMIT_NOFILE_VALUE, &lowered)

            let stats = ServerStats()
            let listener = try startEchoServer(on: loop, stats: stats)
            let existing = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            try await existing.write([1, 2, 3])
            #expect(try await readExactly(3, from: existing) == [1, 2, 3])

            let pending = (0..<3).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
            var fillers: [Int32] = []
            while true {
                let fd = dup(0)
                if fd < 0 { break }
                fillers.append(fd)
            }
            for fd in pending {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = UInt16(listener.localAddress.port ?? 0).bigEndian
                address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
                let rc = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                #expect(rc == 0)
            }
            // Accepting fails with EMFILE; the listener backs off…
            #expect(try await eventually { try await loop.submit { listener.resourceFailureCount }.get() > 0 })
            #expect(stats.accepted == 1)
            // …and the connection it already has is still served.
            try await existing.write([4, 5, 6])
            #expect(try await readExactly(3, from: existing) == [4, 5, 6])

            // Descriptors come back: the waiting clients get accepted and served.
            for fd in fillers { close(fd) }
            #expect(await eventually { stats.accepted == 4 })
            for fd in pending {
                let connection = try TCPConnection(adopting: FileDescriptor(rawValue: fd), on: loop)
                try await connection.write([7, 8, 9])
                #expect(try await readExactly(3, from: connection) == [7, 8, 9])
                await connection.close()
            }
            await existing.close()
            await listener.close()
        }
    }
}
