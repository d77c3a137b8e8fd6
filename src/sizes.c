/* sizes.c: the small size class table of sizes.h, expanded into the arrays the engine reads.
 * bin_recip turns a byte offset inside a run into a block index with a multiply, exactly
 * for every offset a run can hold (runs are at most 8 pages). */
#include "sizes.h"

#define SIZE_(bin, size, count, pages) [bin] = size,
#define COUNT_(bin, size, count, pages) [bin] = count,
#define PAGES_(bin, size, count, pages) [bin] = pages,
#define RECIP_(bin, size, count, pages) [bin] = (uint32_t)((((uint64_t)1 << 32) + size - 1) / size),

const uint16_t bin_size[BIN_COUNT] = { ZMM_BINS(SIZE_) };
const uint16_t bin_count[BIN_COUNT] = { ZMM_BINS(COUNT_) };
const uint8_t bin_pages[BIN_COUNT] = { ZMM_BINS(PAGES_) };
const uint32_t bin_recip[BIN_COUNT] = { ZMM_BINS(RECIP_) };

#define CHECK_(bin, size, count, pages) \
    _Static_assert(size % 16 == 0 && size * count <= pages * 4096 && pages <= 8 && count < 1024, "bin " #bin);
ZMM_BINS(CHECK_)
_Static_assert(BIN_COUNT <= 32, "a page map entry keeps the bin in 5 bits");
