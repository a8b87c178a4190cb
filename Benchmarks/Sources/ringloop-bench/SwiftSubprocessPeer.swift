// swift-subprocess's module is named `Subprocess`, like RingLoop's type: this file imports
// only it, so neither name shadows the other.
import Subprocess
import SystemPackage

/// swift-subprocess (swiftlang/swift-subprocess), the process section's peer.
enum SwiftSubprocessPeer {
    /// Spawns `path` with no input or output and waits for it; true if it exited 0.
    static func spawnAndWait(_ path: String) async throws -> Bool {
        let result = try await run(.path(FilePath(path)), input: .none, output: .discarded, error: .discarded)
        return result.terminationStatus.isSuccess
    }
}
