/* stats_cancel: malloc_stats with a cancellation request pending (deferred cancellation) writes
 * its whole text, then leaves cancellation enabled, so the next cancellation point acts.
 * (glibc bug 22830 and its test tst-malloc-stats-cancellation.) */
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include "zmm_test.h"

static pthread_barrier_t gate;

static void *stats_thread(void *arg)
{
    (void)arg;
    int old;
    pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old);
    /* Released with a cancellation request pending (pthread_barrier_wait is no cancellation
     * point). */
    pthread_barrier_wait(&gate);
    malloc_stats();
    /* A write: a cancellation point. */
    fputs("this call should trigger cancellation\n", stderr);
    return NULL;
}

/* Runs stats_thread with fd 2 on a temporary file; returns what was written there. */
static char *run(int cancel, void **result, size_t *len)
{
    FILE *tmp = tmpfile();
    if (!tmp)
        FATAL("tmpfile failed");
    int saved = stderr_redirect(tmp);
    if (pthread_barrier_init(&gate, NULL, 2) != 0)
        FATAL("pthread_barrier_init failed");
    pthread_t t;
    if (pthread_create(&t, NULL, stats_thread, NULL) != 0)
        FATAL("pthread_create failed");
    if (cancel && pthread_cancel(t) != 0)
        FATAL("pthread_cancel failed");
    pthread_barrier_wait(&gate);
    pthread_join(t, result);
    pthread_barrier_destroy(&gate);
    stderr_restore(saved);

    static char text[2][16384];
    char *buf = text[cancel];
    rewind(tmp);
    *len = fread(buf, 1, sizeof text[0] - 1, tmp);
    buf[*len] = 0;
    fclose(tmp);
    return buf;
}

/* The text without digits and blanks: the same report with other numbers looks the same. */
static void shape(const char *in, char *out, size_t size)
{
    size_t k = 0;
    for (; *in && k + 1 < size; in++)
        if ((*in < '0' || *in > '9') && *in != ' ')
            out[k++] = *in;
    out[k] = 0;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

int main(void)
{
    require_zmm();
    void *ref_result, *can_result;
    size_t ref_len, can_len;
    char *ref = run(0, &ref_result, &ref_len);
    char *can = run(1, &can_result, &can_len);

    CHECK(ref_result == NULL, "the thread without a cancel request did not return normally");
    CHECK(strstr(ref, "this call should trigger cancellation") != NULL,
          "the thread without a cancel request did not write its own line");
    CHECK(strstr(ref, "system bytes") && strstr(ref, "in use bytes"),
          "malloc_stats reference output lacks system bytes / in use bytes:\n%s", ref);

    CHECK(can_result == PTHREAD_CANCELED,
          "the thread with a pending cancel was not cancelled after malloc_stats (cancellation "
          "left disabled?)");
    CHECK(strstr(can, "this call should trigger cancellation") == NULL,
          "the cancelled thread's fputs produced output");

    /* The whole malloc_stats text: as long as the reference, line for line. */
    const char *mark = "this call should trigger cancellation\n";
    char *end = strstr(ref, mark);
    size_t ref_stats_len = end ? (size_t)(end - ref) : ref_len;
    char ref_stats[16384];
    memcpy(ref_stats, ref, ref_stats_len);
    ref_stats[ref_stats_len] = 0;
    static char s1[16384], s2[16384];
    shape(ref_stats, s1, sizeof s1);
    shape(can, s2, sizeof s2);
    CHECK(can_len > 0, "malloc_stats wrote nothing with a cancel request pending");
    /* Byte counts may differ only where a number has another number of digits. */
    CHECK(can_len + 16 >= ref_stats_len && can_len <= ref_stats_len + 16,
          "malloc_stats wrote %zu bytes with a cancel request pending, %zu without", can_len,
          ref_stats_len);
    CHECK(count_lines(can) == count_lines(ref_stats) && strcmp(s1, s2) == 0,
          "malloc_stats with a pending cancel wrote %zu bytes in %d lines; without, %zu bytes in "
          "%d lines\n--- with a pending cancel:\n%s--- without:\n%s---",
          can_len, count_lines(can), ref_stats_len, count_lines(ref_stats), can, ref_stats);
    printf("malloc_stats: %zu bytes without a cancel request, %zu with one pending\n",
           ref_stats_len, can_len);
    return test_result();
}
