// bench-load: echo load generator. epoll, one event loop per thread, every echoed byte
// checked against what was sent.
//
// Closed loop (default): each connection keeps --depth messages in flight and sends the
// next as soon as one has come back whole. Latency = completion - send time.
// Open loop (--rate R): R messages/s in total are scheduled at fixed intervals, spread
// round-robin over the connections; latency is measured from the *scheduled* send time, so
// a stalled server is charged for every message it delayed (no coordinated omission).
//
// Message m of connection c is a 16-byte header (c, magic, m) followed by bytes of one
// shared random block starting at an offset derived from (c, m). A byte that differs,
// or a byte the server sends that was never sent to it, is reported and the process exits 3.
//
// Output: one JSON line on stdout. With --marks-fd FD, writes "start\n" and "end\n" to FD
// when the measured window opens and closes (the orchestrator samples the server then).
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HDR 16u
#define MAGIC 0x524C4248u        // "RLBH"
#define PATTERN_SPAN 4096u       // offsets into the shared block
#define MAX_MSGS_PER_WRITE 32
#define RBUF_SIZE (256u * 1024u)
#define MAX_EVENTS 256

// ---- latency histogram: log-linear, 128 sub-buckets per power of two (<0.8% error) ----
#define SUB_BITS 7
#define SUB (1u << SUB_BITS)
#define HIST_MAX_NS 10000000000ull    // 10 s; larger values are clamped and counted
#define HIST_BUCKETS (((64 - SUB_BITS) * SUB) + SUB)

struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total, clamped, sum_ns, max_ns;
};

static unsigned hist_index(uint64_t v) {
    unsigned msb = 63u - (unsigned)__builtin_clzll(v | 1);
    unsigned shift = msb > SUB_BITS ? msb - SUB_BITS : 0;
    return shift * SUB + (unsigned)(v >> shift);
}

static double hist_value(unsigned idx) {  // midpoint of the bucket, in ns
    unsigned shift = idx < 2 * SUB ? 0 : idx / SUB - 1;
    uint64_t lo = (uint64_t)(idx - shift * SUB) << shift;
    return (double)lo + (shift ? (double)(1ull << shift) / 2.0 : 0.0);
}

static void hist_record(struct hist *h, uint64_t ns) {
    if (ns > HIST_MAX_NS) {
        ns = HIST_MAX_NS;
        h->clamped++;
    }
    h->counts[hist_index(ns)]++;
    h->total++;
    h->sum_ns += ns;
    if (ns > h->max_ns) h->max_ns = ns;
}

static double hist_percentile_us(const struct hist *h, double p) {
    if (h->total == 0) return 0;
    uint64_t rank = (uint64_t)ceil(p * (double)h->total);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) return hist_value(i) / 1000.0;
    }
    return (double)h->max_ns / 1000.0;
}

// ---- configuration ----
static const char *g_host = "127.0.0.1";
static int g_port = -1;
static int g_conns = 1;
static uint32_t g_size = 64;
static int g_depth = 1;
static double g_duration = 5, g_warmup = 1;
static int g_threads = 1;
static double g_rate = 0;           // 0 = closed loop
static int g_marks_fd = -1;
static uint8_t *g_pattern;          // g_size + PATTERN_SPAN random bytes, read-only once built
static uint64_t g_t_start, g_t_end; // measured window, CLOCK_MONOTONIC ns

struct conn {
    int fd;
    uint32_t id;
    uint8_t want_out, dead;
    uint64_t sched;            // messages scheduled so far
    uint64_t tx_seq;           // message being written
    uint32_t tx_pos;           // bytes of it already written
    uint64_t rx_seq;           // message being received
    uint32_t rx_pos;
    uint64_t *ts;              // send (closed) or scheduled (open) time by seq & ts_mask
    uint64_t ts_mask;
};

