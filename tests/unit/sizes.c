/* The size class table: every size maps to the smallest bin that holds it, blocks stay
 * 16-byte aligned, runs are filled, a run's bin, page and free count fit its page map
 * entries, and the reciprocal index is exact over a whole run. */
#include "chunk.h"
#include "sizes.h"
#include "unit.h"

int main(void)
{
    CHECK(BIN_COUNT == 32, "%d bins", (int)BIN_COUNT);
    CHECK(bin_size[BIN_COUNT - 1] == SMALL_MAX, "last bin %u", bin_size[BIN_COUNT - 1]);
    CHECK(SMALL_MAX == 8192, "SMALL_MAX %u", SMALL_MAX);
    for (size_t n = 0; n <= SMALL_MAX; n++) {
        unsigned b = bin_of(n);
        CHECK(b < BIN_COUNT, "size %zu -> bin %u", n, b);
        if (b >= BIN_COUNT)
            continue;
        CHECK(bin_size[b] >= n, "size %zu in bin %u of %u", n, b, bin_size[b]);
        CHECK(b == 0 || bin_size[b - 1] < n, "size %zu fits the smaller bin %u", n, b - 1);
    }
    for (unsigned b = 0; b < BIN_COUNT; b++) {
        size_t run = (size_t)bin_pages[b] * 4096;
        CHECK(bin_size[b] % 16 == 0, "bin %u size %u not 16-aligned", b, bin_size[b]);
        CHECK(b == 0 || bin_size[b - 1] < bin_size[b], "bin %u not above bin %u", b, b - 1);
        CHECK(bin_pages[b] >= 1 && bin_pages[b] <= 8, "bin %u: %u pages", b, bin_pages[b]);
        CHECK(bin_count[b] >= 1 && bin_count[b] <= 1023, "bin %u: %u blocks", b, bin_count[b]);
        CHECK((size_t)bin_count[b] * bin_size[b] <= run, "bin %u overflows its run", b);
        CHECK(run - (size_t)bin_count[b] * bin_size[b] < bin_size[b], "bin %u leaves a block unused", b);
        for (unsigned d = 0; d < bin_pages[b]; d++) {
            uint32_t m = PG_SMALL_ENTRY(b, d) + (uint32_t)bin_count[b] * PG_COUNT_ONE;
            CHECK(PG_KIND(m) == PG_SMALL && PG_BIN(m) == b && PG_N(m) == d && PG_COUNT(m) == bin_count[b],
                  "bin %u page %u: map entry %#x", b, d, m);
        }
        for (size_t off = 0; off < run; off++) {
            unsigned idx = bin_slot_index(b, off);
            if (idx != off / bin_size[b]) {
                CHECK(0, "bin %u offset %zu -> %u, want %zu", b, off, idx, off / bin_size[b]);
                break;
            }
        }
    }
    return UNIT_DONE();
}
