#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The children alive right now, so that an interrupted ringloop-bench (SIGINT, SIGTERM,
/// SIGHUP) does not leave a server running. A few fixed atomic slots: the signal handler
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

    /// Installs the handler that kills every registered child and exits.
    static func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { sig in
                ChildRegistry.each { slot in
                    let pid = slot.load(ordering: .sequentiallyConsistent)
                    if pid > 0 { kill(pid, SIGKILL) }
                    return false
                }
                _exit(128 + sig)
            }
        }
    }
}
