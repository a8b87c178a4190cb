import RingLoop
import ServiceLifecycle

/// A `ThreadPool` runs as a swift-service-lifecycle `Service`: it keeps its
/// workers until the `ServiceGroup` shuts down, then drains and joins them.
///
/// On graceful shutdown the pool runs every job already accepted
/// (`ThreadPool.shutdownGracefully()`); when the group is cancelled instead,
/// it fails queued jobs with `RingLoopError.shutDown` and raises the
/// cancellation flag of the running ones (`ThreadPool.shutdown(cancellingPending:)`).
/// List it before the services that submit work to it.
///
/// ```swift
/// let pool = ThreadPool()
/// let services = ServiceGroup(services: [loops, pool, server],
///                             gracefulShutdownSignals: [.sigterm], logger: logger)
/// ```
extension ThreadPool: Service {
    /// Waits for graceful shutdown or cancellation, then shuts the pool down
    /// accordingly and returns once every worker has been joined.
    public func run() async throws {
        do {
            try await gracefulShutdown()
            await shutdownGracefully()
        } catch {
            await shutdown(cancellingPending: true)
        }
    }
}
