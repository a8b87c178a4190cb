import CEpoll
#if canImport(Glibc)
import Glibc
#endif

/// The file and path operations as blocking calls for the epoll backend's
/// workers. Each returns what the io_uring opcode's CQE would: the result, or
/// a negative errno. `EINTR` is retried. Pointers are the submitter's, kept
/// alive until the final completion.
extension BlockingCall {
    private static func retrying(_ body: @escaping () -> Int) -> BlockingCall {
        BlockingCall {
            while true {
                let rc = body()
                if rc >= 0 { return Int32(truncatingIfNeeded: rc) }
                let code = errno
                if code != EINTR { return -code }
            }
        }
    }

    static func openAt(directory: Int32, path: UnsafePointer<CChar>, flags: Int32, mode: UInt32) -> BlockingCall {
        retrying { Int(openat(directory, path, flags, mode_t(mode))) }
    }

    /// `pread(2)`; an offset of -1 reads at the file position (`read(2)`).
    static func read(fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int, offset: Int64) -> BlockingCall {
        retrying { offset < 0 ? Glibc.read(fd, buffer, count) : pread(fd, buffer, count, off_t(offset)) }
    }

    /// `pwrite(2)`; an offset of -1 writes at the file position (`write(2)`).
    static func write(fd: Int32, from buffer: UnsafeRawPointer, count: Int, offset: Int64) -> BlockingCall {
        retrying { offset < 0 ? Glibc.write(fd, buffer, count) : pwrite(fd, buffer, count, off_t(offset)) }
    }

    static func readv(fd: Int32, iovecs: UnsafePointer<iovec>, count: Int32, offset: Int64) -> BlockingCall {
        retrying { offset < 0 ? Glibc.readv(fd, iovecs, count) : preadv(fd, iovecs, count, off_t(offset)) }
    }

    static func writev(fd: Int32, iovecs: UnsafePointer<iovec>, count: Int32, offset: Int64) -> BlockingCall {
        retrying { offset < 0 ? Glibc.writev(fd, iovecs, count) : pwritev(fd, iovecs, count, off_t(offset)) }
    }

    /// `fsync(2)`, or `fdatasync(2)` when `dataOnly`.
    static func fsync(fd: Int32, dataOnly: Bool) -> BlockingCall {
        retrying { Int(dataOnly ? fdatasync(fd) : Glibc.fsync(fd)) }
    }

    /// `statx(2)` into the caller's 256-byte `struct statx`.
    static func statx(directory: Int32, path: UnsafePointer<CChar>, flags: Int32, mask: UInt32, into buffer: UnsafeMutableRawPointer) -> BlockingCall {
        retrying { Int(cepoll_statx(directory, path, flags, mask, buffer)) }
    }

    static func fallocate(fd: Int32, mode: Int32, offset: Int64, length: Int64) -> BlockingCall {
        retrying { Int(cepoll_fallocate(fd, mode, offset, length)) }
    }

    static func ftruncate(fd: Int32, length: Int64) -> BlockingCall {
        retrying { Int(Glibc.ftruncate(fd, off_t(length))) }
    }

    static func unlinkAt(directory: Int32, path: UnsafePointer<CChar>, flags: Int32) -> BlockingCall {
        retrying { Int(unlinkat(directory, path, flags)) }
    }

    static func renameAt(fromDirectory: Int32, from: UnsafePointer<CChar>, toDirectory: Int32, to: UnsafePointer<CChar>, flags: UInt32) -> BlockingCall {
        retrying { Int(cepoll_renameat2(fromDirectory, from, toDirectory, to, flags)) }
    }

    static func mkdirAt(directory: Int32, path: UnsafePointer<CChar>, mode: UInt32) -> BlockingCall {
        retrying { Int(mkdirat(directory, path, mode_t(mode))) }
    }

    /// `splice(2)`; an offset of -1 means the descriptor's position.
    static func splice(input: Int32, inputOffset: Int64, output: Int32, outputOffset: Int64, count: Int) -> BlockingCall {
        retrying { cepoll_splice(input, inputOffset, output, outputOffset, count) }
    }
}
