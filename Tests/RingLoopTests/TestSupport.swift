import Foundation
@testable import RingLoop

/// Open file descriptors of this process (tests compare before/after).
func openFDCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// Live threads of this process.
func threadCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let deadline = Deadline.now() + timeout
    while Deadline.now() < deadline {
        if condition() { return true }
        usleep(1_000)
    }
    return condition()
}

/// Runs `body` with a fresh loop and shuts it down afterwards, checking that no
/// fd leaked.
func withLoop<T>(_ body: (EventLoop) async throws -> T) async throws -> T {
    let loop = try EventLoop.spawn()
    do {
        let value = try await body(loop)
        await loop.shutdownGracefully()
        return value
    } catch {
        await loop.shutdownGracefully()
        throw error
    }
}

/// A thread-safe box for test bookkeeping.
final class Box<T>: @unchecked Sendable {
    // Safe to share: every access goes through `lock`.
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func with<R>(_ body: (inout T) -> R) -> R {
        lock.lock(); defer { lock.unlock() }
        return body(&value)
    }
    var get: T { with { $0 } }
}
