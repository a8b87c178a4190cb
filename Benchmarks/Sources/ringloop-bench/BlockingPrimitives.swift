#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The blocking peers of the sync section: thin wrappers over pthread mutexes, condition
// variables and POSIX semaphores, used from plain threads.

/// A pthread mutex.
// Safe to share: the pthread mutex is the synchronization; its storage never moves.
final class PthreadMutex: @unchecked Sendable {
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}

/// A POSIX counting semaphore (sem_t).
// Safe to share: sem_t is made for use from many threads; its storage never moves.
final class PosixSemaphore: @unchecked Sendable {
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)

    init(value: UInt32) { sem_init(semaphore, 0, value) }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    func wait() {
        while sem_wait(semaphore) != 0 && errno == EINTR {}
    }

    func post() { sem_post(semaphore) }
}

/// A bounded FIFO queue of Ints over one mutex and two condition variables: the textbook
/// blocking producer/consumer queue.
// Safe to share: `buffer`, `head` and `count` are only touched with `mutex` held.
final class BlockingQueue: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let notEmpty = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let notFull = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var buffer: [Int]
    private var head = 0
    private var count = 0

    init(capacity: Int) {
        buffer = [Int](repeating: 0, count: capacity)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(notEmpty, nil)
        pthread_cond_init(notFull, nil)
    }

    deinit {
        pthread_cond_destroy(notFull)
        pthread_cond_destroy(notEmpty)
        pthread_mutex_destroy(mutex)
        notFull.deallocate()
        notEmpty.deallocate()
        mutex.deallocate()
    }

    func put(_ value: Int) {
        pthread_mutex_lock(mutex)
        while count == buffer.count { pthread_cond_wait(notFull, mutex) }
        buffer[(head + count) % buffer.count] = value
        count += 1
        pthread_cond_signal(notEmpty)
        pthread_mutex_unlock(mutex)
    }

    func get() -> Int {
        pthread_mutex_lock(mutex)
        while count == 0 { pthread_cond_wait(notEmpty, mutex) }
        let value = buffer[head]
        head = (head + 1) % buffer.count
        count -= 1
        pthread_cond_signal(notFull)
        pthread_mutex_unlock(mutex)
        return value
    }
}

/// Holds threads until `open()`, so that N threads start contending together rather than
/// one after another as they are created.
// Safe to share: `isOpen` is only touched with `mutex` held.
final class StartGate: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let opened = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var isOpen = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(opened, nil)
    }

    deinit {
        pthread_cond_destroy(opened)
        pthread_mutex_destroy(mutex)
        opened.deallocate()
        mutex.deallocate()
    }

    func wait() {
        pthread_mutex_lock(mutex)
        while !isOpen { pthread_cond_wait(opened, mutex) }
        pthread_mutex_unlock(mutex)
    }

    func open() {
        pthread_mutex_lock(mutex)
        isOpen = true
        pthread_cond_broadcast(opened)
        pthread_mutex_unlock(mutex)
    }
}