struct worker {
    pthread_t thread;
    int index, epfd;
    struct conn *conns;
    int nconns;
    uint64_t msgs, bytes, errors;
    uint64_t open_next;        // open loop: index of the next scheduled message
    double open_interval_ns;
    uint64_t open_t0;
    uint8_t *rbuf;
    struct hist hist;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "bench-load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint32_t msg_offset(uint32_t conn, uint64_t seq) {
    return (uint32_t)(mix64(((uint64_t)conn << 40) ^ seq ^ 0x9E3779B97F4A7C15ull) % PATTERN_SPAN);
}

static void make_header(uint8_t h[HDR], uint32_t conn, uint64_t seq) {
    uint32_t magic = MAGIC;
    memcpy(h, &conn, 4);
    memcpy(h + 4, &magic, 4);
    memcpy(h + 8, &seq, 8);
}

static void mismatch(const struct conn *c, uint64_t seq, uint32_t pos, uint8_t want, uint8_t got) {
    fprintf(stderr,
            "bench-load: DATA MISMATCH: connection %u message %llu byte %u: expected 0x%02x, "
            "got 0x%02x\n",
            c->id, (unsigned long long)seq, pos, want, got);
    fflush(stderr);
    exit(3);
}

static void set_out(struct worker *w, struct conn *c, int on) {
    if (c->want_out == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = (uint8_t)on;
}

static void conn_fail(struct worker *w, struct conn *c, const char *why) {
    if (c->dead) return;
    fprintf(stderr, "bench-load: connection %u: %s\n", c->id, why);
    c->dead = 1;
    w->errors++;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static void schedule(struct conn *c, uint64_t t) {
    if (c->sched - c->rx_seq > c->ts_mask) {  // open loop fell behind: grow the ring
        uint64_t cap = (c->ts_mask + 1) * 2;
        uint64_t *ts = malloc(cap * sizeof *ts);
        if (!ts) die("malloc");
        for (uint64_t s = c->rx_seq; s < c->sched; s++) ts[s & (cap - 1)] = c->ts[s & c->ts_mask];
        free(c->ts);
        c->ts = ts;
        c->ts_mask = cap - 1;
    }
    c->ts[c->sched & c->ts_mask] = t;
    c->sched++;
}

// Writes as much of the scheduled messages as the socket takes.
static void flush(struct worker *w, struct conn *c) {
    uint8_t hdrs[MAX_MSGS_PER_WRITE][HDR];
    struct iovec iov[MAX_MSGS_PER_WRITE * 2];
    while (c->tx_seq < c->sched && !c->dead) {
        int n = 0, m = 0;
        size_t total = 0;
        uint32_t pos = c->tx_pos;
        for (uint64_t s = c->tx_seq; s < c->sched && m < MAX_MSGS_PER_WRITE; s++, m++) {
            uint32_t hlen = g_size < HDR ? g_size : HDR;
            if (pos < hlen) {
                make_header(hdrs[m], c->id, s);
                iov[n].iov_base = hdrs[m] + pos;
                iov[n].iov_len = hlen - pos;
                total += iov[n++].iov_len;
                pos = hlen;
            }
            if (pos < g_size) {
                iov[n].iov_base = g_pattern + msg_offset(c->id, s) + pos;
                iov[n].iov_len = g_size - pos;
                total += iov[n++].iov_len;
            }
            pos = 0;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t r = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            conn_fail(w, c, strerror(errno));
            return;
        }
        size_t done = (size_t)r + c->tx_pos;
        c->tx_seq += done / g_size;
        c->tx_pos = (uint32_t)(done % g_size);
        if ((size_t)r < total) break;
    }
    set_out(w, c, c->tx_seq < c->sched);
}

// Checks received bytes against the expected stream and completes messages.
static void on_data(struct worker *w, struct conn *c, const uint8_t *p, size_t n, uint64_t now) {
    uint64_t rx_total = c->rx_seq * g_size + c->rx_pos + n;
    uint64_t tx_total = c->tx_seq * g_size + c->tx_pos;
    if (rx_total > tx_total) {
        fprintf(stderr, "bench-load: DATA MISMATCH: connection %u received %llu bytes but only "
                        "%llu were sent\n", c->id, (unsigned long long)rx_total,
                (unsigned long long)tx_total);
        exit(3);
    }
    if (now >= g_t_start && now < g_t_end) w->bytes += n;
    int completed = 0;
    while (n > 0) {
        uint32_t pos = c->rx_pos;
        uint32_t k = g_size - pos < n ? g_size - pos : (uint32_t)n;
        uint32_t hlen = g_size < HDR ? g_size : HDR;
        uint32_t i = 0;
        if (pos < hlen) {
            uint8_t h[HDR];
            make_header(h, c->id, c->rx_seq);
            for (; i < k && pos + i < hlen; i++)
                if (p[i] != h[pos + i]) mismatch(c, c->rx_seq, pos + i, h[pos + i], p[i]);
        }
        if (i < k) {
            const uint8_t *want = g_pattern + msg_offset(c->id, c->rx_seq) + pos;  // by i
            if (memcmp(p + i, want + i, k - i) != 0)
                for (; i < k; i++)
                    if (p[i] != want[i]) mismatch(c, c->rx_seq, pos + i, want[i], p[i]);
        }
        p += k;
        n -= k;
        c->rx_pos += k;
        if (c->rx_pos == g_size) {
            if (now >= g_t_start && now < g_t_end) {
                w->msgs++;
                uint64_t t = c->ts[c->rx_seq & c->ts_mask];
                hist_record(&w->hist, now > t ? now - t : 0);
            }
            c->rx_seq++;
            c->rx_pos = 0;
            if (g_rate == 0) {
                schedule(c, now);
                completed = 1;
            }
        }
    }
    if (completed) flush(w, c);
}

static void on_readable(struct worker *w, struct conn *c) {
    ssize_t r = recv(c->fd, w->rbuf, RBUF_SIZE, MSG_DONTWAIT);
    if (r > 0) {
        on_data(w, c, w->rbuf, (size_t)r, now_ns());
    } else if (r == 0) {
        conn_fail(w, c, "server closed the connection");
    } else if (errno != EAGAIN && errno != EINTR) {
        conn_fail(w, c, strerror(errno));
    }
}

static void open_loop_tick(struct worker *w, uint64_t now) {
    while (1) {
        uint64_t due = w->open_t0 + (uint64_t)((double)w->open_next * w->open_interval_ns);
        if (due > now) break;
        struct conn *c = &w->conns[w->open_next % (uint64_t)w->nconns];
        w->open_next++;
        if (c->dead) continue;
        schedule(c, due);
        if (!c->want_out) flush(w, c);
    }
}

static uint64_t open_next_due(struct worker *w) {
    return w->open_t0 + (uint64_t)((double)w->open_next * w->open_interval_ns);
}

static void *run_worker(void *arg) {
    struct worker *w = arg;
    w->rbuf = malloc(RBUF_SIZE);
    if (!w->rbuf) die("malloc");
    uint64_t t0 = now_ns();
    if (g_rate > 0) {
        w->open_t0 = t0;
        w->open_interval_ns = 1e9 * (double)g_conns / (g_rate * (double)w->nconns);
    } else {
        for (int i = 0; i < w->nconns; i++) {
            for (int d = 0; d < g_depth; d++) schedule(&w->conns[i], t0);
            flush(w, &w->conns[i]);
        }
    }
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        uint64_t now = now_ns();
        if (now >= g_t_end) break;
        uint64_t wake = g_t_end;
        if (g_rate > 0) {
            open_loop_tick(w, now);
            uint64_t due = open_next_due(w);
            if (due < wake) wake = due;
        }
        now = now_ns();
        uint64_t wait = wake > now ? wake - now : 0;
        struct timespec to = {.tv_sec = (time_t)(wait / 1000000000ull),
                              .tv_nsec = (long)(wait % 1000000000ull)};
        int n = epoll_pwait2(w->epfd, evs, MAX_EVENTS, &to, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_pwait2");
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->dead) continue;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(w, c);
            if (!c->dead && (evs[i].events & EPOLLOUT)) flush(w, c);
        }
    }
    return NULL;
}

