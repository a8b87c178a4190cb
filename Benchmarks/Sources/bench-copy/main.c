// bench-copy: the blocking peer of the file-copy benchmark. One thread, read(2) a block into
// one buffer, write(2) it out, repeat: the loop every C programmer writes first.
//
// CLI: bench-copy [--block-size BYTES] SRC DST   (default 512 KiB, file-copy's default block)
// DST is created or truncated. Exit 0 when every byte was copied, 1 on any error (named).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void) {
    fprintf(stderr, "usage: bench-copy [--block-size BYTES] SRC DST\n");
    exit(2);
}

static void fail(const char *what, const char *path) {
    fprintf(stderr, "bench-copy: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

int main(int argc, char **argv) {
    size_t block = 512 << 10;
    const char *paths[2];
    int npaths = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--block-size") == 0) {
            if (++i >= argc) usage();
            char *end;
            unsigned long long n = strtoull(argv[i], &end, 10);
            if (*end != 0 || n < 512 || n > (1ull << 30)) usage();
            block = (size_t)n;
        } else if (npaths < 2) {
            paths[npaths++] = argv[i];
        } else {
            usage();
        }
    }
    if (npaths != 2) usage();

    int in = open(paths[0], O_RDONLY | O_CLOEXEC);
    if (in < 0) fail("open", paths[0]);
    struct stat st;
    if (fstat(in, &st) != 0) fail("fstat", paths[0]);
    int out = open(paths[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777);
    if (out < 0) fail("open", paths[1]);
    char *buffer = malloc(block);
    if (!buffer) fail("malloc", "");

    for (;;) {
        ssize_t n = read(in, buffer, block);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("read", paths[0]);
        }
        if (n == 0) break;
        ssize_t done = 0;
        while (done < n) {
            ssize_t w = write(out, buffer + done, (size_t)(n - done));
            if (w < 0) {
                if (errno == EINTR) continue;
                fail("write", paths[1]);
            }
            done += w;
        }
    }
    if (close(out) != 0) fail("close", paths[1]);
    close(in);
    free(buffer);
    return 0;
}
