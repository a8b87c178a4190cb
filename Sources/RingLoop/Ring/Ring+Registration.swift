import CLiburing
import SystemPackage

/// Registration: provided-buffer rings and the fixed buffer and file tables.
extension Ring {
    /// Registers a provided-buffer ring at `address` (page-aligned, `entries`
    /// × `io_uring_buf`) under a fresh buffer group id. Returns the group id,
    /// or the kernel's negative errno. See `BufferRing`.
    func registerBufferRing(_ address: UnsafeMutableRawPointer, entries: UInt32) -> Result<UInt16, Errno> {
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: address))
        registration.ring_entries = entries
        registration.bgid = nextBufferGroup
        let rc = io_uring_register_buf_ring(ring, &registration, 0)
        guard rc == 0 else { return .failure(Errno(rawValue: -rc)) }
        nextBufferGroup &+= 1
        return .success(registration.bgid)
    }

    /// Unregisters a buffer ring; afterwards its memory may be unmapped.
    func unregisterBufferRing(group: UInt16) {
        guard !isClosed else { return }
        _ = io_uring_unregister_buf_ring(ring, Int32(group))
    }

    /// Registers a buffer in the ring's fixed-buffer table; returns its slot.
    func registerBuffer(address: UnsafeMutableRawPointer, count: Int) -> Result<UInt16, Errno> {
        fixedTables.registerBuffer(ring, address: address, count: count)
    }

    func unregisterBuffer(slot: UInt16) {
        fixedTables.unregisterBuffer(ring, slot: slot)
    }

    /// Registers a descriptor in the ring's fixed-file table; returns its slot.
    func registerFile(fd: Int32) -> Result<UInt32, Errno> {
        fixedTables.registerFile(ring, fd: fd)
    }

    func unregisterFile(slot: UInt32) {
        fixedTables.unregisterFile(ring, slot: slot)
    }
}
