import RingLoop
import ServiceLifecycle

/// An `EventLoopGroup` runs as a swift-service-lifecycle `Service`: it keeps
/// its loops until the `ServiceGroup` shuts down gracefully (SIGTERM, say) or
/// is cancelled, then shuts every loop down and returns.
///
/// List the group *before* the services that use its loops: a `ServiceGroup`
/// shuts its services down in reverse order, so the servers finish their
/// connections while the loops still run.
///
/// ```swift
/// let loops = try EventLoopGroup()
/// let server = EchoServer(group: loops)          // your Service
/// let services = ServiceGroup(
///     services: [loops, server],
///     gracefulShutdownSignals: [.sigterm, .sigint],
///     logger: logger
/// )
/// try await services.run()
/// ```
extension EventLoopGroup: Service {
    /// Waits for graceful shutdown or cancellation, then shuts every loop
    /// down gracefully (queued work runs, in-flight I/O is cancelled and its
    /// completions reaped) and returns once they are all closed.
    public func run() async throws {
        // Either outcome (graceful shutdown, or cancellation) ends the wait.
        try? await gracefulShutdown()
        await shutdownGracefully()
    }
}
