// A counting allocator for ringloop-alloc-counter, the SwiftNIO way: the
// executable defines malloc and friends, so every allocation in the process
// (the Swift runtime's, Foundation's, ours) comes here first, is counted, and
// goes on to glibc.
//
// glibc's own entry points (__libc_malloc etc., exported by every glibc since
// 2.2.5) are called directly rather than looked up with dlsym(RTLD_NEXT):
// dlsym itself allocates, which would recurse into malloc before the lookup
// is done. Counters are relaxed atomics: only their totals matter.
//
// Under a sanitizer the sanitizer's runtime owns malloc; nothing is defined
// here then, and the tool reports that it cannot count.

#include <errno.h>
#include <stddef.h>
#include "CAllocCounter.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RINGLOOP_SANITIZED 1
#endif
#endif

#ifndef RINGLOOP_SANITIZED

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static long allocations;
static long frees;

static inline void counted(void) { __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED); }

void *malloc(size_t size) {
    counted();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    counted();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    counted();
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    counted();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    counted();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    counted();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

void free(void *pointer) {
    if (pointer != NULL) __atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED);
    __libc_free(pointer);
}

long ringloop_allocations(void) { return __atomic_load_n(&allocations, __ATOMIC_RELAXED); }
long ringloop_frees(void) { return __atomic_load_n(&frees, __ATOMIC_RELAXED); }
void ringloop_reset_allocation_counts(void) {
    __atomic_store_n(&allocations, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&frees, 0, __ATOMIC_RELAXED);
}
int ringloop_allocation_counting_active(void) { return 1; }

#else

long ringloop_allocations(void) { return 0; }
long ringloop_frees(void) { return 0; }
void ringloop_reset_allocation_counts(void) {}
int ringloop_allocation_counting_active(void) { return 0; }

#endif
