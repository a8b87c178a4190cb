/// ThreadSanitizer hints for RingLoop's continuation hand-offs.
///
/// A task suspended in RingLoop is resumed from another thread (an event loop
/// or a pool worker) and, unless it is pinned to a loop, then runs on Swift's
/// global executor. That hand-off goes through libswift_Concurrency and
/// libdispatch, which are not built with TSan instrumentation, so TSan sees no
/// happens-before edge between what the resuming thread did before `resume`
/// (e.g. create the `File` or `TCPConnection` it hands over) and what the task
/// does after its `await`, and reports a race that cannot happen.
///
/// Each resume point calls `tsanRelease(key)` right before resuming and each
/// await calls `tsanAcquire(key)` right after it returns, on the same object
/// (the waiter, the job, the future): that is the edge the runtime provides but
/// TSan cannot see. Only in TSan builds (`scripts/test --sanitize=thread` sets
/// `-DRINGLOOP_TSAN`); elsewhere both are empty and inline to nothing.
///
/// What this cannot cover is in scripts/tsan.supp: accesses made inside the
/// runtime's own `resume`, after the release.

#if RINGLOOP_TSAN
// The TSan runtime's annotation entry points (void f(void *)): a single
// pointer argument is passed the same way by the Swift and C conventions.
@usableFromInline @_silgen_name("__tsan_acquire")
func _tsanAcquire(_ address: UnsafeMutableRawPointer)

@usableFromInline @_silgen_name("__tsan_release")
func _tsanRelease(_ address: UnsafeMutableRawPointer)
#endif

/// Tells TSan that this thread's accesses so far happen before those of a
/// thread that later calls `tsanAcquire(key)`. Call right before resuming.
@inlinable @inline(__always)
func tsanRelease(_ key: AnyObject) {
    #if RINGLOOP_TSAN
    _tsanRelease(Unmanaged.passUnretained(key).toOpaque())
    #endif
}

/// The other half of `tsanRelease`: call right after the `await` returns (or
/// throws).
@inlinable @inline(__always)
func tsanAcquire(_ key: AnyObject) {
    #if RINGLOOP_TSAN
    _tsanAcquire(Unmanaged.passUnretained(key).toOpaque())
    #endif
}
