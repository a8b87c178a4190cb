#ifndef RINGLOOP_ALLOC_COUNTER_H
#define RINGLOOP_ALLOC_COUNTER_H

/// Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc,
/// memalign) made by any thread of this process since the last reset.
long ringloop_allocations(void);
/// Frees since the last reset.
long ringloop_frees(void);
/// Starts counting from zero.
void ringloop_reset_allocation_counts(void);
/// Whether the counting allocator is in place (not under a sanitizer, which
/// brings its own malloc).
int ringloop_allocation_counting_active(void);

#endif
