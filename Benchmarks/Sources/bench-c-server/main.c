// bench-c-server: the performance ceiling for the echo benchmark.
//
// One io_uring per thread: a multishot accept on the listener, a multishot recv per
// connection that picks buffers from a provided buffer ring, and one send in flight per
// connection that gathers every buffer queued for it. A buffer goes back to the ring only
// when all of its bytes have been sent, so short sends just resume from the right offset.
//
// CLI: bench-c-server [--host 127.0.0.1] [--port P] [--threads N] [--bufs N] [--buf-size B]
// Prints "PORT <n>" as the first line on stdout (port 0 = the kernel picks), then serves
// until killed. --threads N > 1 runs N rings with one SO_REUSEPORT listener each.
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <signal.h>
#include <fcntl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <liburing.h>

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };
#define UD(op, fd) (((uint64_t)(op) << 32) | (uint32_t)(fd))
#define UD_OP(ud) ((int)((ud) >> 32))
#define UD_FD(ud) ((int)(uint32_t)(ud))
#define BGID 0
#define MAX_IOV 16
#define NO_BUF 0xFFFFu

static const char *g_host = "127.0.0.1";
static int g_port = 0;
static int g_threads = 1;
static unsigned g_nbufs = 1024;        // power of two, at most 32768
static unsigned g_buf_size = 16384;
static int g_max_fds;

// Per connection, indexed by fd. The fd is closed only after its last CQE, so a CQE can
// never refer to a reused fd.
struct conn {
    uint16_t head, tail;       // FIFO of buffer ids waiting to be echoed (NO_BUF = empty)
    uint32_t head_off;         // bytes of the head buffer already sent
    uint8_t open, recv_armed, send_inflight, eof, dead, starved;
    struct msghdr msg;         // owned by the in-flight sendmsg
    struct iovec iov[MAX_IOV];
};

struct worker {
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    uint8_t *bufs;
    uint16_t *buf_next;        // intrusive per-connection FIFO links, indexed by buffer id
    uint32_t *buf_len;
    unsigned br_pending;       // buffers added to the ring since the last advance
    unsigned bufs_out;         // buffers handed to us by the kernel and not yet returned
    struct conn *conns;
    int *starved;              // FIFO of fds whose multishot recv ended with -ENOBUFS
    int starved_head, nstarved;
    int lfd;
};

static void die(const char *what) {
    fprintf(stderr, "bench-c-server: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void die_res(const char *what, int res) {
    fprintf(stderr, "bench-c-server: %s: %s\n", what, strerror(-res));
    exit(1);
}

static struct io_uring_sqe *get_sqe(struct worker *w) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    while (!sqe) {
        int r = io_uring_submit(&w->ring);
        if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR) die_res("io_uring_submit", r);
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe;
}

static void arm_accept(struct worker *w) {
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_multishot_accept(sqe, w->lfd, NULL, NULL, 0);
    io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, w->lfd));
}

static void arm_recv(struct worker *w, int fd) {
    struct io_uring_sqe *sqe = get_sqe(w);
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, UD(OP_RECV, fd));
    w->conns[fd].recv_armed = 1;
}

static void return_buf(struct worker *w, uint16_t bid) {
    io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * g_buf_size, g_buf_size, bid,
                          io_uring_buf_ring_mask(g_nbufs), w->br_pending++);
    w->bufs_out--;
}

