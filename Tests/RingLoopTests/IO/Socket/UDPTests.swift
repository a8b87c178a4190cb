import Foundation
import Testing
@testable import RingLoop

@Suite("UDP", .serialized)
struct UDPTests {
    @Test func datagramsArriveWithTheirSenderAddress() async throws {
        try await withSocketLoop { loop in
            let a = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let b = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            #expect(a.localAddress.port != 0 && a.localAddress != b.localAddress)
            for size in [0, 1, 1472, 9000, 65_507] {
                let payload = pattern(size, seed: UInt8(size & 0xFF))
                try await a.send(payload, to: b.localAddress)
                let datagram = try await b.receive()
                #expect(datagram.bytes == payload)
                #expect(datagram.sender == a.localAddress)
                #expect(!datagram.truncated)
                // Reply to whoever sent it.
                try await b.send(Array(payload.reversed()), to: datagram.sender)
                let reply = try await a.receive()
                #expect(reply.bytes == payload.reversed() && reply.sender == b.localAddress)
            }
            await a.close()
            await b.close()
        }
    }

    @Test func manyReceivesInFlightEachTakeOneDatagram() async throws {
        try await withSocketLoop { loop in
            let a = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let b = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let receivers = (0..<32).map { _ in Task(executorPreference: loop) { try await b.receive() } }
            #expect(try await eventually { try await inFlight(loop) == 32 })
            for i in 0..<32 { try await a.send([UInt8(i)], to: b.localAddress) }
            var seen: Set<UInt8> = []
            for receiver in receivers { seen.insert(try await receiver.value.bytes[0]) }
            #expect(seen == Set(0..<32))
            await a.close()
            await b.close()
        }
    }

    @Test func futureFlavourSendsAndReceives() async throws {
        try await withSocketLoop { loop in
            let a = try UDPSocket.bind(to: .loopbackIPv6(port: 0), on: loop)
            let b = try UDPSocket.bind(to: .loopbackIPv6(port: 0), on: loop)
            let received: Future<UDPSocket.Datagram> = b.receive()
            let sent: Future<Void> = a.send([1, 2, 3], to: b.localAddress)
            try await sent.get()
            let datagram = try await received.get()
            #expect(datagram.bytes == [1, 2, 3] && datagram.sender == a.localAddress)
            await a.close()
            await b.close()
        }
    }

    @Test func cancelledReceiveLosesNoDatagram() async throws {
        try await withSocketLoop { loop in
            let a = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let b = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            for round in 0..<100 {
                let receiver = Task(executorPreference: loop) { try await b.receive() }
                #expect(try await eventually { try await inFlight(loop) == 1 })
                // Race the datagram against the cancel: whichever wins, the
                // datagram reaches exactly one receive.
                try await a.send([UInt8(round)], to: b.localAddress)
                receiver.cancel()
                let first = try? await receiver.value
                #expect(try await eventually { try await inFlight(loop) == 0 })
                if first == nil {
                    let next = try await b.receive()
                    #expect(next.bytes == [UInt8(round)])
                } else {
                    #expect(first?.bytes == [UInt8(round)])
                }
            }
            await a.close()
            await b.close()
        }
    }

    @Test func closingFailsPendingReceivesWithClosed() async throws {
        try await withSocketLoop { loop in
            let socket = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            let receivers = (0..<4).map { _ in Task { try await socket.receive() } }
            #expect(try await eventually { try await inFlight(loop) == 4 })
            await socket.close()
            for receiver in receivers {
                await #expect(throws: RingLoopError.closed(operation: "receive")) { _ = try await receiver.value }
            }
            await #expect(throws: RingLoopError.closed(operation: "send")) { try await socket.send([1], to: .loopbackIPv4(port: 9)) }
        }
    }

    @Test func bindingAUnixPathThatExistsFailsWithAddressInUse() throws {
        let loop = try EventLoop.spawn()
        defer { try? loop.syncShutdownGracefully() }
        let path = NSTemporaryDirectory() + "rl-exists-\(UUID().uuidString.prefix(8)).sock"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: IOError("bind", .addressInUse)) {
            _ = try UDPSocket.bind(to: SocketAddress(unixDomainSocketPath: path), on: loop)
        }
        #expect(FileManager.default.fileExists(atPath: path), "a failed bind leaves the file alone")
    }
}
