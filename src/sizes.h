/* sizes.h: the small size classes, one table.
 * Zend MM's 30 bins less 8, 24, 40 and 56, which cannot keep every block 16-byte aligned
 * (glibc's contract: malloc(1) too), and six more past Zend's 3072 that keep its four bins per
 * doubling up to 8192, each in the fewest pages its blocks fill exactly (sqlite3's page cache
 * takes 4104..4368 bytes a block: as 2-page large runs they wasted almost half). A run of
 * PAGES pages holds COUNT blocks of SIZE bytes; a run starts on a page, so a block is aligned
 * to the largest power of two dividing SIZE, up to a page. At most 32 bins (the page map keeps
 * a bin in 5 bits), runs of at most 8 pages. */
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
        X(25, 3072,   4, 3) \
        X(26, 3584,   8, 7) \
        X(27, 4096,   1, 1) \
        X(28, 5120,   4, 5) \
        X(29, 6144,   2, 3) \
        X(30, 7168,   4, 7) \
        X(31, 8192,   1, 2)

#define ZMM_BIN_COUNT_(bin, size, count, pages) +1
enum { BIN_COUNT = 0 ZMM_BINS(ZMM_BIN_COUNT_) };
#undef ZMM_BIN_COUNT_
#define SMALL_MAX 8192u

extern const uint16_t bin_size[BIN_COUNT];
extern const uint16_t bin_count[BIN_COUNT];
extern const uint8_t bin_pages[BIN_COUNT];
extern const uint32_t bin_recip[BIN_COUNT];   /* ceil(2^32 / size): offset -> index */

/* The bin of a size in 1..SMALL_MAX: 16-byte steps to 128, then four bins per doubling. */
ZMM_INLINE unsigned bin_of(size_t n)
{
    if (n <= 128)
        return n ? (unsigned)((n - 1) >> 4) : 0;
    unsigned e = 63u - (unsigned)__builtin_clzl(n - 1);   /* 7 .. 12 */
    return 8u + (e - 7u) * 4u + (unsigned)((n - 1) >> (e - 2u)) - 4u;
}

/* Index of the block that starts at byte OFF of a run of BIN: exact while OFF * (recip * size
 * - 2^32) < 2^32, which holds for OFF < 2^32 / SIZE >= 2^19, beyond any run of 8 pages. */
ZMM_INLINE unsigned bin_slot_index(unsigned bin, size_t off)
{
    return (unsigned)((off * bin_recip[bin]) >> 32);
}

#endif
