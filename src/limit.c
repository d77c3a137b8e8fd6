/* limit.c: owns the count of bytes the heap has committed to blocks (pages of small and
 * large runs, huge mappings) and ZMM_MEMORY_LIMIT, which bounds it as PHP's memory_limit
 * bounds a request. The count is exact at page granularity; taking past the limit fails
 * without counting, and the caller reports with PHP's own words. Heaps count their pages
 * through a credit, taken in batches, so page runs come and go without touching the shared
 * count: the limit is exact to within a batch per thread. It sits below heap.c. */
#include "limit.h"
#include "options.h"
#include "out.h"

#include <stdatomic.h>

static atomic_size_t in_use, peak;
static atomic_size_t limit = OPT_UNSET;
static __thread size_t asking __attribute__((tls_model("initial-exec")));

bool limit_take(size_t bytes)
{
    size_t now = atomic_fetch_add_explicit(&in_use, bytes, memory_order_relaxed) + bytes;
    if (ZMM_UNLIKELY(now > atomic_load_explicit(&limit, memory_order_relaxed))) {
        atomic_fetch_sub_explicit(&in_use, bytes, memory_order_relaxed);
        return false;
    }
    size_t p = atomic_load_explicit(&peak, memory_order_relaxed);
    while (now > p && !atomic_compare_exchange_weak_explicit(&peak, &p, now, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
    return true;
}

void limit_give(size_t bytes)
{
    atomic_fetch_sub_explicit(&in_use, bytes, memory_order_relaxed);
}

#define CREDIT_BATCH ((size_t)256 << 10)

bool limit_credit_take(size_t *credit, size_t bytes)
{
    if (ZMM_LIKELY(*credit >= bytes)) {
        *credit -= bytes;
        return true;
    }
    /* Take what is missing plus a batch for later; near the limit, just what is missing. */
    size_t need = bytes - *credit;
    if (limit_take(need + CREDIT_BATCH))
        *credit = CREDIT_BATCH;
    else if (limit_take(need))
        *credit = 0;
    else
        return false;
    return true;
}

void limit_credit_give(size_t *credit, size_t bytes)
{
    *credit += bytes;
    if (*credit > 2 * CREDIT_BATCH) {
        limit_give(*credit - CREDIT_BATCH);
        *credit = CREDIT_BATCH;
    }
}

void limit_asking(size_t n)
{
    asking = n;
}

void limit_exhausted(size_t tried)
{
    out_warn("Allowed memory size of %zu bytes exhausted (tried to allocate %zu bytes)",
             atomic_load(&limit), asking ? asking : tried);
}

void limit_set(size_t bytes) { atomic_store(&limit, bytes); }
size_t limit_get(void) { return atomic_load(&limit); }
size_t limit_in_use(void) { return atomic_load(&in_use); }
size_t limit_peak(void) { return atomic_load(&peak); }
