#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The children alive right now, so that an interrupted ringloop-bench (SIGINT, SIGTERM,
/// SIGHUP) does not leave a server running, nor a large temporary file behind. A few fixed atomic slots: the signal handler
/// may only read plain memory and call kill(2).
enum ChildRegistry {
    private static let slot0 = Atomic<Int32>(0)
    private static let slot1 = Atomic<Int32>(0)
    private static let slot2 = Atomic<Int32>(0)
    private static let slot3 = Atomic<Int32>(0)

    private static func each(_ body: (borrowing Atomic<Int32>) -> Bool) {
        if body(slot0) { return }
        if body(slot1) { return }
        if body(slot2) { return }
        _ = body(slot3)
    }

    static func add(_ pid: pid_t) {
        each { $0.compareExchange(expected: 0, desired: pid, ordering: .sequentiallyConsistent).exchanged }
    }

    static func remove(_ pid: pid_t) {
        each { $0.compareExchange(expected: pid, desired: 0, ordering: .sequentiallyConsistent).exchanged }
    }

    // Paths to remove when interrupted (the file-copy section's large temporary files), as
    // C strings made before the files exist; removed last registered first.
    private static let path0 = Atomic<UInt>(0)
    private static let path1 = Atomic<UInt>(0)
    private static let path2 = Atomic<UInt>(0)
    private static let path3 = Atomic<UInt>(0)

    /// Removes `path` (a file, or an empty directory) if ringloop-bench is interrupted.
    /// Register a directory before the files in it. At most four; extra ones are ignored.
    static func removeOnSignal(_ path: String) {
        guard let copy = strdup(path) else { return }
        let bits = UInt(bitPattern: copy)
        if path0.compareExchange(expected: 0, desired: bits, ordering: .sequentiallyConsistent).exchanged { return }
        if path1.compareExchange(expected: 0, desired: bits, ordering: .sequentiallyConsistent).exchanged { return }
        if path2.compareExchange(expected: 0, desired: bits, ordering: .sequentiallyConsistent).exchanged { return }
        if path3.compareExchange(expected: 0, desired: bits, ordering: .sequentiallyConsistent).exchanged { return }
        free(copy)
    }

    /// Forgets every path registered with `removeOnSignal` (they are gone).
    static func forgetPaths() {
        for bits in [path0.exchange(0, ordering: .sequentiallyConsistent),
                     path1.exchange(0, ordering: .sequentiallyConsistent),
                     path2.exchange(0, ordering: .sequentiallyConsistent),
                     path3.exchange(0, ordering: .sequentiallyConsistent)]
        {
            free(UnsafeMutablePointer<CChar>(bitPattern: bits))
        }
    }

    private static func removePath(_ slot: borrowing Atomic<UInt>) {
        let bits = slot.load(ordering: .sequentiallyConsistent)
        guard let path = UnsafePointer<CChar>(bitPattern: bits) else { return }
        if unlink(path) != 0 { rmdir(path) }
    }

    /// Installs the handler that kills every registered child, removes the registered
    /// paths and exits.
    static func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { sig in
                // SIGTERM first, so that a child can clean up (file-copy removes its partial
                // copy); SIGKILL whatever is still there a second later.
                ChildRegistry.each { slot in
                    let pid = slot.load(ordering: .sequentiallyConsistent)
                    if pid > 0 { kill(pid, SIGTERM) }
                    return false
                }
                var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
                for _ in 0..<100 {
                    var alive = false
                    ChildRegistry.each { slot in
                        let pid = slot.load(ordering: .sequentiallyConsistent)
                        if pid > 0 && waitpid(pid, nil, WNOHANG) == 0 { alive = true }
                        return false
                    }
                    if !alive { break }
                    nanosleep(&pause, nil)
                }
                ChildRegistry.each { slot in
                    let pid = slot.load(ordering: .sequentiallyConsistent)
                    if pid > 0 { kill(pid, SIGKILL) }
                    return false
                }
                ChildRegistry.removePath(ChildRegistry.path3)
                ChildRegistry.removePath(ChildRegistry.path2)
                ChildRegistry.removePath(ChildRegistry.path1)
                ChildRegistry.removePath(ChildRegistry.path0)
                _exit(128 + sig)
            }
        }
    }
}