// Non-blocking connects, at most `batch` in progress, so the server's accept queue
// (somaxconn) never overflows into SYN retransmits.
static void connect_all(struct conn *conns, struct sockaddr_in *addr) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    const int batch = 256;
    int next = 0, pending = 0, done = 0;
    uint64_t deadline = now_ns() + 30ull * 1000000000ull;
    struct epoll_event evs[MAX_EVENTS];
    while (done < g_conns) {
        while (next < g_conns && pending < batch) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) die("socket");
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            conns[next].fd = fd;
            conns[next].id = (uint32_t)next;
            if (connect(fd, (struct sockaddr *)addr, sizeof *addr) < 0 && errno != EINPROGRESS)
                die("connect");
            struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)next};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
            next++;
            pending++;
        }
        if (now_ns() > deadline) {
            fprintf(stderr, "bench-load: only %d of %d connections established in 30 s\n", done,
                    g_conns);
            exit(1);
        }
        int n = epoll_wait(ep, evs, MAX_EVENTS, 1000);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[evs[i].data.u32];
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                errno = err;
                die("connect");
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            pending--;
            done++;
        }
    }
    close(ep);
}

static void raise_nofile(int need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit");
    if (rl.rlim_cur >= (rlim_t)need) return;
    if (rl.rlim_max < (rlim_t)need) rl.rlim_max = (rlim_t)need;  // root may raise the cap
    rl.rlim_cur = (rlim_t)need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
        fprintf(stderr, "bench-load: need %d file descriptors, RLIMIT_NOFILE allows %llu\n", need,
                (unsigned long long)rl.rlim_max);
        exit(1);
    }
}

