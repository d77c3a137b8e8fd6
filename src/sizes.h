/* sizes.h: the small size classes, one table.
 * Zend MM's 30 bins less 8, 24, 40 and 56, which cannot keep every block 16-byte aligned
 * (glibc's contract: malloc(1) too). A run of PAGES pages holds COUNT blocks of SIZE bytes;
 * a run starts on a page, so a block is aligned to the largest power of two dividing SIZE. */
#ifndef ZMM_SIZES_H
#define ZMM_SIZES_H

#include "defs.h"

/*        bin  size count pages */
#define ZMM_BINS(X) \
        X( 0,   16, 256, 1) \
        X( 1,   32, 128, 1) \
        X( 2,   48,  85, 1) \
        X( 3,   64,  64, 1) \
        X( 4,   80,  51, 1) \
        X( 5,   96,  42, 1) \
        X( 6,  112,  36, 1) \
        X( 7,  128,  32, 1) \
        X( 8,  160,  25, 1) \
        X( 9,  192,  21, 1) \
        X(10,  224,  18, 1) \
        X(11,  256,  16, 1) \
        X(12,  320,  64, 5) \
        X(13,  384,  32, 3) \
        X(14,  448,   9, 1) \
        X(15,  512,   8, 1) \
        X(16,  640,  32, 5) \
        X(17,  768,  16, 3) \
        X(18,  896,   9, 2) \
        X(19, 1024,   8, 2) \
        X(20, 1280,  16, 5) \
        X(21, 1536,   8, 3) \
        X(22, 1792,  16, 7) \
        X(23, 2048,   8, 4) \
        X(24, 2560,   8, 5) \
        X(25, 3072,   4, 3)

#define ZMM_BIN_COUNT_(bin, size, count, pages) +1
enum { BIN_COUNT = 0 ZMM_BINS(ZMM_BIN_COUNT_) };
#undef ZMM_BIN_COUNT_
#define SMALL_MAX 3072u

extern const uint16_t bin_size[BIN_COUNT];
extern const uint16_t bin_count[BIN_COUNT];
extern const uint8_t bin_pages[BIN_COUNT];
extern const uint32_t bin_recip[BIN_COUNT];   /* ceil(2^32 / size): offset -> index */

/* The bin of a size in 1..SMALL_MAX: 16-byte steps to 128, then four bins per doubling. */
ZMM_INLINE unsigned bin_of(size_t n)
{
    if (n <= 128)
        return n ? (unsigned)((n - 1) >> 4) : 0;
    unsigned e = 63u - (unsigned)__builtin_clzl(n - 1);   /* 7 .. 11 */
    return 8u + (e - 7u) * 4u + (unsigned)((n - 1) >> (e - 2u)) - 4u;
}

/* Index of the block that starts at byte OFF of a run of BIN (exact for OFF < 2^15). */
ZMM_INLINE unsigned bin_slot_index(unsigned bin, size_t off)
{
    return (unsigned)((off * bin_recip[bin]) >> 32);
}

#endif
