#if canImport(Glibc)
import Glibc
#endif

/// The event loop running on the current thread, if any. Set by the loop for
/// its lifetime; read by `EventLoop.current` and by blocking calls that must
/// refuse to run on a loop thread.
enum CurrentLoop {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key, nil)
        precondition(rc == 0, "pthread_key_create failed: \(rc)")
        return key
    }()

    static func set(_ loop: EventLoop?) {
        pthread_setspecific(key, loop.map { Unmanaged.passUnretained($0).toOpaque() })
    }

    /// Unretained: the loop clears this before its thread stops running it.
    static var loop: EventLoop? {
        guard let raw = pthread_getspecific(key) else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(raw).takeUnretainedValue()
    }

    static var isLoopThread: Bool { pthread_getspecific(key) != nil }
}
