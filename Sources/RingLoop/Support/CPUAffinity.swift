import Synchronization
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// The CPUs a thread may run on (`sched_setaffinity(2)`). glibc declares
/// `sched_setaffinity`, `sched_getaffinity` and `sched_getcpu` only under
/// `_GNU_SOURCE`, which Swift's Glibc module does not see, so they are looked
/// up once at run time (like `pthread_setname_np` in `Threads`).
package enum CPUAffinity {
    /// The largest CPU number a `cpu_set_t` can name, plus one.
    package static let capacity = MemoryLayout<cpu_set_t>.size * 8

    /// Why a CPU list cannot be applied, before asking the kernel.
    package static func problem(with cpus: [Int]) -> String? {
        if cpus.isEmpty { return "the CPU list is empty" }
        if let bad = cpus.first(where: { $0 < 0 || $0 >= capacity }) {
            return "CPU \(bad) is outside 0..<\(capacity)"
        }
        return nil
    }

    /// `cpus` as a kernel CPU mask (the caller has checked them with `problem(with:)`).
    package static func mask(_ cpus: [Int]) -> cpu_set_t {
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { raw in
            let words = raw.bindMemory(to: UInt.self)
            for cpu in cpus { words[cpu / UInt.bitWidth] |= 1 << UInt(cpu % UInt.bitWidth) }
        }
        return set
    }

    /// The CPUs in `set`, ascending.
    package static func cpus(in set: cpu_set_t) -> [Int] {
        withUnsafeBytes(of: set) { raw in
            let words = raw.bindMemory(to: UInt.self)
            return (0..<capacity).filter { words[$0 / UInt.bitWidth] & (1 << UInt($0 % UInt.bitWidth)) != 0 }
        }
    }

    /// Restricts the calling thread to `cpus`.
    /// - Returns: the kernel's refusal (`EINVAL`: none of them is online or
    ///   allowed by the cpuset; `EPERM`), or nil when it took effect.
    package static func restrictCurrentThread(to cpus: [Int]) -> Errno? {
        guard let setAffinity else { return .noFunction }
        var set = mask(cpus)
        let rc = withUnsafeMutableBytes(of: &set) { setAffinity(0, MemoryLayout<cpu_set_t>.size, $0.baseAddress!) }
        return rc == 0 ? nil : Errno(rawValue: errno)
    }

    /// The CPUs a thread could run on before RingLoop pinned any (loops with
    /// `cpuAffinity`); nil while none is pinned. Threads RingLoop starts and
    /// processes it spawns get this set back, so a pool created or a child
    /// spawned on a pinned loop's thread does not inherit the pin.
    package static var processDefault: [Int]? { recordedDefault.withLock { $0 } }

    /// Records the calling thread's CPUs as the process default, once, before
    /// the first pin.
    package static func recordProcessDefault() {
        recordedDefault.withLock { recorded in
            if recorded == nil {
                let cpus = currentThreadCPUs()
                if !cpus.isEmpty { recorded = cpus }
            }
        }
    }

    /// Gives the calling thread the process default back if something was
    /// pinned and this thread is narrower; for threads RingLoop starts.
    package static func unpinCurrentThread() {
        guard let wide = processDefault, currentThreadCPUs() != wide else { return }
        _ = restrictCurrentThread(to: wide)
    }

    /// Runs `body` with the calling thread widened to the process default
    /// (when something is pinned), then narrowed back: what `body` starts
    /// (a child process) inherits the default, not the pin.
    package static func withProcessDefault<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        guard let wide = processDefault else { return try body() }
        let mine = currentThreadCPUs()
        guard !mine.isEmpty, mine != wide else { return try body() }
        _ = restrictCurrentThread(to: wide)
        defer { _ = restrictCurrentThread(to: mine) }
        return try body()
    }

    private static let recordedDefault = Mutex<[Int]?>(nil)

    /// The CPUs the calling thread may run on (empty if the kernel will not say).
    package static func currentThreadCPUs() -> [Int] {
        guard let getAffinity else { return [] }
        var set = cpu_set_t()
        let rc = withUnsafeMutableBytes(of: &set) { getAffinity(0, MemoryLayout<cpu_set_t>.size, $0.baseAddress!) }
        return rc == 0 ? cpus(in: set) : []
    }

    /// The CPU the calling thread is running on now, if the kernel says.
    package static func currentCPU() -> Int? {
        guard let getCPU else { return nil }
        let cpu = getCPU()
        return cpu >= 0 ? Int(cpu) : nil
    }

    private typealias AffinityCall = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    private typealias GetCPU = @convention(c) () -> Int32
    private static let setAffinity: AffinityCall? = lookUp("sched_setaffinity")
    private static let getAffinity: AffinityCall? = lookUp("sched_getaffinity")
    private static let getCPU: GetCPU? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getcpu")
        .map { unsafeBitCast($0, to: GetCPU.self) }

    private static func lookUp(_ name: String) -> AffinityCall? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: AffinityCall.self) }
    }
}