static void start_send(struct worker *w, int fd) {
    struct conn *c = &w->conns[fd];
    struct io_uring_sqe *sqe = get_sqe(w);
    uint16_t bid = c->head;
    if (w->buf_next[bid] == NO_BUF) {
        io_uring_prep_send(sqe, fd, w->bufs + (size_t)bid * g_buf_size + c->head_off,
                           w->buf_len[bid] - c->head_off, MSG_NOSIGNAL);
    } else {
        int n = 0;
        uint32_t off = c->head_off;
        for (; bid != NO_BUF && n < MAX_IOV; bid = w->buf_next[bid], n++) {
            c->iov[n].iov_base = w->bufs + (size_t)bid * g_buf_size + off;
            c->iov[n].iov_len = w->buf_len[bid] - off;
            off = 0;
        }
        memset(&c->msg, 0, sizeof c->msg);
        c->msg.msg_iov = c->iov;
        c->msg.msg_iovlen = (size_t)n;
        io_uring_prep_sendmsg(sqe, fd, &c->msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, UD(OP_SEND, fd));
    c->send_inflight = 1;
}

static void drop_queue(struct worker *w, struct conn *c) {
    while (c->head != NO_BUF) {
        uint16_t bid = c->head;
        c->head = w->buf_next[bid];
        return_buf(w, bid);
    }
    c->tail = NO_BUF;
    c->head_off = 0;
}

static void maybe_close(struct worker *w, int fd) {
    struct conn *c = &w->conns[fd];
    if (c->recv_armed || c->send_inflight || c->starved) return;
    if (c->head != NO_BUF && !c->dead) return;
    drop_queue(w, c);
    close(fd);
    c->open = 0;
}

static void kill_conn(struct worker *w, int fd) {
    struct conn *c = &w->conns[fd];
    if (c->dead) return;
    c->dead = 1;
    if (!c->send_inflight) drop_queue(w, c);  // else the kernel still reads them: on_send drops
    if (c->recv_armed) shutdown(fd, SHUT_RDWR);  // ends the multishot recv
}

static void on_accept(struct worker *w, struct io_uring_cqe *cqe) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(w);
    int fd = cqe->res;
    if (fd < 0) {
        if (fd != -ECANCELED) fprintf(stderr, "bench-c-server: accept: %s\n", strerror(-fd));
        return;
    }
    if (fd >= g_max_fds) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = &w->conns[fd];
    memset(c, 0, offsetof(struct conn, msg));
    c->head = c->tail = NO_BUF;
    c->open = 1;
    arm_recv(w, fd);
}

static void on_recv(struct worker *w, struct io_uring_cqe *cqe, int fd) {
    struct conn *c = &w->conns[fd];
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (cqe->res > 0) {
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        w->bufs_out++;
        if (c->dead) {
            return_buf(w, bid);
        } else {
            w->buf_len[bid] = (uint32_t)cqe->res;
            w->buf_next[bid] = NO_BUF;
            if (c->tail == NO_BUF) c->head = bid; else w->buf_next[c->tail] = bid;
            c->tail = bid;
            if (!c->send_inflight) start_send(w, fd);
        }
        if (!more) {
            c->recv_armed = 0;
            if (!c->dead) arm_recv(w, fd); else maybe_close(w, fd);
        }
        return;
    }
    if (more) return;  // an error CQE always ends the multishot; be defensive anyway
    c->recv_armed = 0;
    if (cqe->res == -ENOBUFS && !c->dead) {
        c->starved = 1;
        w->starved[(w->starved_head + w->nstarved++) % g_max_fds] = fd;
        return;
    }
    if (cqe->res == 0) c->eof = 1; else kill_conn(w, fd);
    maybe_close(w, fd);
}

static void on_send(struct worker *w, struct io_uring_cqe *cqe, int fd) {
    struct conn *c = &w->conns[fd];
    c->send_inflight = 0;
    if (cqe->res <= 0 || c->dead) {
        kill_conn(w, fd);
        drop_queue(w, c);
        maybe_close(w, fd);
        return;
    }
    uint32_t sent = (uint32_t)cqe->res;
    while (sent > 0 && c->head != NO_BUF) {
        uint16_t bid = c->head;
        uint32_t left = w->buf_len[bid] - c->head_off;
        if (sent < left) {
            c->head_off += sent;
            break;
        }
        sent -= left;
        c->head_off = 0;
        c->head = w->buf_next[bid];
        if (c->head == NO_BUF) c->tail = NO_BUF;
        return_buf(w, bid);
    }
    if (c->head != NO_BUF && !c->dead) start_send(w, fd);
    else if (c->eof || c->dead) maybe_close(w, fd);
}

static void rearm_starved(struct worker *w) {
    unsigned avail = g_nbufs - w->bufs_out;
    while (w->nstarved > 0 && avail > 0) {
        int fd = w->starved[w->starved_head];
        w->starved_head = (w->starved_head + 1) % g_max_fds;
        w->nstarved--;
        struct conn *c = &w->conns[fd];
        c->starved = 0;
        if (c->dead) {
            maybe_close(w, fd);
            continue;
        }
        arm_recv(w, fd);
        avail--;
    }
}

static int make_listener(int port, int reuseport) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        die("SO_REUSEPORT");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, g_host, &a.sin_addr) != 1) {
        fprintf(stderr, "bench-c-server: bad --host %s\n", g_host);
        exit(2);
    }
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(fd, 4096) < 0) die("listen");
    return fd;
}

