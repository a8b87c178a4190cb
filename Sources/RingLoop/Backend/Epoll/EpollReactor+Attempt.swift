import CEpoll
#if canImport(Glibc)
import Glibc
#endif

/// One non-blocking try of each socket and stream operation. Each one either
/// completes, or reports `wouldBlock` having consumed nothing, so it can be
/// retried on the next readiness edge.
extension EpollReactor {
    func attempt(_ op: PendingOperation) -> Attempt {
        while true {
            let outcome = attemptOnce(op)
            // EINTR: a signal interrupted the call before it did anything.
            if case .done(-EINTR, _) = outcome { continue }
            return outcome
        }
    }

    private func attemptOnce(_ op: PendingOperation) -> Attempt {
        switch op.operation {
        case let .acceptMultishot(fd):
            if !op.started {
                op.started = true
                if let failure = EpollReactor.makeNonBlocking(fd) { return .done(failure) }
            }
            let accepted = cepoll_accept(fd)
            if accepted >= 0 { return .more(accepted) }
            return EpollReactor.failure(errno)

        case let .connect(fd, address, length):
            if !op.started {
                op.started = true
                if let failure = EpollReactor.makeNonBlocking(fd) { return .done(failure) }
                if Glibc.connect(fd, address.assumingMemoryBound(to: sockaddr.self), length) == 0 { return .done(0) }
                let code = errno
                // EINTR: the connection goes on in the background, as with EINPROGRESS.
                if code != EINPROGRESS && code != EINTR { return .done(-code) }
                return .wouldBlock
            }
            guard EpollReactor.isReady(fd, events: POLLOUT) else { return .wouldBlock }
            var error: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 { return .done(-errno) }
            return .done(-error)

        case let .receive(fd, pool, multishot):
            guard let id = pool.take() else {
                // Like the ring: ENOBUFS only once there is something to
                // receive (data or EOF); a quiet socket just waits.
                var byte: UInt8 = 0
                let peeked = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
                if peeked >= 0 { return .done(-ENOBUFS) }
                return EpollReactor.failure(errno)
            }
            let n = recv(fd, pool.address(id), pool.bufferSize, Int32(MSG_DONTWAIT))
            if n > 0 { return multishot ? .more(Int32(n), bufferID: id) : .done(Int32(n), bufferID: id) }
            let code = errno
            pool.recycle(id)
            if n == 0 { return .done(0) }
            return EpollReactor.failure(code)

        case let .send(fd, buffer, count):
            let n = Glibc.send(fd, buffer, count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            return n >= 0 ? .done(Int32(n)) : EpollReactor.failure(errno)

        case let .sendMessage(fd, message):
            let n = sendmsg(fd, message, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            return n >= 0 ? .done(Int32(n)) : EpollReactor.failure(errno)

        case let .receiveMessage(fd, message):
            let n = recvmsg(fd, message, Int32(MSG_DONTWAIT))
            return n >= 0 ? .done(Int32(n)) : EpollReactor.failure(errno)

        case let .streamRead(fd, buffer, count):
            if let blocked = checkStream(op, fd: fd, events: POLLIN) { return blocked }
            let n = Glibc.read(fd, buffer, count)
            return n >= 0 ? .done(Int32(n)) : EpollReactor.failure(errno)

        case let .streamWrite(fd, buffer, count):
            if let blocked = checkStream(op, fd: fd, events: POLLOUT) { return blocked }
            if op.fdIsBlocking {
                var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: buffer), iov_len: count)
                return blockingStreamWrite(op, fd: fd, iovecs: &vector, count: 1)
            }
            let n = Glibc.write(fd, buffer, count)
            return n >= 0 ? .done(Int32(n)) : EpollReactor.failure(errno)

        case let .streamReadv(fd, iovecs, count):
            if let blocked = checkStream(op, fd: fd, events: POLLIN) { return blocked }
            let n = readv(fd, iovecs, count)
            return n >= 0 ? .done(Int32(n)) : EpollReactor.failure(errno)

        case let .streamWritev(fd, iovecs, count):
            if let blocked = checkStream(op, fd: fd, events: POLLOUT) { return blocked }
            if op.fdIsBlocking { return blockingStreamWrite(op, fd: fd, iovecs: iovecs, count: count) }
            let n = writev(fd, iovecs, count)
            return n >= 0 ? .done(Int32(n)) : EpollReactor.failure(errno)

        case let .poll(fd, events, multishot):
            var probe = pollfd(fd: fd, events: Int16(truncatingIfNeeded: events), revents: 0)
            let rc = Glibc.poll(&probe, 1, 0)
            if rc < 0 { return .done(-errno) }
            let seen = UInt32(UInt16(bitPattern: probe.revents))
            guard seen != 0 else { return .wouldBlock }
            return multishot ? .more(Int32(seen)) : .done(Int32(seen))

        case .nop, .immediate, .sendNow, .shutdown, .close, .blocking:
            return .done(-EINVAL)
        }
    }

    /// For a stream fd in blocking mode, whether it is ready (nil) or the
    /// operation must wait; reads the fd's mode on the first attempt.
    private func checkStream(_ op: PendingOperation, fd: Int32, events: Int32) -> Attempt? {
        if !op.started {
            op.started = true
            let flags = fcntl(fd, F_GETFL)
            if flags < 0 { return .done(-errno) }
            op.fdIsBlocking = flags & O_NONBLOCK == 0
        }
        guard op.fdIsBlocking else { return nil }
        return EpollReactor.isReady(fd, events: events) ? nil : .wouldBlock
    }

    /// A write to a stream fd in blocking mode (a pipe the caller made),
    /// which must not block the loop: `pwritev2(RWF_NOWAIT)` writes what fits
    /// now. Where the file does not support that, the write is cut to
    /// PIPE_BUF bytes, which always fit once POLLOUT is reported (the writer
    /// resubmits the rest).
    private func blockingStreamWrite(_ op: PendingOperation, fd: Int32, iovecs: UnsafePointer<iovec>, count: Int32) -> Attempt {
        if !op.noWaitUnsupported {
            let n = cepoll_writev_nowait(fd, UnsafeRawPointer(iovecs), count)
            if n >= 0 { return .done(Int32(n)) }
            let code = errno
            if code != EOPNOTSUPP { return EpollReactor.failure(code) }
            op.noWaitUnsupported = true
        }
        let first = iovecs.pointee
        let n = Glibc.write(fd, first.iov_base, min(first.iov_len, Int(PIPE_BUF)))
        return n >= 0 ? .done(Int32(n)) : EpollReactor.failure(errno)
    }

    static func failure(_ code: Int32) -> Attempt {
        code == EAGAIN || code == EWOULDBLOCK ? .wouldBlock : .done(-code)
    }

    /// Whether `fd` reports any of `events` (or an error or hang-up) now.
    static func isReady(_ fd: Int32, events: Int32) -> Bool {
        var probe = pollfd(fd: fd, events: Int16(events), revents: 0)
        return Glibc.poll(&probe, 1, 0) > 0
    }

    /// Puts `fd` in non-blocking mode; returns a negative errno on failure.
    static func makeNonBlocking(_ fd: Int32) -> Int32? {
        let flags = fcntl(fd, F_GETFL)
        if flags < 0 { return -errno }
        if flags & O_NONBLOCK != 0 { return nil }
        return fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? -errno : nil
    }
}
