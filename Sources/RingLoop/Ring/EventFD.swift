import CLiburing

/// eventfd(2), which the Glibc module does not export: a close-on-exec
/// counter for the loop's cross-thread wakeup. Returns the descriptor, or -1
/// with `errno` set.
func makeEventFD() -> Int32 {
    eventfd(0, Int32(EFD_CLOEXEC))
}
