/* malloc-large: large blocks (after mimalloc-bench's malloc-large). A table of BUFFERS blocks;
 * ITERATIONS times, a random one is freed and replaced by a block of MIN_KB to MAX_KB KiB
 * (64 KiB to 5 MiB by default: large runs and huge blocks), one byte written in each of its
 * pages. Prints a checksum so the work cannot be skipped.
 * usage: malloc-large [ITERATIONS] [BUFFERS] [MIN_KB] [MAX_KB] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 2500;
    long buffers = argc > 2 ? atol(argv[2]) : 20;
    long min_kb = argc > 3 ? atol(argv[3]) : 64;
    long max_kb = argc > 4 ? atol(argv[4]) : 5 * 1024;
    if (iterations < 1 || buffers < 1 || buffers > 1024 || min_kb < 1 || max_kb < min_kb) {
        fprintf(stderr, "usage: malloc-large [ITERATIONS] [BUFFERS 1..1024] [MIN_KB] [MAX_KB]\n");
        return 2;
    }
    unsigned char *buf[1024] = { 0 };
    size_t len[1024] = { 0 };
    uint64_t x = 7, sum = 0;
    for (long i = 0; i < iterations; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        size_t k = (size_t)((x >> 33) % (uint64_t)buffers);
        size_t n = ((size_t)min_kb << 10) + (size_t)((x >> 7) % (((uint64_t)(max_kb - min_kb) << 10) + 1));
        if (buf[k])
            sum += buf[k][len[k] - 1] + buf[k][0];
        free(buf[k]);
        buf[k] = malloc(n);
        if (!buf[k])
            abort();
        len[k] = n;
        for (size_t b = 0; b < n; b += 4096)
            buf[k][b] = (unsigned char)(b >> 12);
        buf[k][n - 1] = (unsigned char)i;
    }
    for (long k = 0; k < buffers; k++)
        free(buf[k]);
    printf("malloc-large %ld x %ld: %llu\n", iterations, buffers, (unsigned long long)sum);
    return 0;
}
