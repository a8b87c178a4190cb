#if canImport(Glibc)
import Glibc
#endif

/// An operation the epoll reactor emulates as a completion. Every pointer in
/// it belongs to the submitter, who keeps it valid until the operation's
/// final completion (as with an io_uring SQE).
enum ReactorOperation {
    /// Completes at once with 0.
    case nop
    /// Completes at once with `result` (an operation the backend refuses,
    /// e.g. a receive naming an unknown buffer group).
    case immediate(result: Int32)
    /// Accepts connections until cancelled or failed: one completion per
    /// accepted fd (non-blocking, close-on-exec) with `hasMore`.
    case acceptMultishot(fd: Int32)
    /// `connect(2)` on a socket the reactor makes non-blocking; the result
    /// is 0 or the socket's `SO_ERROR`.
    case connect(fd: Int32, address: UnsafeRawPointer, length: socklen_t)
    /// A receive into a buffer lent by `pool` once the socket is readable
    /// (`ENOBUFS` when none is free). With `multishot`, one completion per
    /// buffer filled until EOF, an error, `ENOBUFS` or a cancel.
    case receive(fd: Int32, pool: ProvidedBufferPool, multishot: Bool)
    /// `send(2)` without `SIGPIPE`; may be short.
    case send(fd: Int32, buffer: UnsafeRawPointer, count: Int)
    /// `send(2)` without `SIGPIPE`, tried once when the reactor starts it:
    /// never waits (`EAGAIN` if the socket takes nothing).
    case sendNow(fd: Int32, buffer: UnsafeRawPointer, count: Int)
    /// `sendmsg(2)` without `SIGPIPE`.
    case sendMessage(fd: Int32, message: UnsafePointer<msghdr>)
    /// `recvmsg(2)`.
    case receiveMessage(fd: Int32, message: UnsafeMutablePointer<msghdr>)
    /// `read(2)` on a stream (pipe, FIFO, tty, socket, eventfd) at its position.
    case streamRead(fd: Int32, buffer: UnsafeMutableRawPointer, count: Int)
    /// `write(2)` on a stream at its position; may be short.
    case streamWrite(fd: Int32, buffer: UnsafeRawPointer, count: Int)
    /// `readv(2)` on a stream at its position.
    case streamReadv(fd: Int32, iovecs: UnsafePointer<iovec>, count: Int32)
    /// `writev(2)` on a stream at its position; may be short.
    case streamWritev(fd: Int32, iovecs: UnsafePointer<iovec>, count: Int32)
    /// Waits until `fd` reports one of `events` (`POLLIN`…); the result is the
    /// events seen. With `multishot`, one completion per readiness edge until
    /// cancelled.
    case poll(fd: Int32, events: UInt32, multishot: Bool)
    /// `shutdown(2)` (never waits).
    case shutdown(fd: Int32, how: Int32)
    /// `close(2)`; operations still waiting on `fd` are cancelled first.
    case close(fd: Int32)
    /// A call that may block (file I/O, path operations): runs on the
    /// reactor's worker threads. `fd` (or -1) lets cancel-all-on-fd find it.
    case blocking(fd: Int32, call: BlockingCall)

    /// The descriptor whose readiness the operation waits for, if it waits.
    var readinessFD: Int32? {
        switch self {
        case let .acceptMultishot(fd), let .connect(fd, _, _), let .receive(fd, _, _),
             let .send(fd, _, _), let .sendMessage(fd, _), let .receiveMessage(fd, _),
             let .streamRead(fd, _, _), let .streamWrite(fd, _, _),
             let .streamReadv(fd, _, _), let .streamWritev(fd, _, _), let .poll(fd, _, _):
            return fd
        case .nop, .immediate, .sendNow, .shutdown, .close, .blocking:
            return nil
        }
    }

    /// The descriptor the operation works on (-1: none).
    var fd: Int32 {
        switch self {
        case .nop, .immediate: return -1
        case let .shutdown(fd, _), let .close(fd), let .sendNow(fd, _, _): return fd
        case let .blocking(fd, _): return fd
        default: return readinessFD ?? -1
        }
    }

    /// Which readiness the operation waits for; operations on one fd and one
    /// side run in submission order.
    var side: ReadinessSide {
        switch self {
        case .connect, .send, .sendMessage, .streamWrite, .streamWritev: return .write
        case let .poll(_, events, _): return events & UInt32(POLLOUT) != 0 && events & UInt32(POLLIN) == 0 ? .write : .read
        default: return .read
        }
    }
}

/// The two queues of waiting operations an fd has.
enum ReadinessSide {
    case read, write
}

/// A system call to run on a worker thread; returns its result or a negative
/// errno, as an io_uring CQE would.
// Safe to send: the pointers the call captures belong to the operation's
// submitter, which keeps them alive and untouched until the final completion;
// that completion is posted only after the call has returned.
struct BlockingCall: @unchecked Sendable {
    let run: () -> Int32
    init(_ run: @escaping () -> Int32) { self.run = run }
}
