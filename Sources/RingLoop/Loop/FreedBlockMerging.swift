#if canImport(Glibc)
import Glibc
#endif

/// Makes glibc merge the small blocks freed by firing timers while they are
/// still in cache, instead of all at once, cold, much later.
///
/// glibc keeps freed blocks of up to 128 bytes, such as a timer's node and
/// its closure's context, in "fast bins", unmerged, and merges every one of
/// them (`malloc_consolidate`) the next time a request of 1 KiB or more
/// arrives, or a free leaves 64 KiB or more in one piece. Timers fire in
/// deadline order, which is no order in memory, so when a million timers
/// fired before the next such request (the wheel growing a slot in a
/// cascade), that merge walked hundreds of thousands of cold blocks: a third
/// of the CPU time of firing them (perf: `malloc_consolidate` and
/// `unlink_chunk`, five passes per million timers).
///
/// Asking for a 1 KiB block every 256 firings makes glibc merge the last few
/// hundred freed blocks while they are still in cache. When nothing is
/// waiting in the fast bins the request is a malloc and a free from the
/// thread's cache. Other allocators (musl's, jemalloc) have no fast bins;
/// the nudge costs them one small allocation per 256 timers.
///
/// Touched only by its loop's thread.
struct FreedBlockMerging {
    /// Firings between two nudges: measured from 64 to 2,048 on a million
    /// timers; 64 to 512 were alike, 2,048 gave back half the gain.
    static let firingsPerNudge = 256

    private(set) var firingsSinceNudge = 0

    /// Counts one fired timer and nudges the allocator every `firingsPerNudge`.
    @inline(__always)
    mutating func timerFired() {
        firingsSinceNudge &+= 1
        if firingsSinceNudge == Self.firingsPerNudge {
            firingsSinceNudge = 0
            Self.nudge()
        }
    }

    /// Requests and frees a 1 KiB block: above glibc's small-block range,
    /// so glibc first merges whatever sits in its fast bins.
    @inline(never)
    static func nudge() {
        #if canImport(Glibc)
        var block: UnsafeMutableRawPointer?
        // posix_memalign, not malloc: the optimizer deletes a malloc that is
        // freed unused, and the request is the point. Aligned to 64, not to
        // malloc's own 16: glibc serves a plain 1 KiB request from the
        // thread's cache (tcache) without merging anything; with alignment
        // 16 the nudge did nothing (1M timers 1.3-1.6x slower, measured).
        if posix_memalign(&block, 64, 1024) == 0 { free(block) }
        #endif
    }
}
