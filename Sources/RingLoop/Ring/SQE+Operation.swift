import CLiburing
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A submission queue entry being prepared. Valid only until the next
/// submission.
struct SQE {
    let raw: UnsafeMutablePointer<io_uring_sqe>
    init(_ raw: UnsafeMutablePointer<io_uring_sqe>) { self.raw = raw }

    /// `IORING_OP_FTRUNCATE` (Linux 6.9), newer than liburing 2.3's headers.
    static let opFtruncate: Int32 = 55

    /// Fills this SQE from `operation`: the one place where an `IOOperation`
    /// becomes liburing calls. Pointers in the operation stay owned by its
    /// handler until the final CQE.
    @inline(__always)
    func prepare(_ operation: IOOperation, options: IOOperation.Options) {
        switch operation {
        case .nop:
            io_uring_prep_nop(raw)
        case let .acceptMultishot(fd):
            io_uring_prep_multishot_accept(raw, fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        case let .connect(fd, address, length):
            io_uring_prep_connect(raw, fd, address, length)
        case let .receive(fd, group, multishot):
            if multishot {
                io_uring_prep_recv_multishot(raw, fd, nil, 0, 0)
            } else {
                io_uring_prep_recv(raw, fd, nil, 0, 0)
            }
            ringloop_sqe_select_buffer(raw, group)
        case let .send(fd, buffer, count):
            io_uring_prep_send(raw, fd, buffer, count, Int32(MSG_NOSIGNAL))
        case let .sendNow(fd, buffer, count):
            // MSG_DONTWAIT: the kernel completes the request with EAGAIN or a
            // short count instead of arming a poll to wait for room.
            io_uring_prep_send(raw, fd, buffer, count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        case let .sendMessage(fd, message):
            io_uring_prep_sendmsg(raw, fd, message, UInt32(MSG_NOSIGNAL))
        case let .receiveMessage(fd, message):
            io_uring_prep_recvmsg(raw, fd, message, 0)
        case let .shutdown(fd, how):
            io_uring_prep_shutdown(raw, fd, how)
        case let .openAt(directory, path, flags, mode):
            io_uring_prep_openat(raw, directory, path, flags, mode_t(mode))
        case let .read(fd, buffer, count, offset):
            io_uring_prep_read(raw, fd, buffer, count, UInt64(bitPattern: offset))
        case let .write(fd, buffer, count, offset):
            io_uring_prep_write(raw, fd, buffer, count, UInt64(bitPattern: offset))
        case let .readv(fd, iovecs, count, offset):
            io_uring_prep_readv(raw, fd, iovecs, count, UInt64(bitPattern: offset))
        case let .writev(fd, iovecs, count, offset):
            io_uring_prep_writev(raw, fd, iovecs, count, UInt64(bitPattern: offset))
        case let .readFixed(fd, buffer, count, offset, index):
            io_uring_prep_read_fixed(raw, fd, buffer, count, UInt64(bitPattern: offset), Int32(index))
        case let .writeFixed(fd, buffer, count, offset, index):
            io_uring_prep_write_fixed(raw, fd, buffer, count, UInt64(bitPattern: offset), Int32(index))
        case let .fsync(fd, dataOnly):
            io_uring_prep_fsync(raw, fd, dataOnly ? UInt32(IORING_FSYNC_DATASYNC) : 0)
        case let .statx(directory, path, flags, mask, buffer):
            ringloop_prep_statx(raw, directory, path, flags, mask, buffer)
        case let .fallocate(fd, mode, offset, length):
            io_uring_prep_fallocate(raw, fd, mode, off_t(offset), off_t(length))
        case let .ftruncate(fd, length):
            // liburing 2.3 has no helper: the SQE is filled by hand.
            io_uring_prep_rw(SQE.opFtruncate, raw, fd, nil, 0, UInt64(bitPattern: length))
        case let .close(fd):
            io_uring_prep_close(raw, fd)
        case let .unlinkAt(directory, path, flags):
            io_uring_prep_unlinkat(raw, directory, path, flags)
        case let .renameAt(fromDirectory, from, toDirectory, to, flags):
            io_uring_prep_renameat(raw, fromDirectory, from, toDirectory, to, flags)
        case let .mkdirAt(directory, path, mode):
            io_uring_prep_mkdirat(raw, directory, path, mode_t(mode))
        case let .splice(input, inputOffset, output, outputOffset, count):
            io_uring_prep_splice(raw, input, inputOffset, output, outputOffset, count, 0)
        case let .poll(fd, events, multishot):
            if multishot {
                io_uring_prep_poll_multishot(raw, fd, events)
            } else {
                io_uring_prep_poll_add(raw, fd, events)
            }
        case let .waitid(pid, info):
            // liburing 2.3 has no helper: the SQE is filled by hand (shim).
            ringloop_prep_waitid(raw, P_PID, id_t(pid), info, WEXITED)
        }
        if !options.isEmpty {
            var flags: UInt8 = 0
            if options.contains(.fixedFile) { flags |= UInt8(truncatingIfNeeded: 1 << UInt32(IOSQE_FIXED_FILE_BIT)) }
            if options.contains(.linkNext) { flags |= UInt8(truncatingIfNeeded: 1 << UInt32(IOSQE_IO_LINK_BIT)) }
            if options.contains(.forceAsync) { flags |= UInt8(truncatingIfNeeded: 1 << UInt32(IOSQE_ASYNC_BIT)) }
            raw.pointee.flags |= flags
        }
    }

    /// The io_uring opcode `operation` is performed with.
    static func opcode(of operation: IOOperation) -> Int32 {
        let op: io_uring_op
        switch operation {
        case .nop: op = IORING_OP_NOP
        case .acceptMultishot: op = IORING_OP_ACCEPT
        case .connect: op = IORING_OP_CONNECT
        case .receive: op = IORING_OP_RECV
        case .send, .sendNow: op = IORING_OP_SEND
        case .sendMessage: op = IORING_OP_SENDMSG
        case .receiveMessage: op = IORING_OP_RECVMSG
        case .shutdown: op = IORING_OP_SHUTDOWN
        case .openAt: op = IORING_OP_OPENAT
        case .read: op = IORING_OP_READ
        case .write: op = IORING_OP_WRITE
        case .readv: op = IORING_OP_READV
        case .writev: op = IORING_OP_WRITEV
        case .readFixed: op = IORING_OP_READ_FIXED
        case .writeFixed: op = IORING_OP_WRITE_FIXED
        case .fsync: op = IORING_OP_FSYNC
        case .statx: op = IORING_OP_STATX
        case .fallocate: op = IORING_OP_FALLOCATE
        case .ftruncate: return SQE.opFtruncate
        case .close: op = IORING_OP_CLOSE
        case .unlinkAt: op = IORING_OP_UNLINKAT
        case .renameAt: op = IORING_OP_RENAMEAT
        case .mkdirAt: op = IORING_OP_MKDIRAT
        case .splice: op = IORING_OP_SPLICE
        case .poll: op = IORING_OP_POLL_ADD
        case .waitid: return ringloop_OP_WAITID
        }
        return Int32(op.rawValue)
    }
}

extension Completion {
    /// Decodes a CQE. `shuttingDown`: the ring has begun shutting down, so a
    /// cancelled operation reports `.shutDown` (the one place this is decided).
    @inline(__always)
    init(result: Int32, flags: UInt32, shuttingDown: Bool) {
        let outcome: Outcome
        if result >= 0 {
            outcome = .success(result)
        } else if result == -ECANCELED {
            outcome = shuttingDown ? .shutDown : .cancelled
        } else {
            outcome = .failure(Errno(rawValue: -result))
        }
        let bufferID: UInt16? = flags & IORING_CQE_F_BUFFER != 0
            ? UInt16(truncatingIfNeeded: flags >> IORING_CQE_BUFFER_SHIFT) : nil
        self.init(outcome, hasMore: flags & IORING_CQE_F_MORE != 0, bufferID: bufferID)
    }
}
