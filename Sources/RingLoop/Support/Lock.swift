#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A mutual-exclusion lock over `pthread_mutex_t`.
///
/// Internal locks use pthreads rather than `Synchronization.Mutex`: the
/// toolchain's `Mutex` is precompiled without ThreadSanitizer instrumentation on
/// Linux, so TSan reports false races around it. This keeps `--sanitize=thread`
/// runs meaningful.
// Safe to share: the mutex is heap-allocated once, never moved, and every access
// to it goes through pthread calls, which are thread-safe by definition.
@usableFromInline package final class Lock: @unchecked Sendable {
    @usableFromInline
    let mutex: UnsafeMutablePointer<pthread_mutex_t>

    @usableFromInline
    package convenience init() {
        self.init(spinning: false)
    }

    /// A lock; with `spinning`, a contended `lock()` first spins for a
    /// bounded number of rounds (glibc's adaptive mutex) before it sleeps in
    /// the kernel. For locks held for a few list operations at a time by
    /// threads on different cores, where sleeping and being woken costs far
    /// more than the wait.
    package init(spinning: Bool) {
        mutex = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        #if DEBUG
        // Relocking or unlocking from the wrong thread fails loudly in debug
        // builds; release builds use the default type, twice as fast
        // uncontended (about 12 ns a lock/unlock pair here, against 27).
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_ERRORCHECK))
        #else
        pthread_mutexattr_settype(&attr, Int32(spinning ? PTHREAD_MUTEX_ADAPTIVE_NP : PTHREAD_MUTEX_DEFAULT))
        #endif
        let rc = pthread_mutex_init(mutex, &attr)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
        pthread_mutexattr_destroy(&attr)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable
    package func lock() {
        let rc = pthread_mutex_lock(mutex)
        precondition(rc == 0, "pthread_mutex_lock failed: \(rc)")
    }

    @inlinable
    package func unlock() {
        let rc = pthread_mutex_unlock(mutex)
        precondition(rc == 0, "pthread_mutex_unlock failed: \(rc)")
    }

    @inlinable
    package func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A lock with a condition variable, for the few places that must block a
/// (non-loop) thread: `Future.wait()`, joining threads, shutdown.
// Safe to share: the mutex and condition are heap-allocated once and used only
// through pthread calls.
package final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    package init() {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits (lock held on entry and exit) until `condition` holds.
    package func wait(until condition: () -> Bool) {
        pthread_mutex_lock(mutex)
        while !condition() { pthread_cond_wait(cond, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Waits until `condition` holds or `deadline` passes; returns whether it holds.
    package func wait(until condition: () -> Bool, deadline: Deadline) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var ts = timespec(tv_sec: Int(deadline.uptimeNanoseconds / 1_000_000_000),
                          tv_nsec: Int(deadline.uptimeNanoseconds % 1_000_000_000))
        while !condition() {
            if pthread_cond_timedwait(cond, mutex, &ts) == ETIMEDOUT { return condition() }
        }
        return true
    }

    package func signalAll() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    /// Runs `body` under the lock, then wakes every waiter.
    package func mutate<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(cond)
            pthread_mutex_unlock(mutex)
        }
        return try body()
    }
}

/// A value guarded by a `Lock`.
// Safe to share: `value` is only reachable inside `withLockedValue`, under the lock.
package final class LockedValue<Value>: @unchecked Sendable {
    private let lock = Lock()
    private var value: Value

    package init(_ value: Value) { self.value = value }

    package func withLockedValue<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
