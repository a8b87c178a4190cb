#if canImport(Glibc)
import Glibc
#endif

/// Thin helpers over pthreads: RingLoop owns its threads (loops, pool workers)
/// and needs their identity for `inEventLoop` checks.
package enum Threads {
    /// Starts a joinable thread named `name` (truncated to 15 bytes, the
    /// kernel's limit) running `body`.
    package static func spawn(name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            let name: String
            init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
        }
        let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
        // The thread starts with `blockedSignals` blocked (it inherits this
        // thread's mask, set around the create so no signal slips in first).
        var block = sigset_t()
        sigemptyset(&block)
        for signal in blockedSignals { sigaddset(&block, signal) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &block, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            Threads.setCurrentName(String(box.name.utf8.prefix(15)) ?? "ringloop")
            // Started from a pinned loop's thread, it would inherit the pin.
            CPUAffinity.unpinCurrentThread()
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return thread
    }

    /// Signals blocked in every thread RingLoop creates (loops, pool workers):
    /// `SIGPIPE`, so a write to a closed pipe fails with `EPIPE` instead of
    /// killing the process, and the asynchronous notification signals, so
    /// that they reach `EventLoop.signals` (signalfd) rather than a default
    /// action in one of our threads. A thread that leaves one unblocked (the
    /// main thread, by default) still gets it the usual way.
    package static let blockedSignals: [Int32] = [
        SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCHLD,
    ]

    /// Names the calling thread (as shown by `top -H` and debuggers). glibc
    /// declares `pthread_setname_np` only under `_GNU_SOURCE`, which Swift's
    /// Glibc module does not see, so it is looked up once at run time; writing
    /// `/proc/thread-self/comm` instead would briefly open a descriptor in
    /// every new thread, which callers counting their fds would see.
    private static func setCurrentName(_ name: String) {
        guard let setName = pthreadSetName else { return }
        _ = name.withCString { setName(pthread_self(), $0) }
    }

    private typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
    private static let pthreadSetName: SetName? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setname_np")
        .map { unsafeBitCast($0, to: SetName.self) }

    package static func join(_ thread: pthread_t) {
        _ = pthread_join(thread, nil)
    }

    package static func detach(_ thread: pthread_t) {
        _ = pthread_detach(thread)
    }

}

/// Facts about the machine.
public enum System {
    /// Number of online CPUs (at least 1): the default size of loop groups
    /// and thread pools.
    public static var coreCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// The CPUs this process may run on (its affinity mask, which a cpuset,
    /// `taskset` or a container limit may narrow below `coreCount`), ascending;
    /// what `EventLoop.Configuration.cpuAffinity` and `.kernelWorkerAffinity`
    /// choose from. A loop pinned with `cpuAffinity` does not narrow it.
    public static var availableCPUs: [Int] {
        CPUAffinity.processDefault ?? CPUAffinity.currentThreadCPUs()
    }

    /// The CPU the calling thread is running on at this moment
    /// (`sched_getcpu`), if the kernel says; an unpinned thread may move at
    /// any time, so this is a hint (the scheduler put it where it is free).
    public static var currentCPU: Int? { CPUAffinity.currentCPU() }
}
