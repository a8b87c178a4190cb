import Foundation
import SystemPackage
import Testing
@testable import RingLoop

/// The async-echo-server example, run as a program (built next to this test
/// binary) and talked to over 127.0.0.1.
@Suite struct AsyncEchoServerTests {
    static var executable: FilePath {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return FilePath(me).removingLastComponent().appending("async-echo-server")
    }

    @Test(.timeLimit(.minutes(1)))
    func echoesEveryMessageBackAndStopsOnSIGTERM() async throws {
        try await withLoop { loop in
            let server = try Subprocess.spawn(.path(Self.executable), arguments: ["--host", "127.0.0.1", "--port", "0"],
                                              output: .pipe, on: loop)
            do {
                // The server prints "PORT <n>" once it listens (bounded by the time limit).
                var lines = server.standardOutput!.lines.makeAsyncIterator()
                let first = try await lines.next()
                let port = first.flatMap { $0.hasPrefix("PORT ") ? Int($0.dropFirst(5)) : nil }
                try #require(port != nil && port != 0, "first line: \(first ?? "none")")

                let connection = try await TCPConnection.connect(to: .loopbackIPv4(port: port!), on: loop)
                for message in ["hello", "a second message", String(repeating: "x", count: 10_000)] {
                    let bytes = Array(message.utf8)
                    try await connection.write(bytes)
                    var echoed: [UInt8] = []
                    while echoed.count < bytes.count {
                        guard let chunk = try await withTimeout(.seconds(20), { try await connection.read() }) else { break }
                        echoed += chunk
                    }
                    #expect(echoed == bytes)
                }
                await connection.close()
            } catch {
                _ = try? await server.terminate(grace: .seconds(2))
                server.standardOutput?.close()
                throw error
            }
            #expect(server.send(signal: .terminate))
            #expect(try await withTimeout(.seconds(20)) { try await server.wait() } == .signaled(.terminate))
            server.standardOutput!.close()
        }
    }
}
