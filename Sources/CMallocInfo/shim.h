#ifndef RINGLOOP_CMALLOCINFO_SHIM_H
#define RINGLOOP_CMALLOCINFO_SHIM_H

// glibc's malloc statistics, which Swift's Glibc module does not import
// (it leaves out <malloc.h>). Tests only: they check that the blocks freed
// by firing timers do not pile up unmerged in glibc's fast bins.
#include <malloc.h>

// Bytes in freed blocks waiting unmerged in glibc's fast bins, over every
// arena (zero under a sanitizer's allocator).
static inline size_t ringloop_malloc_fast_bin_bytes(void) {
    struct mallinfo2 info = mallinfo2();
    return info.fsmblks;
}

#endif
