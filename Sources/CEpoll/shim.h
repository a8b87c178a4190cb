#ifndef RINGLOOP_CEPOLL_SHIM_H
#define RINGLOOP_CEPOLL_SHIM_H

// The Linux calls the epoll backend needs that Swift's Glibc module does not
// import (epoll, eventfd, and the calls glibc declares only under
// _GNU_SOURCE). No liburing here: the epoll backend must build and run where
// io_uring is absent. System headers come first and _GNU_SOURCE is never
// defined, so this module agrees with SwiftGlibc on every shared type; the
// GNU-only calls go through syscall(2) instead.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <errno.h>
#include <unistd.h>
#include <stdint.h>

// Deliberately not included: <sys/socket.h>, <sys/uio.h>, <poll.h>,
// <fcntl.h>, <time.h>. Swift's Glibc module owns them; a second module including them
// makes release (whole-module) builds lose names such as SOCK_STREAM and
// MSG_NOSIGNAL in files that do not import this one. Pointers to their types
// are passed as void * instead.

// One readiness event, unpacked (struct epoll_event is packed on x86-64).
typedef struct cepoll_event {
    uint64_t data;
    uint32_t events;
} cepoll_event;

static const uint32_t cepoll_IN = EPOLLIN;
static const uint32_t cepoll_OUT = EPOLLOUT;
static const uint32_t cepoll_ERR = EPOLLERR;
static const uint32_t cepoll_HUP = EPOLLHUP;
static const uint32_t cepoll_RDHUP = EPOLLRDHUP;
static const uint32_t cepoll_PRI = EPOLLPRI;
static const uint32_t cepoll_ET = EPOLLET;
static const int cepoll_CTL_ADD = EPOLL_CTL_ADD;
static const int cepoll_CTL_MOD = EPOLL_CTL_MOD;
static const int cepoll_CTL_DEL = EPOLL_CTL_DEL;
static const int cepoll_CLOEXEC = EPOLL_CLOEXEC;
static const int cepoll_EFD_CLOEXEC = EFD_CLOEXEC;
static const int cepoll_EFD_NONBLOCK = EFD_NONBLOCK;

static inline int cepoll_errno(void) { return errno; }

static inline int cepoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int cepoll_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

static inline int cepoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event;
    event.events = events;
    event.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &event);
}

// Waits up to `timeout_ns` (-1: forever) and copies the events out
// unpacked. Returns how many, or -1 with errno set. Uses epoll_pwait2 (Linux
// 5.11) for a nanosecond timeout; where it is missing or a seccomp profile
// denies it (ENOSYS, EPERM), epoll_wait with the timeout rounded up to a
// millisecond (waking early would only spin until the deadline).
static int cepoll_no_pwait2 = 0;
static inline int cepoll_wait(int epfd, cepoll_event *out, int max, long long timeout_ns) {
    struct epoll_event events[256];
    if (max > 256) max = 256;
    int n = -1;
    if (!__atomic_load_n(&cepoll_no_pwait2, __ATOMIC_RELAXED) && timeout_ns > 0) {
        // The kernel's struct __kernel_timespec (not <time.h>: see above).
        struct { long long tv_sec; long long tv_nsec; } ts = { timeout_ns / 1000000000LL, timeout_ns % 1000000000LL };
        n = (int)syscall(SYS_epoll_pwait2, epfd, events, max, &ts, (void *)0, 8);
        if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
            __atomic_store_n(&cepoll_no_pwait2, 1, __ATOMIC_RELAXED);
        } else {
            goto copy;
        }
    }
    {
        int timeout_ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999LL) / 1000000LL);
        if (timeout_ns > 2000000000000000LL) timeout_ms = 2000000000;
        n = epoll_wait(epfd, events, max, timeout_ms);
    }
copy:
    for (int i = 0; i < n; i++) {
        out[i].data = events[i].data.u64;
        out[i].events = events[i].events;
    }
    return n;
}

// accept4(2): the new socket is non-blocking and close-on-exec
// (SOCK_NONBLOCK and SOCK_CLOEXEC are O_NONBLOCK and O_CLOEXEC on Linux).
static inline int cepoll_accept(int fd) {
    return (int)syscall(SYS_accept4, fd, (void *)0, (void *)0, 04000 | 02000000);
}

// statx(2) into a 256-byte struct statx owned by the caller.
static inline int cepoll_statx(int dfd, const char *path, int flags, unsigned mask, void *buffer) {
    return (int)syscall(SYS_statx, dfd, path, flags, mask, buffer);
}

static inline int cepoll_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return (int)syscall(SYS_fallocate, fd, mode, (off_t)offset, (off_t)length);
}

static inline int cepoll_renameat2(int olddfd, const char *oldpath, int newdfd, const char *newpath, unsigned flags) {
    return (int)syscall(SYS_renameat2, olddfd, oldpath, newdfd, newpath, flags);
}

// splice(2); an offset of -1 means "the descriptor's position".
static inline long cepoll_splice(int in, int64_t in_offset, int out, int64_t out_offset, size_t count) {
    int64_t in_off = in_offset, out_off = out_offset;
    return syscall(SYS_splice, in, in_offset < 0 ? (void *)0 : &in_off,
                   out, out_offset < 0 ? (void *)0 : &out_off, count, 0u);
}

// pwritev2(2) at the file position with RWF_NOWAIT: on a pipe in blocking
// mode, writes what fits now (or fails with EAGAIN) instead of blocking.
// EOPNOTSUPP where the file does not support it.
static inline long cepoll_writev_nowait(int fd, const void *iov, int count) {
    return syscall(SYS_pwritev2, fd, iov, count, -1L, 0L, 0x00000008 /* RWF_NOWAIT */);
}

#endif
