import RingLoop

// The README's code, compiled with the tests so the README cannot drift from
// the API. Not run: each snippet's behaviour is covered by its area's tests.
enum ReadmeSnippets {
    static func firstProgram() async throws {
        let group = try EventLoopGroup()
        let loop = group.next()
        loop.execute { print("on the loop thread") }
        let n = try await loop.submit { 6 * 7 }.get()
        let t = try await loop.schedule(after: .milliseconds(5)) { "tick" }.future.get()
        let same = try await loop.run {
            try await Task.sleep(for: .milliseconds(1))
            return loop.inEventLoop
        }
        print(n, t, same)
        await group.shutdownGracefully()
    }

    static func sockets(loop: EventLoop) async throws {
        let listener = try TCPListener.bind(to: .loopbackIPv4(port: 7007), on: loop)
        for try await connection in listener.connections {
            Task(executorPreference: loop) {
                for try await chunk in connection.inbound { try await connection.write(chunk) }
                await connection.close()
            }
        }
    }

    static func files(loop: EventLoop) async throws {
        let file = try await File.open("/etc/hostname", .readOnly, on: loop)
        let bytes = try await file.readAll()
        try await file.close()
        _ = bytes
    }

    static func pool(data: [UInt8], expensiveHash: @escaping @Sendable ([UInt8]) -> Int) async throws {
        let pool = ThreadPool()
        let digest = try await pool.run { expensiveHash(data) }
        let squares = try await pool.parallelMap(Array(0..<1_000_000), chunkSize: 10_000) { $0 * $0 }
        await pool.shutdownGracefully()
        _ = (digest, squares)
    }

    static func sync() async throws {
        let queue = AsyncQueue<Int>(capacity: 100)
        try await queue.put(1)
        let item = try await queue.get(timeout: .seconds(1))
        let lock = AsyncLock()
        try await lock.withLock { /* critical section */ }
        _ = item
    }

    static func processes(loop: EventLoop) async throws {
        let result = try await Subprocess.run(.name("git"), arguments: ["rev-parse", "HEAD"], on: loop)
        let child = try Subprocess.spawn(.name("ping"), arguments: ["-c", "3", "127.0.0.1"], output: .pipe, on: loop)
        for try await line in child.standardOutput!.lines { print(line) }
        let status = try await child.wait()
        print(result.terminationStatus, status)
    }

    static func processPool(loop: EventLoop) async throws {
        let square = ProcessPool.Job<Int, Int>(name: "square") { $0 * $0 }
        ProcessPool.runWorkerIfRequested(serving: [square])
        let pool = try ProcessPool(on: loop)
        let nine = try await pool.run(square, 3, timeout: .seconds(5))
        await pool.shutdown()
        print(nine)
    }

    static func signals(loop: EventLoop) async throws {
        Signal.block([.interrupt, .terminate])
        for try await signal in loop.signals([.interrupt, .terminate]) { print(signal) }
    }
}
