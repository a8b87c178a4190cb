// bench-switch: what one hand-off between two threads or two processes costs.
//
// Two parties pass a token back and forth N times (a ping-pong); one hand-off is half a
// round trip: one side wakes the other and goes to sleep. Kinds:
//   thread-futex   two threads, a raw futex word each way (what a mutex/condvar hand-off
//                  costs at the bottom)
//   thread-condvar two threads, pthread mutex + condition variable
//   thread-pipe    two threads, a pipe each way (1-byte read/write)
//   process-pipe   two processes (fork), a pipe each way
// Placement: "same" pins both parties to CPU 0 (every hand-off is a context switch on one
// core); "across" pins them to CPUs 0 and 1 (a cross-core wakeup; an idle vCPU may halt).
//
// CLI: bench-switch [--round-trips N] [--kind K] [--placement same|across]
// Prints one JSON object per line: {"kind":..,"placement":..,"round_trips":..,"ns_per_handoff":..}
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long g_round_trips = 100000;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "bench-switch: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

// ---- futex ----
static _Atomic uint32_t g_turn;  // 0: ping's turn, 1: pong's turn

static void futex_wait(_Atomic uint32_t *word, uint32_t value) {
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word) {
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void futex_party(uint32_t me) {
    for (long i = 0; i < g_round_trips; i++) {
        while (atomic_load(&g_turn) != me) futex_wait(&g_turn, 1 - me);
        atomic_store(&g_turn, 1 - me);
        futex_wake(&g_turn);
    }
}

// ---- condvar ----
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_cv_turn;

static void condvar_party(int me) {
    pthread_mutex_lock(&g_mutex);
    for (long i = 0; i < g_round_trips; i++) {
        while (g_cv_turn != me) pthread_cond_wait(&g_cond, &g_mutex);
        g_cv_turn = 1 - me;
        pthread_cond_signal(&g_cond);
    }
    pthread_mutex_unlock(&g_mutex);
}

// ---- pipes ----
static int g_ab[2], g_ba[2];  // a -> b, b -> a

static void pipe_party(int me) {
    char byte = 0;
    int in = me == 0 ? g_ba[0] : g_ab[0];
    int out = me == 0 ? g_ab[1] : g_ba[1];
    for (long i = 0; i < g_round_trips; i++) {
        if (me == 0) {
            if (write(out, &byte, 1) != 1) die("write");
            if (read(in, &byte, 1) != 1) die("read");
        } else {
            if (read(in, &byte, 1) != 1) die("read");
            if (write(out, &byte, 1) != 1) die("write");
        }
    }
}

struct party { const char *kind; int me; int cpu; };

static void run_party(const struct party *p) {
    pin(p->cpu);
    if (strcmp(p->kind, "thread-futex") == 0) futex_party((uint32_t)p->me);
    else if (strcmp(p->kind, "thread-condvar") == 0) condvar_party(p->me);
    else pipe_party(p->me);
}

static void *thread_main(void *arg) {
    run_party(arg);
    return NULL;
}

static double measure(const char *kind, int across) {
    atomic_store(&g_turn, 0);
    g_cv_turn = 0;
    if (strstr(kind, "pipe") && (pipe(g_ab) != 0 || pipe(g_ba) != 0)) die("pipe");
    struct party a = {kind, 0, 0}, b = {kind, 1, across ? 1 : 0};
    double start = now_ns();
    if (strncmp(kind, "process", 7) == 0) {
        pid_t child = fork();
        if (child < 0) die("fork");
        if (child == 0) {
            run_party(&b);
            _exit(0);
        }
        run_party(&a);
        int status;
        if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child");
    } else {
        pthread_t thread;
        if (pthread_create(&thread, NULL, thread_main, &b) != 0) die("pthread_create");
        run_party(&a);
        pthread_join(thread, NULL);
    }
    double elapsed = now_ns() - start;
    if (strstr(kind, "pipe")) {
        close(g_ab[0]); close(g_ab[1]); close(g_ba[0]); close(g_ba[1]);
    }
    return elapsed / (2.0 * (double)g_round_trips);
}

int main(int argc, char **argv) {
    const char *only_kind = NULL, *only_placement = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--round-trips") == 0) g_round_trips = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--kind") == 0) only_kind = argv[i + 1];
        else if (strcmp(argv[i], "--placement") == 0) only_placement = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench-switch [--round-trips N] [--kind K] [--placement same|across]\n");
            return 2;
        }
    }
    if (g_round_trips < 1) {
        fprintf(stderr, "bench-switch: --round-trips must be at least 1\n");
        return 2;
    }
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    const char *kinds[] = {"thread-futex", "thread-condvar", "thread-pipe", "process-pipe"};
    const char *placements[] = {"same", "across"};
    for (int p = 0; p < 2; p++) {
        if (only_placement && strcmp(only_placement, placements[p]) != 0) continue;
        if (p == 1 && cpus < 2) continue;
        for (int k = 0; k < 4; k++) {
            if (only_kind && strcmp(only_kind, kinds[k]) != 0) continue;
            double ns = measure(kinds[k], p == 1);
            printf("{\"kind\":\"%s\",\"placement\":\"%s\",\"round_trips\":%ld,\"ns_per_handoff\":%.1f}\n",
                   kinds[k], placements[p], g_round_trips, ns);
            fflush(stdout);
        }
    }
    return 0;
}
