/// A fixed set of event loops, one per core by default, handed out round-robin.
///
/// ```swift
/// let group = try EventLoopGroup()          // one loop per core
/// let loop = group.next()
/// …
/// await group.shutdownGracefully()
/// ```
public final class EventLoopGroup: Sendable {
    /// The loops, in creation order.
    public let loops: [EventLoop]
    private let counter = LockedValue(0)

    /// Starts `numberOfLoops` loops, each on its own thread.
    /// - Parameters:
    ///   - numberOfLoops: how many (one per core by default).
    ///   - configuration: every loop's; each is named `name-index`.
    ///   - pinningLoopsToCPUs: pins loop `i` to the `i`-th of
    ///     `System.availableCPUs` (round-robin when there are more loops than
    ///     CPUs), for a thread-per-core server whose loops should neither
    ///     migrate nor share a core. Overrides `configuration.cpuAffinity`.
    /// - Throws: `RingLoopError.ioUringUnavailable`, `.invalidConfiguration`
    ///   (any loop already started is shut down again).
    public init(
        numberOfLoops: Int = System.coreCount, configuration: EventLoop.Configuration = .init(),
        pinningLoopsToCPUs: Bool = false
    ) throws(RingLoopError) {
        precondition(numberOfLoops > 0, "an EventLoopGroup needs at least one loop")
        var loops: [EventLoop] = []
        let cpus = System.availableCPUs
        for index in 0..<numberOfLoops {
            var config = configuration
            config.name = "\(configuration.name)-\(index)"
            if pinningLoopsToCPUs, !cpus.isEmpty { config.cpuAffinity = [cpus[index % cpus.count]] }
            do throws(RingLoopError) {
                loops.append(try EventLoop.spawn(configuration: config))
            } catch {
                for loop in loops { loop.shutdownGracefully {} }
                throw error
            }
        }
        self.loops = loops
    }

    /// The next loop, round-robin.
    public func next() -> EventLoop {
        let index = counter.withLockedValue { value in
            defer { value &+= 1 }
            return value
        }
        return loops[index % loops.count]
    }

    /// The loop the caller runs on if it belongs to this group, else `next()`.
    public func any() -> EventLoop {
        if let current = EventLoop.current, loops.contains(where: { $0 === current }) { return current }
        return next()
    }

    /// Shuts every loop down (see `EventLoop.shutdownGracefully`) and waits.
    public func shutdownGracefully() async {
        await withTaskGroup(of: Void.self) { group in
            for loop in loops {
                group.addTask { await loop.shutdownGracefully() }
            }
        }
    }

    /// Shuts every loop down, blocking the calling thread until done.
    /// - Throws: `RingLoopError.blockingWaitOnEventLoop` on a loop thread.
    public func syncShutdownGracefully() throws(RingLoopError) {
        // Refuse before starting anything: otherwise every loop would be shut
        // down by a call that then reports failure.
        if CurrentLoop.isLoopThread { throw .blockingWaitOnEventLoop(operation: "EventLoopGroup.syncShutdownGracefully") }
        for loop in loops { loop.shutdownGracefully {} }
        for loop in loops { try loop.syncShutdownGracefully() }
    }
}
