/* realloc-growth: buffers grown by realloc, as string builders and vectors do. Each round
 * grows BUFFERS buffers side by side, appending to each in turn: 1..64 bytes at first, later up
 * to an eighth of its length, with a realloc to the new length each time, until it reaches its
 * target (16 bytes to MAX_BYTES, log-uniform); so blocks cross from small bins to large runs to
 * huge blocks and grow in place only where the neighbour is free. Each buffer's bytes are checked
 * before it is freed. Prints a checksum so the work cannot be skipped.
 * usage: realloc-growth [ROUNDS] [BUFFERS] [MAX_BYTES] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buffer {
    unsigned char *data;
    size_t len, target;
};

static unsigned char pattern(size_t at, size_t id)
{
    return (unsigned char)(at * 31 + id);
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 100;
    long buffers = argc > 2 ? atol(argv[2]) : 8;
    long max = argc > 3 ? atol(argv[3]) : 8L << 20;
    if (rounds < 1 || buffers < 1 || buffers > 256 || max < 32) {
        fprintf(stderr, "usage: realloc-growth [ROUNDS] [BUFFERS 1..256] [MAX_BYTES >= 32]\n");
        return 2;
    }
    unsigned bits = 0;
    while (((size_t)2 << bits) <= (size_t)max)
        bits++;
    struct buffer buf[256];
    uint64_t x = 99, sum = 0;
    for (long r = 0; r < rounds; r++) {
        for (long b = 0; b < buffers; b++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            unsigned e = 4 + (unsigned)((x >> 33) % (bits - 3));
            size_t t = ((size_t)1 << e) + (size_t)((x >> 7) % ((uint64_t)1 << e));
            buf[b] = (struct buffer){ .target = t < (size_t)max ? t : (size_t)max };
        }
        for (long open = buffers; open > 0;) {
            open = 0;
            for (long b = 0; b < buffers; b++) {
                struct buffer *u = &buf[b];
                if (u->len == u->target)
                    continue;
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                size_t most = u->len / 8 > 64 ? u->len / 8 : 64;
                size_t add = 1 + (size_t)((x >> 20) % most);
                if (add > u->target - u->len)
                    add = u->target - u->len;
                unsigned char *p = realloc(u->data, u->len + add);
                if (!p)
                    abort();
                u->data = p;
                for (size_t i = u->len; i < u->len + add; i++)
                    p[i] = pattern(i, (size_t)b);
                u->len += add;
                if (u->len < u->target) {
                    open++;
                    continue;
                }
                for (size_t i = 0; i < u->len; i += 997) {
                    if (p[i] != pattern(i, (size_t)b)) {
                        fprintf(stderr, "realloc-growth: buffer %ld corrupted at %zu\n", b, i);
                        abort();
                    }
                    sum += p[i];
                }
                free(p);
                u->data = NULL;
            }
        }
    }
    printf("realloc-growth %ld x %ld: %llu\n", rounds, buffers, (unsigned long long)sum);
    return 0;
}
