#ifndef RINGLOOP_CPREFETCH_SHIM_H
#define RINGLOOP_CPREFETCH_SHIM_H

// A cache prefetch hint, which Swift has no spelling for. The timer wheel
// uses it to start loading the nodes of timers about to fire while it fires
// the ones before them (a million timers fire in deadline order, which is no
// order in memory: without the hint, every node is a cache miss in series).
// A hint only: it never faults, whatever the address, and changes no result.
static inline void ringloop_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
