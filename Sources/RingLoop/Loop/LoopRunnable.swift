/// Work that already is an object, queued on a loop as itself rather than
/// inside a closure: a thread handing a loop an object that carries its own
/// result (a finished pool job) allocates nothing to do so.
///
/// The queue holds a strong reference until `runOnLoop()` has returned, so
/// an object handed over by its last other owner is also released (freed) on
/// the loop thread.
@usableFromInline protocol LoopRunnable: AnyObject, Sendable {
    /// Runs on the loop thread, in the loop's order for queued work (or,
    /// once the loop has shut down, serially on its post-shutdown executor).
    func runOnLoop()
}
