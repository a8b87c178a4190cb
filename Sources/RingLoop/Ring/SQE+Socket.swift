import CLiburing
#if canImport(Glibc)
import Glibc
#endif

/// Socket operations. Every pointer handed in here must stay valid until the
/// operation's final CQE: the caller's `CompletionHandler` owns it.
extension SQE {
    /// Multishot accept: one CQE per accepted connection (its fd as `res`),
    /// with `IORING_CQE_F_MORE` while the operation stays armed. Accepted fds
    /// are created close-on-exec; peer addresses are not collected (several
    /// completions would race for one buffer).
    func prepareAcceptMultishot(fd: Int32) {
        io_uring_prep_multishot_accept(raw, fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
    }

    func prepareConnect(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t) {
        io_uring_prep_connect(raw, fd, address, length)
    }

    /// A receive into a buffer the kernel picks from provided-buffer group
    /// `group` (its id comes back in the CQE flags). With `multishot` the
    /// operation stays armed and posts one CQE per buffer filled, until an
    /// error, EOF, an empty buffer ring (`-ENOBUFS`) or a cancel ends it.
    func prepareRecv(fd: Int32, bufferGroup group: UInt16, multishot: Bool) {
        if multishot {
            io_uring_prep_recv_multishot(raw, fd, nil, 0, 0)
        } else {
            io_uring_prep_recv(raw, fd, nil, 0, 0)
        }
        ringloop_sqe_select_buffer(raw, group)
    }

    /// `send(2)` without `SIGPIPE`.
    func prepareSend(fd: Int32, from buffer: UnsafeRawPointer, count: Int) {
        io_uring_prep_send(raw, fd, buffer, count, Int32(MSG_NOSIGNAL))
    }

    /// `sendmsg(2)` without `SIGPIPE` (vectored sends, datagrams with an address).
    func prepareSendMessage(fd: Int32, message: UnsafePointer<msghdr>) {
        io_uring_prep_sendmsg(raw, fd, message, UInt32(MSG_NOSIGNAL))
    }

    func prepareReceiveMessage(fd: Int32, message: UnsafeMutablePointer<msghdr>) {
        io_uring_prep_recvmsg(raw, fd, message, 0)
    }

    /// `shutdown(2)`; `how` is `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    func prepareShutdown(fd: Int32, how: Int32) {
        io_uring_prep_shutdown(raw, fd, how)
    }
}
