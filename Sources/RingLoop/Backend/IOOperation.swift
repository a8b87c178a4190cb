#if canImport(Glibc)
import Glibc
#endif

/// One I/O operation, described as a value: what the I/O layer asks a backend
/// to do. The backend translates it (io_uring: into an SQE, in `Ring/`).
///
/// Payloads are descriptors, integers and pointers only, so describing and
/// submitting an operation allocates nothing. Every pointer must stay valid
/// until the operation's final completion: the `CompletionHandler` it was
/// submitted with owns that memory. Offsets of `-1` mean "the descriptor's
/// current position" (required for pipes and sockets).
package enum IOOperation {
    /// Does nothing; completes with 0.
    case nop
    /// Multishot accept: one completion per accepted connection (its fd, made
    /// close-on-exec), `hasMore` while the operation stays armed. Peer
    /// addresses are not collected.
    case acceptMultishot(fd: Int32)
    case connect(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t)
    /// A receive into a buffer the backend picks from provided-buffer group
    /// `bufferGroup` (its id comes back as `Completion.bufferID`). With
    /// `multishot` the operation stays armed and posts one completion per
    /// buffer filled, until an error, EOF, an empty buffer group (`ENOBUFS`)
    /// or a cancel ends it.
    case receive(fd: Int32, bufferGroup: UInt16, multishot: Bool)
    /// `send(2)` without `SIGPIPE`.
    case send(fd: Int32, buffer: UnsafeRawPointer, count: Int)
    /// `send(2)` without `SIGPIPE` that never waits for room: it completes
    /// at once with what the socket took (possibly fewer than `count`), or
    /// `EAGAIN` if it took nothing.
    case sendNow(fd: Int32, buffer: UnsafeRawPointer, count: Int)
    /// `sendmsg(2)` without `SIGPIPE` (vectored sends, datagrams with an address).
    case sendMessage(fd: Int32, message: UnsafePointer<msghdr>)
    case receiveMessage(fd: Int32, message: UnsafeMutablePointer<msghdr>)
    /// `shutdown(2)`; `how` is `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    case shutdown(fd: Int32, how: Int32)
    case openAt(directory: Int32, path: UnsafePointer<CChar>, flags: Int32, mode: UInt32)
    case read(fd: Int32, buffer: UnsafeMutableRawPointer, count: UInt32, offset: Int64)
    case write(fd: Int32, buffer: UnsafeRawPointer, count: UInt32, offset: Int64)
    case readv(fd: Int32, iovecs: UnsafePointer<iovec>, count: UInt32, offset: Int64)
    case writev(fd: Int32, iovecs: UnsafePointer<iovec>, count: UInt32, offset: Int64)
    /// A read into a registered buffer (`bufferIndex` in the backend's table).
    case readFixed(fd: Int32, buffer: UnsafeMutableRawPointer, count: UInt32, offset: Int64, bufferIndex: UInt16)
    /// A write from a registered buffer (`bufferIndex` in the backend's table).
    case writeFixed(fd: Int32, buffer: UnsafeRawPointer, count: UInt32, offset: Int64, bufferIndex: UInt16)
    /// fsync(2), or fdatasync(2) when `dataOnly`.
    case fsync(fd: Int32, dataOnly: Bool)
    case statx(directory: Int32, path: UnsafePointer<CChar>, flags: Int32, mask: UInt32, buffer: UnsafeMutablePointer<StatxBuffer>)
    case fallocate(fd: Int32, mode: Int32, offset: Int64, length: Int64)
    /// ftruncate(2); check `supports` first (io_uring: Linux 6.9).
    case ftruncate(fd: Int32, length: Int64)
    /// close(2) of a plain descriptor.
    case close(fd: Int32)
    case unlinkAt(directory: Int32, path: UnsafePointer<CChar>, flags: Int32)
    case renameAt(fromDirectory: Int32, from: UnsafePointer<CChar>, toDirectory: Int32, to: UnsafePointer<CChar>, flags: UInt32)
    case mkdirAt(directory: Int32, path: UnsafePointer<CChar>, mode: UInt32)
    /// splice(2) between `input` and `output`, one of which is a pipe.
    case splice(input: Int32, inputOffset: Int64, output: Int32, outputOffset: Int64, count: UInt32)
    /// Waits for `events` (`POLLIN`…) on `fd` (pidfd, signalfd readiness);
    /// with `multishot`, completes (with `hasMore`) each time until cancelled.
    case poll(fd: Int32, events: UInt32, multishot: Bool)
    /// `waitid(P_PID, pid, info, WEXITED)`: waits for the child `pid` to exit
    /// and reaps it, filling `info`. Check `supports` first (io_uring: Linux 6.7).
    case waitid(pid: Int32, info: UnsafeMutablePointer<WaitInfo>)

    /// How an operation is submitted.
    package struct Options: OptionSet, Sendable {
        package let rawValue: UInt8
        package init(rawValue: UInt8) { self.rawValue = rawValue }
        /// `fd` is a slot in the backend's registered-file table.
        package static let fixedFile = Options(rawValue: 1 << 0)
        /// The next operation submitted starts only after this one succeeds.
        package static let linkNext = Options(rawValue: 1 << 1)
        /// Skip the inline non-blocking attempt (io_uring: straight to io-wq).
        package static let forceAsync = Options(rawValue: 1 << 2)
    }
}
