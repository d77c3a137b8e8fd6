/* lock.h: a tiny spin lock for zmm's rare global paths (chunk cache, huge cache, heap
 * lists, table growth). A plain word, so a fork child can reset it by storing zero. */
#ifndef ZMM_LOCK_H
#define ZMM_LOCK_H

#include <sched.h>
#include <stdatomic.h>

typedef atomic_int spinlock_t;

static inline void spin_init(spinlock_t *l) { atomic_store_explicit(l, 0, memory_order_relaxed); }

static inline void spin_lock(spinlock_t *l)
{
    for (unsigned n = 0;; n++) {
        if (!atomic_exchange_explicit(l, 1, memory_order_acquire))
            return;
        while (atomic_load_explicit(l, memory_order_relaxed))
            if (++n % 64 == 0)
                sched_yield();
            else
                __builtin_ia32_pause();
    }
}

static inline void spin_unlock(spinlock_t *l) { atomic_store_explicit(l, 0, memory_order_release); }

#endif