static void setup_ring(struct worker *w) {
    // Fastest setup first; older kernels refuse the newer flags.
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int r = -EINVAL;
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = flag_sets[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
        p.cq_entries = 65536;
        r = io_uring_queue_init_params(4096, &w->ring, &p);
        if (r == 0) break;
    }
    if (r < 0) die_res("io_uring_queue_init_params", r);

    size_t ring_bytes = (size_t)g_nbufs * sizeof(struct io_uring_buf);
    w->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w->br == MAP_FAILED) die("mmap buf ring");
    w->bufs = mmap(NULL, (size_t)g_nbufs * g_buf_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w->bufs == MAP_FAILED) die("mmap buffers");
    io_uring_buf_ring_init(w->br);
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)w->br;
    reg.ring_entries = g_nbufs;
    reg.bgid = BGID;
    r = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (r < 0) die_res("io_uring_register_buf_ring", r);
    w->bufs_out = g_nbufs;
    for (unsigned i = 0; i < g_nbufs; i++) return_buf(w, (uint16_t)i);
    io_uring_buf_ring_advance(w->br, w->br_pending);
    w->br_pending = 0;

    w->buf_next = calloc(g_nbufs, sizeof *w->buf_next);
    w->buf_len = calloc(g_nbufs, sizeof *w->buf_len);
    w->conns = calloc((size_t)g_max_fds, sizeof *w->conns);
    w->starved = calloc((size_t)g_max_fds, sizeof *w->starved);
    if (!w->buf_next || !w->buf_len || !w->conns || !w->starved) die("calloc");
}

static void *run_worker(void *arg) {
    struct worker *w = arg;
    setup_ring(w);
    arm_accept(w);
    for (;;) {
        int r = io_uring_submit_and_wait(&w->ring, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME)
            die_res("io_uring_submit_and_wait", r);
        unsigned head, n = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&w->ring, head, cqe) {
            uint64_t ud = cqe->user_data;
            switch (UD_OP(ud)) {
            case OP_ACCEPT: on_accept(w, cqe); break;
            case OP_RECV: on_recv(w, cqe, UD_FD(ud)); break;
            case OP_SEND: on_send(w, cqe, UD_FD(ud)); break;
            default: break;
            }
            n++;
        }
        io_uring_cq_advance(&w->ring, n);
        if (w->br_pending) {
            io_uring_buf_ring_advance(w->br, w->br_pending);
            w->br_pending = 0;
        }
        if (w->nstarved) rearm_starved(w);
    }
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: bench-c-server [--host ADDR] [--port P] [--threads N] "
                    "[--bufs N (power of 2)] [--buf-size BYTES]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--host")) g_host = v;
        else if (!strcmp(a, "--port")) g_port = atoi(v);
        else if (!strcmp(a, "--threads")) g_threads = atoi(v);
        else if (!strcmp(a, "--bufs")) g_nbufs = (unsigned)atoi(v);
        else if (!strcmp(a, "--buf-size")) g_buf_size = (unsigned)atoi(v);
        else usage();
    }
    if (g_threads < 1 || g_nbufs == 0 || g_nbufs > 32768 || (g_nbufs & (g_nbufs - 1)) ||
        g_buf_size == 0 || g_port < 0 || g_port > 65535)
        usage();
    signal(SIGPIPE, SIG_IGN);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        g_max_fds = rl.rlim_cur > 1048576 ? 1048576 : (int)rl.rlim_cur;
    } else {
        g_max_fds = 1024;
    }

    struct worker *ws = calloc((size_t)g_threads, sizeof *ws);
    if (!ws) die("calloc");
    ws[0].lfd = make_listener(g_port, g_threads > 1);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(ws[0].lfd, (struct sockaddr *)&a, &len) < 0) die("getsockname");
    int port = ntohs(a.sin_port);
    for (int t = 1; t < g_threads; t++) ws[t].lfd = make_listener(port, 1);

    printf("PORT %d\n", port);
    fflush(stdout);

    for (int t = 1; t < g_threads; t++) {
        pthread_t th;
        if (pthread_create(&th, NULL, run_worker, &ws[t]) != 0) die("pthread_create");
    }
    run_worker(&ws[0]);
    return 0;
}
