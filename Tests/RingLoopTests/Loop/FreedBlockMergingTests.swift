import CMallocInfo
import Testing
@testable import RingLoop

@Suite("Freed block merging", .timeLimit(.minutes(1)))
struct FreedBlockMergingTests {
    /// Firing 20,000 timers frees 40,000 small blocks (each timer's node and
    /// its closure's context, about 2.5 MiB). Scheduled at "now", they sit in
    /// the due heap, so nothing else asks glibc for a large block while they
    /// fire: without the loop's nudges every freed block would still wait
    /// unmerged in glibc's fast bins when the last timer runs.
    @Test func firingTimersLeavesFewFreedBlocksUnmerged() async throws {
        let timers = 20_000
        try await withLoop { loop in
            let (before, after) = try await loop.submit { () -> Future<(Int, Int)> in
                let before = Int(ringloop_malloc_fast_bin_bytes())
                let remaining = Box(timers)
                let measured = loop.makePromise(of: (Int, Int).self)
                let now = Deadline.now()
                for _ in 0..<timers {
                    loop.schedule(at: now) {
                        if remaining.with({ $0 -= 1; return $0 == 0 }) {
                            measured.succeed((before, Int(ringloop_malloc_fast_bin_bytes())))
                        }
                    }
                }
                return measured.future
            }.get().get()
            // At most 256 timers' blocks (about 32 KiB) since the last nudge,
            // plus what other threads free meanwhile.
            #expect(after - before < 512 * 1024, "\(after - before) bytes left unmerged in glibc's fast bins")
        }
    }

    @Test func nudgesComeEveryFiringsPerNudgeTimers() {
        // The counter wraps back to zero at each nudge; a nudge with nothing
        // to merge is harmless, so this only checks the counting.
        var merging = FreedBlockMerging()
        for _ in 0..<(FreedBlockMerging.firingsPerNudge * 3 + 5) { merging.timerFired() }
        #expect(merging.firingsSinceNudge == 5)
    }
}
