#ifndef RINGLOOP_CLIBURING_SHIM_H
#define RINGLOOP_CLIBURING_SHIM_H

// Order matters: liburing.h defines _XOPEN_SOURCE, which changes how glibc
// declares fd_set and friends. Including the system headers first keeps the
// debug build's module map consistent with SwiftGlibc ("__fds_bits" error).
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <signal.h>
#include <fcntl.h>
#include <errno.h>
#include <time.h>
#include <linux/time_types.h>
// swift-system's CSystem module includes the kernel's <linux/io_uring.h>;
// liburing ships its own copy under the same include guard. Including the
// kernel's first makes both modules see one definition of io_uring_sqe
// (otherwise clang rejects the two differing definitions).
#include <linux/io_uring.h>
#include <liburing.h>

// One completion copied out of the CQ ring, so handlers may run (and prepare
// new SQEs) after the ring slots have been handed back to the kernel.
typedef struct ringloop_completion {
    unsigned long long user_data;
    int res;
    unsigned int flags;
} ringloop_completion;

// Copies up to `max` ready completions into `out` and advances the CQ head.
// Returns how many were copied. Never blocks.
static inline unsigned ringloop_reap(struct io_uring *ring,
                                     ringloop_completion *out,
                                     unsigned max) {
    struct io_uring_cqe *cqe;
    unsigned head;
    unsigned n = 0;
    io_uring_for_each_cqe(ring, head, cqe) {
        if (n == max) break;
        out[n].user_data = cqe->user_data;
        out[n].res = cqe->res;
        out[n].flags = cqe->flags;
        n++;
    }
    if (n) io_uring_cq_advance(ring, n);
    return n;
}

// True when the kernel holds completions that did not fit in the CQ ring.
static inline int ringloop_cq_overflowed(const struct io_uring *ring) {
    return (IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_CQ_OVERFLOW) != 0;
}

static inline unsigned ringloop_sq_space_left(struct io_uring *ring) {
    return io_uring_sq_space_left(ring);
}

// Makes the operation pick its buffer from provided-buffer group `group`
// (the field sits in a packed union that Swift does not import).
static inline void ringloop_sqe_select_buffer(struct io_uring_sqe *sqe,
                                              unsigned short group) {
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = group;
}

static inline int ringloop_errno(void) { return errno; }

// The kernel's struct statx (a stable ABI, 256 bytes). Glibc declares it only
// under _GNU_SOURCE, and <linux/stat.h>'s copy breaks release builds: once
// Swift code reads its timestamps' tv_sec/tv_nsec fields, the @inlinable
// `Deadline.now()` resolves `timespec` through this module and fails to
// compile. Hence this copy, with other field names.
struct ringloop_statx_timestamp {
    int64_t seconds;
    uint32_t nanoseconds;
    int32_t reserved;
};
struct ringloop_statx {
    uint32_t stx_mask;
    uint32_t stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink;
    uint32_t stx_uid;
    uint32_t stx_gid;
    uint16_t stx_mode;
    uint16_t spare0;
    uint64_t stx_ino;
    uint64_t stx_size;
    uint64_t stx_blocks;
    uint64_t stx_attributes_mask;
    struct ringloop_statx_timestamp stx_atime;
    struct ringloop_statx_timestamp stx_btime;
    struct ringloop_statx_timestamp stx_ctime;
    struct ringloop_statx_timestamp stx_mtime;
    uint32_t stx_rdev_major;
    uint32_t stx_rdev_minor;
    uint32_t stx_dev_major;
    uint32_t stx_dev_minor;
    uint64_t spare[14];
};
_Static_assert(sizeof(struct ringloop_statx) == 256, "struct statx is 256 bytes");
static const unsigned ringloop_STATX_BASIC_STATS = 0x7ff;
static const unsigned ringloop_STATX_BTIME = 0x800;

static inline void ringloop_prep_statx(struct io_uring_sqe *sqe, int dfd, const char *path,
                                       int flags, unsigned mask, struct ringloop_statx *buffer) {
    io_uring_prep_statx(sqe, dfd, path, flags, mask, (struct statx *)buffer);
}

// File constants glibc only names under _GNU_SOURCE. O_DIRECT differs between
// architectures, so it comes from glibc's own spelling.
static const int ringloop_O_DIRECT = __O_DIRECT;
static const int ringloop_AT_EMPTY_PATH = 0x1000;
static const int ringloop_RENAME_NOREPLACE = 1;
// From <linux/falloc.h> (the same on every architecture).
static const int ringloop_FALLOC_FL_KEEP_SIZE = 0x01;
static const int ringloop_FALLOC_FL_PUNCH_HOLE = 0x02;

// Names the calling thread (15 bytes at most), as shown by top -H and gdb.
static inline void ringloop_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

// MARK: Processes and signals (Process/ reaches these through Ring/ProcessCalls.swift)

#include <spawn.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

// glibc 2.29+/2.34+ names; SwiftGlibc's module hides them, so declare them here.
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *, const char *);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *, int);

static inline int ringloop_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}
static inline int ringloop_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

extern int pipe2(int fds[2], int flags);
static inline int ringloop_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

// Raw system calls (returns -1 and sets errno on failure).
static inline int ringloop_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}
static inline int ringloop_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}
// signalfd4 with the kernel's 8-byte signal set: a new close-on-exec,
// non-blocking descriptor (fd -1), or a new mask for `fd`.
static inline int ringloop_signalfd(int fd, const sigset_t *mask) {
    return (int)syscall(SYS_signalfd4, fd, mask, 8, O_CLOEXEC | O_NONBLOCK);
}
static inline int ringloop_tgkill(pid_t tid, int sig) {
    return (int)syscall(SYS_tgkill, getpid(), tid, sig);
}
static inline pid_t ringloop_gettid(void) { return (pid_t)syscall(SYS_gettid); }

// IORING_OP_WAITID (Linux 6.7; liburing 2.3 has no helper and these headers
// no waitid_flags field): fd = id, len = idtype, addr2 = infop,
// file_index = options; everything else zero.
static const int ringloop_OP_WAITID = 50;
static inline void ringloop_prep_waitid(struct io_uring_sqe *sqe, idtype_t idtype, id_t id,
                                        siginfo_t *info, int options) {
    io_uring_prep_rw(ringloop_OP_WAITID, sqe, (int)id, NULL, (unsigned)idtype, 0);
    sqe->addr2 = (unsigned long long)(uintptr_t)info;
    sqe->file_index = (unsigned)options;
    sqe->rw_flags = 0;
}

// The exit status or signal from a waitid(2) siginfo (si_code CLD_EXITED: the
// exit code; CLD_KILLED/CLD_DUMPED: the signal).
static inline int ringloop_siginfo_code(const siginfo_t *info) { return info->si_code; }
static inline int ringloop_siginfo_status(const siginfo_t *info) { return info->si_status; }
static inline int ringloop_siginfo_pid(const siginfo_t *info) { return info->si_pid; }

#endif