static void mark(const char *what) {
    if (g_marks_fd < 0) return;
    ssize_t r = write(g_marks_fd, what, strlen(what));
    (void)r;
}

static void sleep_until(uint64_t t) {
    uint64_t now;
    while ((now = now_ns()) < t) {
        uint64_t d = t - now;
        struct timespec ts = {.tv_sec = (time_t)(d / 1000000000ull), .tv_nsec = (long)(d % 1000000000ull)};
        nanosleep(&ts, NULL);
    }
}

static void usage(void) {
    fprintf(stderr,
            "usage: bench-load --port P [--host 127.0.0.1] [--connections C] [--size BYTES]\n"
            "                  [--depth D] [--duration SECS] [--warmup SECS] [--threads N]\n"
            "                  [--rate MSGS_PER_SEC (open loop)] [--marks-fd FD]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage();
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--host")) g_host = v;
        else if (!strcmp(a, "--port")) g_port = atoi(v);
        else if (!strcmp(a, "--connections")) g_conns = atoi(v);
        else if (!strcmp(a, "--size")) g_size = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--depth")) g_depth = atoi(v);
        else if (!strcmp(a, "--duration")) g_duration = atof(v);
        else if (!strcmp(a, "--warmup")) g_warmup = atof(v);
        else if (!strcmp(a, "--threads")) g_threads = atoi(v);
        else if (!strcmp(a, "--rate")) g_rate = atof(v);
        else if (!strcmp(a, "--marks-fd")) g_marks_fd = atoi(v);
        else usage();
    }
    if (g_port <= 0 || g_port > 65535 || g_conns < 1 || g_conns > 1000000 || g_size < 1 ||
        g_size > (64u << 20) || g_depth < 1 || g_duration <= 0 || g_duration > 3600 ||
        g_warmup < 0 || g_warmup > 3600 || g_threads < 1 || g_rate < 0)
        usage();
    if (g_threads > g_conns) g_threads = g_conns;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(g_conns + 64);

    g_pattern = malloc(g_size + PATTERN_SPAN);
    if (!g_pattern) die("malloc");
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < g_size + PATTERN_SPAN; i++) {
        x = mix64(x + i);
        g_pattern[i] = (uint8_t)x;
    }

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    if (inet_pton(AF_INET, g_host, &addr.sin_addr) != 1) {
        fprintf(stderr, "bench-load: bad --host %s\n", g_host);
        exit(2);
    }
    struct conn *conns = calloc((size_t)g_conns, sizeof *conns);
    if (!conns) die("calloc");
    connect_all(conns, &addr);

    uint64_t ts_cap = 16;
    while (ts_cap < (uint64_t)g_depth) ts_cap *= 2;
    struct worker *ws = calloc((size_t)g_threads, sizeof *ws);
    if (!ws) die("calloc");
    // Contiguous slices keep each worker's connections together in memory.
    for (int t = 0, first = 0; t < g_threads; t++) {
        struct worker *w = &ws[t];
        w->index = t;
        w->nconns = g_conns / g_threads + (t < g_conns % g_threads);
        w->conns = conns + first;
        first += w->nconns;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0) die("epoll_create1");
        for (int i = 0; i < w->nconns; i++) {
            struct conn *c = &w->conns[i];
            c->ts = malloc(ts_cap * sizeof *c->ts);
            if (!c->ts) die("malloc");
            c->ts_mask = ts_cap - 1;
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
        }
    }

    uint64_t t0 = now_ns();
    g_t_start = t0 + (uint64_t)(g_warmup * 1e9);
    g_t_end = g_t_start + (uint64_t)(g_duration * 1e9);
    for (int t = 0; t < g_threads; t++)
        if (pthread_create(&ws[t].thread, NULL, run_worker, &ws[t]) != 0) die("pthread_create");
    sleep_until(g_t_start);
    mark("start\n");
    sleep_until(g_t_end);
    mark("end\n");

    struct hist *h = calloc(1, sizeof *h);
    if (!h) die("calloc");
    uint64_t msgs = 0, bytes = 0, errors = 0;
    for (int t = 0; t < g_threads; t++) {
        pthread_join(ws[t].thread, NULL);
        msgs += ws[t].msgs;
        bytes += ws[t].bytes;
        errors += ws[t].errors;
        for (unsigned i = 0; i < HIST_BUCKETS; i++) h->counts[i] += ws[t].hist.counts[i];
        h->total += ws[t].hist.total;
        h->clamped += ws[t].hist.clamped;
        h->sum_ns += ws[t].hist.sum_ns;
        if (ws[t].hist.max_ns > h->max_ns) h->max_ns = ws[t].hist.max_ns;
    }
    for (int i = 0; i < g_conns; i++) close(conns[i].fd);

    double secs = (double)(g_t_end - g_t_start) / 1e9;
    printf("{\"msgs\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"msgs_per_sec\":%.1f,"
           "\"mib_per_sec\":%.3f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
           "\"errors\":%llu,\"max_us\":%.1f,\"mean_us\":%.1f,\"clamped\":%llu,"
           "\"mode\":\"%s\",\"connections\":%d,\"size\":%u,\"depth\":%d,\"rate\":%.1f,"
           "\"threads\":%d}\n",
           (unsigned long long)msgs, (unsigned long long)bytes, secs, (double)msgs / secs,
           (double)bytes / secs / 1048576.0, hist_percentile_us(h, 0.50),
           hist_percentile_us(h, 0.99), hist_percentile_us(h, 0.999),
           (unsigned long long)errors, (double)h->max_ns / 1000.0,
           h->total ? (double)h->sum_ns / (double)h->total / 1000.0 : 0.0,
           (unsigned long long)h->clamped, g_rate > 0 ? "open" : "closed", g_conns, g_size,
           g_depth, g_rate, g_threads);
    fflush(stdout);
    if (errors) fprintf(stderr, "bench-load: %llu connection errors\n", (unsigned long long)errors);
    return errors ? 4 : 0;
}
