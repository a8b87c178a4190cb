import CLiburing
import SystemPackage

/// The ring's registered-buffer and registered-file tables ("fixed"
/// resources): sparse tables created on first use, with free-slot lists.
///
/// Fixed buffers spare the kernel from pinning the pages of every transfer;
/// fixed files spare it the descriptor lookup and reference count per
/// operation. Loop thread only (the ring is single-issuer).
struct FixedResourceTables {
    static let bufferSlots: UInt32 = 1024
    static let fileSlots: UInt32 = 1024

    private var bufferTableReady = false
    private var freeBufferSlots: [UInt16] = []
    private var fileTableReady = false
    private var freeFileSlots: [UInt32] = []

    /// Registers one buffer; returns its slot, or the kernel's error.
    mutating func registerBuffer(_ ring: UnsafeMutablePointer<io_uring>, address: UnsafeMutableRawPointer, count: Int) -> Result<UInt16, Errno> {
        if !bufferTableReady {
            let rc = io_uring_register_buffers_sparse(ring, FixedResourceTables.bufferSlots)
            guard rc == 0 else { return .failure(Errno(rawValue: -rc)) }
            bufferTableReady = true
            freeBufferSlots = (0..<UInt16(FixedResourceTables.bufferSlots)).reversed()
        }
        guard let slot = freeBufferSlots.popLast() else { return .failure(.noBufferSpace) }
        var vector = iovec(iov_base: address, iov_len: count)
        var tag: UInt64 = 0
        let rc = io_uring_register_buffers_update_tag(ring, UInt32(slot), &vector, &tag, 1)
        guard rc >= 0 else {
            freeBufferSlots.append(slot)
            return .failure(Errno(rawValue: -rc))
        }
        return .success(slot)
    }

    /// Empties a buffer slot. Operations already using it keep the kernel's
    /// reference to the pages until they complete.
    mutating func unregisterBuffer(_ ring: UnsafeMutablePointer<io_uring>, slot: UInt16) {
        var empty = iovec(iov_base: nil, iov_len: 0)
        var tag: UInt64 = 0
        _ = io_uring_register_buffers_update_tag(ring, UInt32(slot), &empty, &tag, 1)
        freeBufferSlots.append(slot)
    }

    /// Registers a descriptor; returns its slot, or the kernel's error. The
    /// table holds its own reference to the open file.
    mutating func registerFile(_ ring: UnsafeMutablePointer<io_uring>, fd: Int32) -> Result<UInt32, Errno> {
        if !fileTableReady {
            let rc = io_uring_register_files_sparse(ring, FixedResourceTables.fileSlots)
            guard rc == 0 else { return .failure(Errno(rawValue: -rc)) }
            fileTableReady = true
            freeFileSlots = (0..<FixedResourceTables.fileSlots).reversed()
        }
        guard let slot = freeFileSlots.popLast() else { return .failure(.tooManyOpenFilesInSystem) }
        var descriptor = fd
        let rc = io_uring_register_files_update(ring, slot, &descriptor, 1)
        guard rc >= 0 else {
            freeFileSlots.append(slot)
            return .failure(Errno(rawValue: -rc))
        }
        return .success(slot)
    }

    /// Empties a file slot (drops the table's reference to the file).
    mutating func unregisterFile(_ ring: UnsafeMutablePointer<io_uring>, slot: UInt32) {
        var none: Int32 = -1
        _ = io_uring_register_files_update(ring, slot, &none, 1)
        freeFileSlots.append(slot)
    }
}
