import CLiburing
#if canImport(Glibc)
import Glibc
#endif

/// Linux file constants that glibc names only under `_GNU_SOURCE` (the shim
/// spells them), gathered here so nothing above `Ring/` imports `CLiburing`.
enum FileConstants {
    static let direct = ringloop_O_DIRECT
    static let emptyPath = ringloop_AT_EMPTY_PATH
    static let renameNoReplace = UInt32(ringloop_RENAME_NOREPLACE)
    static let fallocateKeepSize = ringloop_FALLOC_FL_KEEP_SIZE
    static let fallocatePunchHole = ringloop_FALLOC_FL_PUNCH_HOLE
    static let removeDirectory = Int32(AT_REMOVEDIR)
    static let noFollowSymlinks = Int32(AT_SYMLINK_NOFOLLOW)
    static let statxBasic = ringloop_STATX_BASIC_STATS | ringloop_STATX_BTIME
    static let statxBirthTime = ringloop_STATX_BTIME
    /// `IORING_OP_FTRUNCATE` (Linux 6.9), newer than liburing 2.3's headers.
    static let opFtruncate: Int32 = 55
}

/// The statx(2) result buffer, owned by the operation that fills it.
typealias StatxBuffer = ringloop_statx

/// Preparation of file operations: thin wrappers over liburing's `prep_*`.
/// Every pointer passed in must stay valid until the operation's final CQE;
/// the caller's `CompletionHandler` owns the memory.
extension SQE {
    func prepareOpenAt(directory: Int32, path: UnsafePointer<CChar>, flags: Int32, mode: UInt32) {
        io_uring_prep_openat(raw, directory, path, flags, mode_t(mode))
    }

    func prepareReadv(fd: Int32, iovecs: UnsafePointer<iovec>, count: UInt32, offset: UInt64) {
        io_uring_prep_readv(raw, fd, iovecs, count, offset)
    }

    func prepareWritev(fd: Int32, iovecs: UnsafePointer<iovec>, count: UInt32, offset: UInt64) {
        io_uring_prep_writev(raw, fd, iovecs, count, offset)
    }

    /// A read into a registered buffer (`bufferIndex` in the ring's table).
    func prepareReadFixed(fd: Int32, into buffer: UnsafeMutableRawPointer, count: UInt32, offset: UInt64, bufferIndex: UInt16) {
        io_uring_prep_read_fixed(raw, fd, buffer, count, offset, Int32(bufferIndex))
    }

    /// A write from a registered buffer (`bufferIndex` in the ring's table).
    func prepareWriteFixed(fd: Int32, from buffer: UnsafeRawPointer, count: UInt32, offset: UInt64, bufferIndex: UInt16) {
        io_uring_prep_write_fixed(raw, fd, buffer, count, offset, Int32(bufferIndex))
    }

    /// fsync(2), or fdatasync(2) when `dataOnly`.
    func prepareFsync(fd: Int32, dataOnly: Bool) {
        io_uring_prep_fsync(raw, fd, dataOnly ? UInt32(IORING_FSYNC_DATASYNC) : 0)
    }

    func prepareStatx(directory: Int32, path: UnsafePointer<CChar>, flags: Int32, mask: UInt32, into buffer: UnsafeMutablePointer<StatxBuffer>) {
        ringloop_prep_statx(raw, directory, path, flags, mask, buffer)
    }

    func prepareFallocate(fd: Int32, mode: Int32, offset: Int64, length: Int64) {
        io_uring_prep_fallocate(raw, fd, mode, off_t(offset), off_t(length))
    }

    /// ftruncate(2) as `IORING_OP_FTRUNCATE`; probe for the opcode first
    /// (liburing 2.3 has no helper, so the SQE is filled by hand).
    func prepareFtruncate(fd: Int32, length: Int64) {
        io_uring_prep_rw(FileConstants.opFtruncate, raw, fd, nil, 0, UInt64(bitPattern: length))
    }

    func prepareClose(fd: Int32) {
        io_uring_prep_close(raw, fd)
    }

    func prepareUnlinkAt(directory: Int32, path: UnsafePointer<CChar>, flags: Int32) {
        io_uring_prep_unlinkat(raw, directory, path, flags)
    }

    func prepareRenameAt(
        fromDirectory: Int32, from: UnsafePointer<CChar>,
        toDirectory: Int32, to: UnsafePointer<CChar>,
        flags: UInt32
    ) {
        io_uring_prep_renameat(raw, fromDirectory, from, toDirectory, to, flags)
    }

    func prepareMkdirAt(directory: Int32, path: UnsafePointer<CChar>, mode: UInt32) {
        io_uring_prep_mkdirat(raw, directory, path, mode_t(mode))
    }

    /// splice(2) between `input` and `output`, one of which is a pipe; an
    /// offset of -1 means "the descriptor's position" (required for the pipe).
    func prepareSplice(input: Int32, inputOffset: Int64, output: Int32, outputOffset: Int64, count: UInt32) {
        io_uring_prep_splice(raw, input, inputOffset, output, outputOffset, count, 0)
    }

    /// Uses `fd` as an index into the ring's registered-file table.
    func useFixedFile() {
        addFlags(1 << UInt32(IOSQE_FIXED_FILE_BIT))
    }

    /// Links the next SQE to this one: it starts only after this one succeeds.
    func linkNext() {
        addFlags(1 << UInt32(IOSQE_IO_LINK_BIT))
    }

    /// Skips the inline non-blocking attempt and hands the operation straight
    /// to the kernel's io-wq workers.
    func forceAsync() {
        addFlags(1 << UInt32(IOSQE_ASYNC_BIT))
    }
}

extension Ring {
    static let opOpenAt = Int32(IORING_OP_OPENAT.rawValue)
    static let opStatx = Int32(IORING_OP_STATX.rawValue)
    static let opMkdirAt = Int32(IORING_OP_MKDIRAT.rawValue)
    static let opRenameAt = Int32(IORING_OP_RENAMEAT.rawValue)
    static let opUnlinkAt = Int32(IORING_OP_UNLINKAT.rawValue)
    static let opFallocate = Int32(IORING_OP_FALLOCATE.rawValue)
}
