import SystemPackage

/// A system call a backend (the ring or the epoll reactor) made on behalf of a
/// caller failed: which one, and the kernel's answer. The layers above turn it
/// into their own error, naming their own operation; the backends never speak
/// the I/O layer's `IOError`.
struct BackendCallFailure: Error {
    let call: String
    let errno: Errno
}
