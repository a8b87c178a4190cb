import SystemPackage

/// Fixed files and fixed buffers: the I/O layer asks the loop, and the loop
/// decides what its backend offers (the ring has tables; epoll has none, and
/// plain descriptors and buffers serve there with the same results).
extension EventLoop {
    /// Registers `fd` in the ring's fixed-file table (loop thread).
    /// - Returns: the slot or the kernel's refusal; nil when the backend has
    ///   no fixed files (the plain descriptor serves).
    func registerFixedFile(_ fd: Int32) -> Result<UInt32, Errno>? {
        preconditionInEventLoop()
        return backend.ring?.registerFile(fd: fd)
    }

    /// Empties a fixed-file slot; nothing once the loop has closed (the
    /// ring and its tables are gone).
    func unregisterFixedFile(slot: UInt32) {
        preconditionInEventLoop()
        guard state != .closed else { return }
        backend.ring?.unregisterFile(slot: slot)
    }

    /// Registers `count` bytes at `address` in the ring's fixed-buffer table
    /// (loop thread).
    /// - Returns: the slot or the kernel's refusal; nil when the backend has
    ///   no fixed buffers (plain reads and writes serve).
    func registerFixedBuffer(address: UnsafeMutableRawPointer, count: Int) -> Result<UInt16, Errno>? {
        preconditionInEventLoop()
        return backend.ring?.registerBuffer(address: address, count: count)
    }

    /// Empties a fixed-buffer slot; nothing once the loop has closed.
    func unregisterFixedBuffer(slot: UInt16) {
        preconditionInEventLoop()
        guard state != .closed else { return }
        backend.ring?.unregisterBuffer(slot: slot)
    }
}
