/* limit MODE: ZMM_MEMORY_LIMIT, run by limit.sh, which checks stderr.
 *   exhaust  (ZMM_MEMORY_LIMIT=64M) 1 MiB blocks until malloc fails: at least 56, at most 64,
 *            ENOMEM; then the process goes on: free a few, allocate again.
 *   bad      (ZMM_MEMORY_LIMIT=12Q) the bad value is ignored (a warning on stderr): 100 MiB of
 *            1 MiB blocks are allocated without a limit. */
#include <malloc.h>

#include "zmm_test.h"

#define MiB ((size_t)1 << 20)
#define LIMIT ((size_t)64 * MiB)

enum { MAXB = 256 };
static void *b[MAXB];

static int exhaust(void)
{
    const char *env = getenv("ZMM_MEMORY_LIMIT");
    CHECK(env && strcmp(env, "64M") == 0, "ZMM_MEMORY_LIMIT is %s, not 64M", env ? env : "unset");
    /* stdout's buffer exists before the heap is full. */
    printf("exhaust: 1 MiB blocks until malloc fails\n");
    fflush(stdout);
    int e;
    int n = (int)fill_mib_blocks(b, MAXB, 0x5c, &e);
    printf("blocks=%d\n", n);
    CHECK(n < MAXB, "%d 1-MiB blocks allocated under a 64 MiB limit: no limit", n);
    CHECK(n >= 56, "only %d 1-MiB blocks under a 64 MiB limit (want at least 56)", n);
    CHECK(n <= 64, "%d 1-MiB blocks under a 64 MiB limit", n);
    CHECK(e == ENOMEM, "the failing malloc set errno %d (%s), not ENOMEM", e, strerror(e));
    size_t used = zt_memory_usage();
    CHECK(used != (size_t)-1 && used <= LIMIT, "zmm_memory_usage() = %zu over the limit %zu",
          used, LIMIT);
    /* Over the limit, other members fail the same way. */
    errno = 0;
    void *c = calloc(1, 4 * MiB);
    CHECK(c == NULL && errno == ENOMEM, "calloc(1, 4 MiB) over the limit = %p, errno %d", c,
          errno);
    free(c);

    /* The process goes on: free a few, allocate again. */
    int freed = 0;
    for (int i = 0; i < n && freed < 4; i += 7, freed++) {
        free(b[i]);
        b[i] = NULL;
    }
    int again = 0;
    for (int i = 0; i < n; i++)
        if (!b[i]) {
            b[i] = malloc(MiB);
            CHECK(b[i] != NULL, "malloc(1 MiB) after freeing %d blocks failed (errno %d)", freed,
                  errno);
            if (b[i]) {
                memset(b[i], 0x5d, MiB);
                again++;
            }
        }
    CHECK(again == freed && freed > 0, "allocated %d again after freeing %d", again, freed);
    for (int i = 0; i < n; i++)
        free(b[i]);
    void *small = malloc(100);
    CHECK(small != NULL, "malloc(100) failed after freeing everything");
    free(small);
    /* All of it is available again. */
    void *big = malloc(32 * MiB);
    CHECK(big != NULL, "malloc(32 MiB) after freeing everything failed");
    if (big)
        memset(big, 1, 32 * MiB);
    free(big);
    return test_result();
}

static int bad(void)
{
    const char *env = getenv("ZMM_MEMORY_LIMIT");
    CHECK(env && strcmp(env, "12Q") == 0, "ZMM_MEMORY_LIMIT is %s, not 12Q", env ? env : "unset");
    int n = 0;
    for (; n < 100; n++) {
        b[n] = malloc(MiB);
        if (!b[n])
            break;
        memset(b[n], 0x5c, MiB);
    }
    CHECK(n == 100, "malloc(1 MiB) failed after %d blocks with a bad (ignored) limit", n);
    for (int i = 0; i < n; i++)
        free(b[i]);
    return test_result();
}

int main(int argc, char **argv)
{
    require_zmm();
    if (argc != 2)
        FATAL("usage: limit exhaust|bad");
    if (!strcmp(argv[1], "exhaust"))
        return exhaust();
    if (!strcmp(argv[1], "bad"))
        return bad();
    FATAL("unknown mode %s", argv[1]);
}
