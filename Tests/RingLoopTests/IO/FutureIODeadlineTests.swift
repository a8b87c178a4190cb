import Foundation
import SystemPackage
import Testing
@testable import RingLoop

/// Deadlines on the `Future` forms of I/O, each named by the Python
/// behaviour it mirrors (`socket.settimeout`, `asyncio.wait_for`): the
/// deadline stops the operation itself, as it stops the `async` form, so a
/// timed-out future consumed nothing (or says what it did) and leaves no
/// operation, timer or descriptor behind.
@Suite("Future I/O deadlines", .serialized)
struct FutureIODeadlineTests {
    private func timers(_ loop: EventLoop) async throws -> Int {
        try await loop.submit { loop.pendingTimerCount }.get()
    }

    /// Asserts `future` fails with `.timedOut(operation)` no earlier than
    /// `timeout` after `start`, and well within bounds after it.
    private func expectTimesOut<T>(
        _ future: Future<T>, _ operation: String, after timeout: Duration, since start: Deadline
    ) async {
        await #expect(throws: RingLoopError.timedOut(operation: operation)) { _ = try await value(of: future) }
        let elapsed = Deadline.now() - start
        #expect(elapsed >= timeout && elapsed < timeout + .seconds(5))
    }

    /// A connected pair; the listener's multishot accept stays armed.
    private func pair(_ loop: EventLoop) async throws -> (TCPListener, client: TCPConnection, server: TCPConnection) {
        let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
        let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
        guard let server = try await listener.accept(timeout: .seconds(10)) else {
            throw RingLoopError.closed(operation: "accept")
        }
        return (listener, client, server)
    }

    /// Every I/O wait's `Future` form takes a bound in the same two shapes
    /// as its `async` twin (`timeout:` and `deadline:`). This test compiles
    /// only while that holds; each call completes well within its bound.
    @Test(.timeLimit(.minutes(1)))
    func everyIOWaitsFutureFormTakesATimeoutOrADeadline() async throws {
        try await withSocketLoop { loop in
            let soon = Deadline.now() + .seconds(30)
            let wait = Duration.seconds(30)
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let a = try await value(of: TCPConnection.connect(to: listener.localAddress, on: loop, deadline: soon))
            let accepted: [Future<TCPConnection?>] = [listener.accept(timeout: wait)]
            let server = try #require(try await value(of: accepted[0]))
            let writes: [Future<Void>] = [
                a.write([1], timeout: wait), a.write([2], deadline: soon),
                a.write(contentsOf: [[3], [4]], timeout: wait), a.write(contentsOf: [[5]], deadline: soon),
            ]
            for write in writes { try await value(of: write) }
            var got: [UInt8] = []
            while got.count < 5 {
                let read: Future<[UInt8]?> = got.count < 2 ? server.read(timeout: wait) : server.read(deadline: soon)
                got += try #require(try await value(of: read))
            }
            #expect(got == [1, 2, 3, 4, 5])

            let x = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let sends: [Future<Void>] = [x.send([7], to: x.localAddress, timeout: wait), x.send([8], to: x.localAddress, deadline: soon)]
            for send in sends { try await value(of: send) }
            let first: Future<UDPSocket.Datagram> = x.receive(timeout: wait)
            let second: Future<UDPSocket.Datagram> = x.receive(deadline: soon)
            #expect(try await value(of: first).bytes == [7])
            #expect(try await value(of: second).bytes == [8])

            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let streamWrites: [Future<Void>] = [
                writeEnd.write([9], timeout: wait), writeEnd.write([10], deadline: soon),
                writeEnd.write(FileBuffer([11]), timeout: wait), writeEnd.write(FileBuffer([12]), deadline: soon),
            ]
            for write in streamWrites { try await value(of: write) }
            var streamed: [UInt8] = []
            while streamed.count < 4 {
                let read: Future<[UInt8]> = streamed.isEmpty ? readEnd.read(upTo: 4, timeout: wait) : readEnd.read(upTo: 4, deadline: soon)
                streamed += try await value(of: read)
            }
            #expect(streamed == [9, 10, 11, 12])

            let child = try Subprocess.spawn(.name("true"), on: loop)
            let waited: Future<TerminationStatus> = child.wait(timeout: wait)
            #expect(try await value(of: waited) == .exited(0))
            let again: Future<TerminationStatus> = child.wait(deadline: soon)
            #expect(try await value(of: again) == .exited(0))
            #expect(try await timers(loop) == 0)

            for connection in [a, server] { await connection.close() }
            await x.close()
            readEnd.close()
            writeEnd.close()
            await listener.close()
        }
    }

