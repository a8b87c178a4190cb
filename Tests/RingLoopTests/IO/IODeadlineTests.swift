import Foundation
import SystemPackage
import Testing
@testable import RingLoop

/// Deadlines on I/O (Python's `asyncio.wait_for(reader.read(), timeout)` and
/// `socket.settimeout`): a timed-out operation did nothing, or says what it
/// did, and leaves nothing in flight.
@Suite struct IODeadlineTests {
    private func inFlight(_ loop: EventLoop) async throws -> Int {
        try await loop.submit { loop.inFlightOperations }.get()
    }

    private func timers(_ loop: EventLoop) async throws -> Int {
        try await loop.submit { loop.pendingTimerCount }.get()
    }

    /// Asserts `body` throws `.timedOut(operation)` no earlier than the
    /// timeout and well within bounds after it.
    private func expectTimesOut(
        _ operation: String, after timeout: Duration, _ body: () async throws -> Void
    ) async {
        let start = Deadline.now()
        await #expect(throws: RingLoopError.timedOut(operation: operation)) { try await body() }
        let elapsed = Deadline.now() - start
        #expect(elapsed >= timeout && elapsed < timeout + .seconds(5))
    }

    /// Every I/O wait takes a bound in the primitives' two shapes,
    /// `timeout: Duration` and `deadline: Deadline` (Python's
    /// `socket.settimeout`, `Popen.wait(timeout)`). This test compiles only
    /// while that holds; each call completes well within its bound.
    @Test(.timeLimit(.minutes(1)))
    func everyIOWaitTakesATimeoutOrADeadline() async throws {
        try await withSocketLoop { loop in
            let soon = Deadline.now() + .seconds(30)
            let wait = Duration.seconds(30)
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let a = try await TCPConnection.connect(to: listener.localAddress, on: loop, timeout: wait)
            let b = try await TCPConnection.connect(to: listener.localAddress, on: loop, deadline: soon)
            let c = try await value(of: TCPConnection.connect(to: listener.localAddress, on: loop, deadline: soon))
            let server = try #require(try await listener.accept(timeout: wait))
            var others = [try #require(try await listener.accept(deadline: soon))]
            others.append(try #require(try await listener.accept(deadline: soon)))
            try await a.write([1], timeout: wait)
            try await a.write([2], deadline: soon)
            try await a.write(contentsOf: [[3], [4]], timeout: wait)
            try await a.write(contentsOf: [[5]], deadline: soon)
            var got: [UInt8] = []
            while got.count < 5, let chunk = try await server.read(timeout: wait) { got += chunk }
            #expect(got == [1, 2, 3, 4, 5])
            try await server.write([6])
            #expect(try await a.read(deadline: soon) == [6])

            let x = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            try await x.send([7], to: x.localAddress, timeout: wait)
            try await x.send([8], to: x.localAddress, deadline: soon)
            #expect(try await x.receive(timeout: wait).bytes == [7])
            #expect(try await x.receive(deadline: soon).bytes == [8])

            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            try await writeEnd.write([9], timeout: wait)
            try await writeEnd.write([10], deadline: soon)
            #expect(try await readEnd.read(upTo: 2, timeout: wait).count >= 1)

            let child = try Subprocess.spawn(.name("true"), on: loop)
            #expect(try await child.wait(timeout: wait) == .exited(0))
            #expect(try await child.wait(deadline: soon) == .exited(0))

            for connection in [a, b, c, server] + others { await connection.close() }
            await x.close()
            readEnd.close()
            writeEnd.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aStreamReadWithNoWriterTimesOutAndTheStreamStaysUsable() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            await expectTimesOut("read", after: .milliseconds(50)) {
                _ = try await readEnd.read(upTo: 16, timeout: .milliseconds(50))
            }
            #expect(try await inFlight(loop) == 0)
            #expect(try await timers(loop) == 0)
            try await writeEnd.write(Array("late".utf8))
            #expect(try await readEnd.read(upTo: 16, timeout: .seconds(10)) == Array("late".utf8))
            #expect(try await timers(loop) == 0, "a finished read disarms its deadline")
            writeEnd.close()
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aStreamReadWhoseDeadlineHasPassedDoesNothing() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            try await writeEnd.write([1, 2, 3])
            await #expect(throws: RingLoopError.timedOut(operation: "read")) {
                _ = try await readEnd.read(upTo: 16, deadline: .distantPast)
            }
            #expect(try await readEnd.read(upTo: 16) == [1, 2, 3], "nothing was consumed")
            writeEnd.close()
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aStreamWriteNobodyReadsTimesOutWithThePartialCount() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let size = 1 << 20   // more than the pipe holds (64 KiB by default)
            // Built before the clock starts: copying a large array in a debug
            // build can take longer than the timeout.
            let buffer = FileBuffer([UInt8](repeating: 7, count: size))
            do {
                try await writeEnd.write(buffer, timeout: .milliseconds(100))
                Issue.record("the write cannot have finished: nobody read")
            } catch let error as PartialWriteError {
                #expect(error.written > 0 && error.written < size)
                #expect(error.reason as? RingLoopError == .timedOut(operation: "write"))
                #expect(try await inFlight(loop) == 0)
                var drained = 0
                while drained < error.written { drained += try await readEnd.read(upTo: 1 << 16).count }
                #expect(drained == error.written)
            }
            writeEnd.close()
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aFileReadFromAnEmptyPipeTimesOutAndTheFileStaysUsable() async throws {
        try await withLoop { loop in
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            let file = File(adopting: FileDescriptor(rawValue: fds[0]), on: loop)
            let writer = FileDescriptor(rawValue: fds[1])
            let buffer = FileBuffer(capacity: 16)
            await expectTimesOut("read", after: .milliseconds(50)) {
                _ = try await file.read(into: buffer, at: 0, timeout: .milliseconds(50))
            }
            #expect(try await inFlight(loop) == 0)
            #expect(try await timers(loop) == 0)
            _ = try writer.writeAll(Array("ok".utf8))
            // A file read fills its whole range: ask for exactly what is there.
            #expect(try await file.read(count: 2, at: 0, timeout: .seconds(10)) == Array("ok".utf8))
            try writer.close()
            try await file.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aFileWriteThatFinishesInTimeIsUntouchedByItsDeadline() async throws {
        try await withLoop { loop in
            let path = FilePath(NSTemporaryDirectory() + "ringloop-deadline-\(UUID().uuidString)")
            let file = try await File.open(path, .readWrite, options: [.create], permissions: .ownerReadWrite, on: loop)
            try await file.write(Array("hello".utf8), at: 0, timeout: .seconds(10))
            #expect(try await file.read(count: 5, at: 0, deadline: .now() + .seconds(10)) == Array("hello".utf8))
            #expect(try await timers(loop) == 0)
            try await file.close()
            try FileManager.default.removeItem(atPath: path.string)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aUDPReceiveWithNoSenderTimesOutAndLosesNoLaterDatagram() async throws {
        try await withLoop { loop in
            let a = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let b = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            await expectTimesOut("receive", after: .milliseconds(50)) {
                _ = try await b.receive(timeout: .milliseconds(50))
            }
            #expect(try await inFlight(loop) == 0)
            try await a.send([9], to: b.localAddress, timeout: .seconds(10))
            let datagram = try await b.receive(deadline: .now() + .seconds(10))
            #expect(datagram.bytes == [9])
            #expect(try await timers(loop) == 0)
            await a.close()
            await b.close()
        }
    }
}
