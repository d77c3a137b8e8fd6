/* The stack depot: one id per distinct stack, the same id for the same stack, frames read
 * back as stored, id 0 for no stack, many stacks sharing buckets. */
#include "depot.h"
#include "unit.h"

int main(void)
{
    uintptr_t a[] = { 0x401000, 0x402000, 0x403000 }, b[] = { 0x401000, 0x402000, 0x403001 };
    uint32_t ia = depot_put(a, 3), ib = depot_put(b, 3), ia2 = depot_put(a, 2);
    CHECK(ia && ib && ia2 && ia != ib && ia != ia2 && ib != ia2, "ids %u %u %u", ia, ib, ia2);
    CHECK(depot_put(a, 3) == ia && depot_put(b, 3) == ib, "same stack, same id");
    CHECK(depot_put(a, 0) == DEPOT_NONE, "no frames, no stack");
    const uintptr_t *pcs;
    CHECK(depot_get(ib, &pcs) == 3 && pcs[0] == b[0] && pcs[2] == b[2], "frames read back");
    CHECK(depot_get(DEPOT_NONE, &pcs) == 0 && pcs == NULL, "id 0 has no frames");
    size_t before = depot_stacks();
    /* Enough stacks to share buckets and fill more than one 1 MiB block. */
    enum { MANY = 70000 };
    static uint32_t ids[MANY];
    uintptr_t s[4];
    for (unsigned i = 0; i < MANY; i++) {
        s[0] = 0x500000 + i, s[1] = 0x600000, s[2] = i * 7u, s[3] = 42;
        ids[i] = depot_put(s, 1 + i % 4);
    }
    CHECK(depot_stacks() == before + MANY, "stacks %zu", depot_stacks() - before);
    unsigned wrong = 0;
    for (unsigned i = 0; i < MANY; i++) {
        s[0] = 0x500000 + i, s[1] = 0x600000, s[2] = i * 7u, s[3] = 42;
        wrong += depot_put(s, 1 + i % 4) != ids[i] || depot_get(ids[i], &pcs) != 1 + i % 4 || pcs[0] != s[0];
    }
    CHECK(wrong == 0, "%u stacks came back different", wrong);
    return UNIT_DONE();
}