    // MARK: UDP

    @Test(.timeLimit(.minutes(1)))
    func socketSettimeoutOnAReceiveFutureLosesNoDatagramThatArrivesLater() async throws {
        try await withLoop { loop in
            let a = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let b = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let start = Deadline.now()
            let timedOut: Future<UDPSocket.Datagram> = b.receive(timeout: .milliseconds(50))
            await expectTimesOut(timedOut, "receive", after: .milliseconds(50), since: start)
            // The receive itself was cancelled, not just abandoned.
            #expect(try await eventually { try await inFlight(loop) == 0 })
            #expect(try await timers(loop) == 0)
            let sent: Future<Void> = a.send([9], to: b.localAddress, timeout: .seconds(10))
            try await value(of: sent)
            let next: Future<UDPSocket.Datagram> = b.receive()
            #expect(try await value(of: next).bytes == [9], "the datagram went to the next receive")
            #expect(try await timers(loop) == 0)
            await a.close()
            await b.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func receiveFuturesWithDeadlinesRacingTheSendsLoseNoDatagram() async throws {
        try await withLoop { loop in
            let a = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let b = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            var got: [UInt8] = []
            var timedOut = 0
            for round in 0..<50 {
                // Deadlines from 0 to ~1 ms: some time out before the datagram
                // arrives, some right as it does; none may take it and lose it.
                let sent: Future<Void> = a.send([UInt8(round)], to: b.localAddress)
                let received: Future<UDPSocket.Datagram> = b.receive(timeout: .microseconds(Int64(round) * 20))
                do {
                    got += try await value(of: received).bytes
                } catch RingLoopError.timedOut {
                    timedOut += 1
                }
                try await value(of: sent)
            }
            while got.count < 50 {
                let next: Future<UDPSocket.Datagram> = b.receive(deadline: .now() + .seconds(10))
                got += try await value(of: next).bytes
            }
            #expect(got.sorted() == (0..<50).map { UInt8($0) }, "every datagram, once (\(timedOut) receives timed out)")
            #expect(try await eventually { try await inFlight(loop) == 0 })
            #expect(try await timers(loop) == 0)
            await a.close()
            await b.close()
        }
    }

    // MARK: TCP

    @Test(.timeLimit(.minutes(1)))
    func recvFutureWithSettimeoutTimesOutAndBytesThatArriveLaterAreKept() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            let start = Deadline.now()
            let timedOut: Future<[UInt8]?> = server.read(timeout: .milliseconds(50))
            await expectTimesOut(timedOut, "read", after: .milliseconds(50), since: start)
            #expect(try await eventually { try await loop.submit { !server.hasPendingRead && !server.isReceiving }.get() })
            #expect(try await eventually { try await inFlight(loop) == 1 }, "only the listener's accept is left")
            #expect(try await timers(loop) == 0)
            try await client.write(Array("late".utf8))
            let next: Future<[UInt8]?> = server.read(deadline: .now() + .seconds(10))
            #expect(try await value(of: next) == Array("late".utf8))
            #expect(try await timers(loop) == 0, "a read that finished disarms its deadline")
            // A deadline already past takes nothing that is waiting.
            try await client.write([1, 2, 3])
            #expect(try await eventually { try await loop.submit { server.bufferedInboundBytes == 3 }.get() })
            let refused: Future<[UInt8]?> = server.read(deadline: .distantPast)
            await #expect(throws: RingLoopError.timedOut(operation: "read")) { _ = try await value(of: refused) }
            #expect(try await readExactly(3, from: server) == [1, 2, 3], "nothing was consumed")
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func readFuturesWithDeadlinesRacingTheWritesLoseNoByte() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            var got: [UInt8] = []
            var timedOut = 0
            for round in 0..<50 {
                let written: Future<Void> = client.write([UInt8(round)])
                let read: Future<[UInt8]?> = server.read(timeout: .microseconds(Int64(round) * 20))
                do {
                    if let chunk = try await value(of: read) { got += chunk }
                } catch RingLoopError.timedOut {
                    timedOut += 1
                }
                try await value(of: written)
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
    func aReadStartedFromATimedOutReadFuturesCallbackGetsTheNextBytes() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            // The callback runs on the loop right after the deadline stopped
            // the first read: the second read must find the connection in a
            // settled state and keep its receive armed.
            let promise = loop.makePromise(of: [UInt8]?.self)
            let first: Future<[UInt8]?> = server.read(timeout: .milliseconds(20))
            first.whenFailure { _ in
                let second: Future<[UInt8]?> = server.read(timeout: .seconds(10))
                promise.completeWith(second)
            }
            #expect(try await eventually { try await loop.submit { server.hasPendingRead }.get() })
            await #expect(throws: RingLoopError.timedOut(operation: "read")) { _ = try await value(of: first) }
            try await client.write([5, 6])
            #expect(try await value(of: promise.future) == [5, 6])
            #expect(try await timers(loop) == 0)
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func sendallFutureWithATimeoutToAPeerThatDoesNotReadReportsWhatWasSent() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            let big = pattern(64 << 20, seed: 7)
            var sent = -1
            let write: Future<Void> = client.write(big, timeout: .milliseconds(200))
            do {
                try await value(of: write)
                Issue.record("a 64 MiB write to a peer that does not read completed")
            } catch let error as PartialWriteError {
                #expect(error.requested == big.count)
                #expect(error.reason as? RingLoopError == .timedOut(operation: "write"))
                sent = error.written
            }
            #expect(sent > 0 && sent < big.count)
            #expect(try await eventually { try await inFlight(loop) == 1 })
            #expect(try await timers(loop) == 0)
            let later: Future<Void> = client.write([1], timeout: .seconds(10))
            await #expect(throws: RingLoopError.writeCancelledMidway(operation: "send")) { try await value(of: later) }
            await client.close()
            var got: [UInt8] = []
            for try await chunk in server.inbound { got += chunk }
            #expect(got.count == sent && got == Array(big[..<got.count]), "the peer got exactly the reported prefix")
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func writeFuturesThatFinishInTimeAreUntouchedByTheirDeadlines() async throws {
        try await withSocketLoop { loop in
            let (listener, client, server) = try await pair(loop)
            let one: Future<Void> = client.write([1, 2], timeout: .seconds(10))
            let two: Future<Void> = client.write(contentsOf: [[3], [4, 5]], deadline: .now() + .seconds(10))
            let three: Future<Void> = client.write(contentsOf: [[6]], timeout: .seconds(10))
            let four: Future<Void> = client.write([7], deadline: .now() + .seconds(10))
            for future in [one, two, three, four] { try await value(of: future) }
            #expect(try await readExactly(7, from: server) == [1, 2, 3, 4, 5, 6, 7])
            #expect(try await timers(loop) == 0)
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func acceptFutureWithSettimeoutTakesNothingAndALaterConnectionIsKept() async throws {
        try await withSocketLoop { loop in
            let listener = try TCPListener.bind(to: .loopbackIPv4(port: 0), on: loop)
            let start = Deadline.now()
            let timedOut: Future<TCPConnection?> = listener.accept(timeout: .milliseconds(50))
            await expectTimesOut(timedOut, "accept", after: .milliseconds(50), since: start)
            #expect(try await timers(loop) == 0)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            let next: Future<TCPConnection?> = listener.accept(deadline: .now() + .seconds(10))
            let server = try #require(try await value(of: next))
            try await client.write([42])
            #expect(try await readExactly(1, from: server) == [42])
            let plain: Future<TCPConnection?> = listener.accept()
            await listener.close()
            #expect(try await value(of: plain) == nil, "an accept waiting when the listener closes gets nil")
            #expect(try await timers(loop) == 0)
            await client.close()
            await server.close()
        }
    }

    // MARK: Files and streams

    @Test(.timeLimit(.minutes(1)))
    func fileReadFutureFromAnEmptyPipeTimesOutAndTheFileStaysUsable() async throws {
        try await withLoop { loop in
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            let file = File(adopting: FileDescriptor(rawValue: fds[0]), on: loop)
            let writer = FileDescriptor(rawValue: fds[1])
            let start = Deadline.now()
            let timedOut: Future<Int> = file.read(into: FileBuffer(capacity: 16), at: 0, timeout: .milliseconds(50))
            await expectTimesOut(timedOut, "read", after: .milliseconds(50), since: start)
            #expect(try await eventually { try await inFlight(loop) == 0 })
            #expect(try await timers(loop) == 0)
            _ = try writer.writeAll(Array("ok".utf8))
            let next: Future<[UInt8]> = file.read(count: 2, at: 0, deadline: .now() + .seconds(10))
            #expect(try await value(of: next) == Array("ok".utf8))
            #expect(try await timers(loop) == 0)
            try writer.close()
            try await file.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func fileWriteFuturesThatFinishInTimeAreUntouchedByTheirDeadlines() async throws {
        try await withLoop { loop in
            let path = FilePath(NSTemporaryDirectory() + "ringloop-future-deadline-\(UUID().uuidString)")
            let file = try await File.open(path, .readWrite, options: [.create], permissions: .ownerReadWrite, on: loop)
            let bytes: Future<Void> = file.write(Array("hello".utf8), at: 0, timeout: .seconds(10))
            try await value(of: bytes)
            let buffer: Future<Void> = file.write(FileBuffer(Array("!".utf8)), at: 5, deadline: .now() + .seconds(10))
            try await value(of: buffer)
            let read: Future<[UInt8]> = file.read(count: 6, at: 0, timeout: .seconds(10))
            #expect(try await value(of: read) == Array("hello!".utf8))
            #expect(try await timers(loop) == 0)
            try await file.close()
            try FileManager.default.removeItem(atPath: path.string)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func streamReadFutureWithATimeoutReadsNothingAndTheLateBytesGoToTheNextRead() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let start = Deadline.now()
            let timedOut: Future<[UInt8]> = readEnd.read(upTo: 16, timeout: .milliseconds(50))
            await expectTimesOut(timedOut, "read", after: .milliseconds(50), since: start)
            #expect(try await eventually { try await inFlight(loop) == 0 })
            #expect(try await timers(loop) == 0)
            let written: Future<Void> = writeEnd.write(Array("late".utf8))
            try await value(of: written)
            let next: Future<[UInt8]> = readEnd.read(upTo: 16)
            #expect(try await value(of: next) == Array("late".utf8))
            let buffer = FileBuffer(capacity: 8)
            let more: Future<Void> = writeEnd.write(FileBuffer([1, 2, 3]), deadline: .now() + .seconds(10))
            try await value(of: more)
            let intoBuffer: Future<Int> = readEnd.read(into: buffer, timeout: .seconds(10))
            #expect(try await value(of: intoBuffer) == 3)
            #expect(buffer.bytes(0..<3) == [1, 2, 3])
            writeEnd.close()
            let end: Future<[UInt8]> = readEnd.read(upTo: 16, deadline: .now() + .seconds(10))
            #expect(try await value(of: end) == [], "end of stream")
            #expect(try await timers(loop) == 0)
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func streamWriteFutureNobodyReadsTimesOutWithThePartialCount() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let size = 1 << 20   // more than the pipe holds (64 KiB by default)
            let buffer = FileBuffer([UInt8](repeating: 7, count: size))
            let write: Future<Void> = writeEnd.write(buffer, timeout: .milliseconds(100))
            do {
                try await value(of: write)
                Issue.record("the write cannot have finished: nobody read")
            } catch let error as PartialWriteError {
                #expect(error.written > 0 && error.written < size)
                #expect(error.reason as? RingLoopError == .timedOut(operation: "write"))
                #expect(try await inFlight(loop) == 0)
                #expect(try await timers(loop) == 0)
                var drained = 0
                while drained < error.written { drained += try await readEnd.read(upTo: 1 << 16).count }
                #expect(drained == error.written)
            }
            writeEnd.close()
            readEnd.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aStreamFutureInFlightWhenTheStreamClosesFailsWithBadFileDescriptor() async throws {
        try await withLoop { loop in
            let (readEnd, writeEnd) = try ByteStream.makePipe(on: loop)
            let read: Future<[UInt8]> = readEnd.read(upTo: 16)
            #expect(try await eventually { try await inFlight(loop) == 1 })
            readEnd.close()
            await #expect(throws: IOError("read", .badFileDescriptor)) { _ = try await value(of: read) }
            #expect(try await eventually { try await inFlight(loop) == 0 })
            writeEnd.close()
        }
    }
}
