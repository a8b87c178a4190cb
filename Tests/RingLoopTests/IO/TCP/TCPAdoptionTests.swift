import Foundation
import SystemPackage
import Testing
@testable import RingLoop

/// Stream sockets made elsewhere, adopted as `TCPConnection`/`TCPListener`
/// on swift-system's `FileDescriptor`: Python's
/// `asyncio.open_connection(sock=…)` / `asyncio.start_server(sock=…)`,
/// including their refusal of a socket of the wrong type.
@Suite("TCP adoption", .serialized)
struct TCPAdoptionTests {
    /// Whether `fd` is an open descriptor.
    private func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

    private func isNonBlocking(_ fd: Int32) -> Bool { fcntl(fd, F_GETFL) & O_NONBLOCK != 0 }

    @Test(.timeLimit(.minutes(1)))
    func openConnectionWithASocketpairEndCarriesBytesBothWays() async throws {
        try await withSocketLoop { loop in
            var fds: [Int32] = [-1, -1]
            // One end non-blocking, as asyncio leaves the sockets it has used.
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
            _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
            let a = try TCPConnection(adopting: FileDescriptor(rawValue: fds[0]), on: loop)
            let b = try TCPConnection(adopting: FileDescriptor(rawValue: fds[1]), on: loop)
            #expect(a.descriptor.rawValue == fds[0] && b.descriptor.rawValue == fds[1])
            #expect(!isNonBlocking(fds[0]), "adopting clears O_NONBLOCK")
            try await a.write(Array("ping".utf8), timeout: .seconds(10))
            #expect(try await readExactly(4, from: b) == Array("ping".utf8))
            try await b.write(Array("pong".utf8))
            #expect(try await readExactly(4, from: a) == Array("pong".utf8))
            await a.close()
            #expect(try await b.read(timeout: .seconds(10)) == nil, "closing the adopter closed the descriptor: EOF")
            await b.close()
            // withSocketLoop checks that both descriptors are gone.
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func startServerWithAListeningSocketMadeWithRawCallsAccepts() async throws {
        try await withSocketLoop { loop in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            #expect(fd >= 0)
            let bound = SocketAddress.loopbackIPv4(port: 0).withSockAddr { Glibc.bind(fd, $0, $1) }
            #expect(bound == 0 && listen(fd, 16) == 0)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let listener = try TCPListener(adopting: FileDescriptor(rawValue: fd), on: loop)
            #expect(listener.descriptor.rawValue == fd)
            #expect(!isNonBlocking(fd))
            #expect(listener.localAddress.port ?? 0 > 0)
            let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
            let server = try #require(try await listener.accept(timeout: .seconds(10)))
            try await client.write([1, 2, 3])
            #expect(try await readExactly(3, from: server) == [1, 2, 3])
            await client.close()
            await server.close()
            await listener.close()
        }
    }

    @Test func aDatagramSocketIsRefusedAsAStreamAndStaysTheCallers() async throws {
        try await withSocketLoop { loop in
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            #expect(fd >= 0)
            let refusal = IOError("getsockopt(SO_TYPE)", .protocolNotSupported)
            #expect(throws: refusal) { _ = try TCPConnection(adopting: FileDescriptor(rawValue: fd), on: loop) }
            #expect(throws: refusal) { _ = try TCPListener(adopting: FileDescriptor(rawValue: fd), on: loop) }
            #expect(isOpen(fd), "a refused descriptor is not closed")
            close(fd)
        }
    }

    @Test func aListeningSocketIsRefusedAsAConnectionAndAnIdleOneAsAListener() async throws {
        try await withSocketLoop { loop in
            let idle = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            let listening = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            let bound = SocketAddress.loopbackIPv4(port: 0).withSockAddr { Glibc.bind(listening, $0, $1) }
            #expect(idle >= 0 && bound == 0 && listen(listening, 4) == 0)
            let wrongState = IOError("getsockopt(SO_ACCEPTCONN)", .invalidArgument)
            #expect(throws: wrongState) { _ = try TCPConnection(adopting: FileDescriptor(rawValue: listening), on: loop) }
            #expect(throws: wrongState) { _ = try TCPListener(adopting: FileDescriptor(rawValue: idle), on: loop) }
            #expect(isOpen(idle) && isOpen(listening))
            close(idle)
            close(listening)
        }
    }

    @Test func aPipeIsRefusedAsNotASocket() async throws {
        try await withSocketLoop { loop in
            var fds: [Int32] = [-1, -1]
            #expect(pipe(&fds) == 0)
            #expect(throws: IOError("getsockopt(SO_TYPE)", .notSocket)) {
                _ = try TCPConnection(adopting: FileDescriptor(rawValue: fds[0]), on: loop)
            }
            #expect(isOpen(fds[0]))
            close(fds[0])
            close(fds[1])
        }
    }
}
