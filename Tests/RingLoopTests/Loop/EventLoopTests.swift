import Foundation
import Testing
@testable import RingLoop

@Suite("EventLoop")
struct EventLoopTests {
    @Test func executeJobsRunInOrderOnTheLoopThread() async throws {
        try await withLoop { loop async throws in
            let seen = Box<[Int]>([])
            let onLoop = Box(true)
            for i in 0..<1000 {
                loop.execute {
                    if !loop.inEventLoop { onLoop.with { $0 = false } }
                    seen.with { $0.append(i) }
                }
            }
            try await loop.submit {}.get()
            #expect(seen.get == Array(0..<1000))
            #expect(onLoop.get)
        }
    }

    @Test func executeFromTheLoopRunsAfterQueuedWork() async throws {
        try await withLoop { loop async throws in
            let order = Box<[String]>([])
            try await loop.submit {
                loop.execute { order.with { $0.append("inner") } }
                order.with { $0.append("outer") }
            }.get()
            try await loop.submit {}.get()
            #expect(order.get == ["outer", "inner"])
        }
    }

    @Test func crossThreadExecuteFromManyThreadsLosesNothing() async throws {
        try await withLoop { loop async throws in
            let threads = 8
            let perThread = 20_000
            let counts = Box([Int](repeating: 0, count: threads))
            let ordered = Box(true)
            let done = DispatchGroup()
            for t in 0..<threads {
                done.enter()
                Thread.detachNewThread {
                    for i in 0..<perThread {
                        loop.execute {
                            // Per-producer FIFO: job i of thread t runs i-th.
                            counts.with {
                                if $0[t] != i { ordered.with { $0 = false } }
                                $0[t] += 1
                            }
                        }
                    }
                    done.leave()
                }
            }
            done.wait()
            try await loop.submit {}.get()
            #expect(counts.get == [Int](repeating: perThread, count: threads))
            #expect(ordered.get)
        }
    }

    @Test func inEventLoopAndCurrent() async throws {
        try await withLoop { loop async throws in
            #expect(!loop.inEventLoop)
            #expect(EventLoop.current == nil)
            let inside = try await loop.submit { (loop.inEventLoop, EventLoop.current === loop) }.get()
            #expect(inside == (true, true))
        }
    }

    @Test func ringIsSetUpWithDeferredTaskRunWhenTheKernelAllowsIt() async throws {
        try await withLoop { loop async throws in
            // This machine's kernel supports it; the fallback chain is
            // exercised by the injected-failure tests. A ring-only fact: on
            // epoll (RINGLOOP_BACKEND=epoll) there is no ring to set up.
            if loop.ioBackend == .ioUring {
                #expect(loop.usesDeferredTaskRun)
            } else {
                #expect(!loop.usesDeferredTaskRun)
            }
        }
    }

    @Test func runOnCurrentThreadRunsUntilShutdown() throws {
        let ran = Box(false)
        try EventLoop.runOnCurrentThread { loop in
            loop.schedule(after: .milliseconds(10)) {
                ran.with { $0 = true }
                loop.shutdownGracefully {}
            }
        }
        #expect(ran.get)
    }

}
