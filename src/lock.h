/* lock.h: a tiny spin lock for zmm's rare global paths (chunk cache, huge cache, heap
 * lists, table growth). A plain word, so a fork child can reset it by storing zero. */
#ifndef ZMM_LOCK_H
#define ZMM_LOCK_H

#include <sched.h>
#include <stdbool.h>
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

/* Fork: a lock is taken before fork, so that the child sees what it guards whole, and given
 * back after it in the parent; the child starts it free. Before fork the wait is bounded
 * (about 2000 yields): a signal handler that forks over the lock's own holder would wait
 * for ever, and then goes on without it (*HELD false), as it did before locks were taken. */
enum fork_phase { FORK_PREPARE, FORK_PARENT, FORK_CHILD };

static inline void spin_fork(spinlock_t *l, bool *held, enum fork_phase phase)
{
    switch (phase) {
    case FORK_PREPARE:
        *held = false;
        for (unsigned n = 0; n < 2000 && !*held; n++)
            if (!(*held = !atomic_exchange_explicit(l, 1, memory_order_acquire)))
                sched_yield();
        break;
    case FORK_PARENT:
        if (*held)
            spin_unlock(l);
        break;
    case FORK_CHILD:
        spin_init(l);
        break;
    }
}

#endif
