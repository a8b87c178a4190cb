import Foundation
import SystemPackage
import Testing
@testable import RingLoop

/// Unix datagram sockets (Python's `socket(AF_UNIX, SOCK_DGRAM)`) through
/// `UDPSocket`, and adopting an existing datagram descriptor
/// (`socket.fromfd`).
@Suite struct UnixDatagramTests {
    private func temporaryPath(_ tag: String) -> String {
        NSTemporaryDirectory() + "rl-\(tag)-\(UUID().uuidString.prefix(8)).sock"
    }

    @Test(.timeLimit(.minutes(1)))
    func datagramsBetweenPathsCarryTheSenderPathAndTheFilesGoOnClose() async throws {
        try await withLoop { loop in
            let pathA = temporaryPath("a"), pathB = temporaryPath("b")
            let a = try UDPSocket.bind(to: SocketAddress(unixDomainSocketPath: pathA), on: loop)
            let b = try UDPSocket.bind(to: SocketAddress(unixDomainSocketPath: pathB), on: loop)
            #expect(FileManager.default.fileExists(atPath: pathA))
            #expect(a.localAddress.unixDomainSocketPath == pathA)
            try await a.send(Array("ping".utf8), to: b.localAddress, timeout: .seconds(10))
            let ping = try await b.receive(timeout: .seconds(10))
            #expect(ping.bytes == Array("ping".utf8))
            #expect(ping.sender.unixDomainSocketPath == pathA)
            try await b.send(Array("pong".utf8), to: ping.sender)
            #expect(try await a.receive(timeout: .seconds(10)).bytes == Array("pong".utf8))
            await a.close()
            await b.close()
            #expect(!FileManager.default.fileExists(atPath: pathA), "close removes the socket file")
            #expect(!FileManager.default.fileExists(atPath: pathB))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func abstractNamesNeedNoFile() async throws {
        try await withLoop { loop in
            let nameA = "ringloop-test-\(UUID().uuidString)", nameB = "ringloop-test-\(UUID().uuidString)"
            let a = try UDPSocket.bind(to: SocketAddress(unixAbstractName: nameA), on: loop)
            let b = try UDPSocket.bind(to: SocketAddress(unixAbstractName: nameB), on: loop)
            #expect(a.localAddress.unixAbstractName == nameA)
            #expect(a.localAddress.unixDomainSocketPath == nil)
            #expect(a.localAddress.description == "unix:@\(nameA)")
            try await a.send([1, 2], to: SocketAddress(unixAbstractName: nameB))
            let datagram = try await b.receive(timeout: .seconds(10))
            #expect(datagram.bytes == [1, 2])
            #expect(datagram.sender.unixAbstractName == nameA)
            await a.close()
            await b.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aUnixReceiveWithNoSenderTimesOut() async throws {
        try await withLoop { loop in
            let path = temporaryPath("t")
            let socket = try UDPSocket.bind(to: SocketAddress(unixDomainSocketPath: path), on: loop)
            await #expect(throws: RingLoopError.timedOut(operation: "receive")) {
                _ = try await socket.receive(timeout: .milliseconds(30))
            }
            await socket.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func anAdoptedNonBlockingUDPDescriptorWorksOnTheLoop() async throws {
        try await withLoop { loop in
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            #expect(fd >= 0)
            SocketAddress.loopbackIPv4(port: 0).withSockAddr { address, length in
                #expect(Glibc.bind(fd, address, length) == 0)
            }
            let adopted = try UDPSocket(adopting: FileDescriptor(rawValue: fd), on: loop)
            #expect(adopted.descriptor.rawValue == fd)
            #expect(adopted.localAddress.port != 0)
            let sender = try UDPSocket.bind(to: .loopbackIPv4(port: 0), on: loop)
            try await sender.send([42], to: adopted.localAddress)
            #expect(try await adopted.receive(timeout: .seconds(10)).bytes == [42])
            await sender.close()
            await adopted.close()
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func adoptingSomethingThatIsNotADatagramSocketFailsAndLeavesItOpen() async throws {
        try await withLoop { loop in
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            #expect(throws: IOError.self) { _ = try UDPSocket(adopting: FileDescriptor(rawValue: fds[0]), on: loop) }
            #expect(fcntl(fds[0], F_GETFD) >= 0, "still the caller's")
            close(fds[0])
            close(fds[1])
        }
    }
}
