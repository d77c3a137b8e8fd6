/* sys.c: owns the way to glibc's own allocator. The functions are looked up in libc.so.6's
 * dynamic symbol table (GNU hash, default version) through dl_iterate_phdr: no dlsym, no
 * allocation, so it works from the very first malloc. Used when ZMM_ALLOC=0, for memory the
 * system allocator handed out, and for ZMM_MEM_TYPE=malloc. Once zmm has used it, any
 * pointer that is not zmm's is given to it; before that, only pointers in the brk heap. Under
 * tracking glibc keeps one arena, the brk heap, which the leak scan never reads: zmm's own
 * work there (libdw, libunwind) leaves stale addresses of the program's blocks behind. */
#include "sys.h"
#include "libc.h"
#include "out.h"

#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

typedef void (*sys_fn)(void);

struct sys_fns {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void *(*memalign)(size_t, size_t);
    void (*free)(void *);
    size_t (*usable)(void *);
    void *(*dlopen)(const char *, int);
    int (*mallopt)(int, int);
};

static struct sys_fns fns;
static atomic_int state;          /* 0 not looked up, 1 in progress, 2 done */
static atomic_bool used;          /* zmm has handed out system memory */
static uintptr_t brk_start;

struct elf_lookup {
    ElfW(Addr) base;
    const ElfW(Sym) *symtab;
    const char *strtab;
    const uint32_t *gnu_hash;
    const ElfW(Half) *versym;
};

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static sys_fn fn_at(ElfW(Addr) addr)
{
    sys_fn f;
    memcpy(&f, &addr, sizeof f);
    return f;
}

static sys_fn elf_find(const struct elf_lookup *l, const char *name)
{
    const uint32_t *ht = l->gnu_hash;
    uint32_t nbuckets = ht[0], symoffset = ht[1], bloom_size = ht[2];
    const ElfW(Addr) *bloom = (const ElfW(Addr) *)(ht + 4);
    const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t h = gnu_hash(name);
    uint32_t idx = buckets[h % nbuckets];
    sys_fn hidden = NULL;
    if (idx < symoffset)
        return NULL;
    for (;; idx++) {
        const ElfW(Sym) *s = &l->symtab[idx];
        uint32_t ch = chain[idx - symoffset];
        if ((h | 1) == (ch | 1) && s->st_shndx != SHN_UNDEF && !strcmp(name, l->strtab + s->st_name)) {
            sys_fn addr = fn_at(l->base + s->st_value);
            if (!l->versym || !(l->versym[idx] & 0x8000))
                return addr;
            hidden = addr;
        }
        if (ch & 1)
            return hidden;
    }
}

static ElfW(Addr) dyn_ptr(ElfW(Addr) base, ElfW(Addr) v)
{
    return v < base ? v + base : v;   /* ld.so relocates some d_ptr entries, not all */
}

static int find_libc(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    const char *name = info->dlpi_name;
    if (strncmp(libc_basename(name), "libc.so.6", 9))
        return 0;
    struct elf_lookup *l = arg;
    l->base = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
            continue;
        const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        for (; d->d_tag != DT_NULL; d++) {
            switch (d->d_tag) {
            case DT_SYMTAB: l->symtab = (const ElfW(Sym) *)dyn_ptr(l->base, d->d_un.d_ptr); break;
            case DT_STRTAB: l->strtab = (const char *)dyn_ptr(l->base, d->d_un.d_ptr); break;
            case DT_GNU_HASH: l->gnu_hash = (const uint32_t *)dyn_ptr(l->base, d->d_un.d_ptr); break;
            case DT_VERSYM: l->versym = (const ElfW(Half) *)dyn_ptr(l->base, d->d_un.d_ptr); break;
            default: break;
            }
        }
    }
    return l->symtab && l->strtab && l->gnu_hash;
}

static const struct sys_fns *sys_fns(void)
{
    if (ZMM_LIKELY(atomic_load_explicit(&state, memory_order_acquire) == 2))
        return &fns;
    int expect = 0;
    if (atomic_compare_exchange_strong(&state, &expect, 1)) {
        struct elf_lookup l = { 0 };
        if (dl_iterate_phdr(find_libc, &l)) {
            fns.malloc = (void *(*)(size_t))elf_find(&l, "malloc");
            fns.calloc = (void *(*)(size_t, size_t))elf_find(&l, "calloc");
            fns.realloc = (void *(*)(void *, size_t))elf_find(&l, "realloc");
            fns.memalign = (void *(*)(size_t, size_t))elf_find(&l, "memalign");
            fns.free = (void (*)(void *))elf_find(&l, "free");
            fns.usable = (size_t (*)(void *))elf_find(&l, "malloc_usable_size");
            fns.dlopen = (void *(*)(const char *, int))elf_find(&l, "dlopen");
            fns.mallopt = (int (*)(int, int))elf_find(&l, "mallopt");
        }
        if (!fns.malloc || !fns.calloc || !fns.realloc || !fns.memalign || !fns.free || !fns.usable)
            out_fault("cannot find the system allocator in libc.so.6");
        atomic_store_explicit(&state, 2, memory_order_release);
    }
    while (atomic_load_explicit(&state, memory_order_acquire) != 2)
        ;
    return &fns;
}

static void *sys_note(void *p)
{
    if (p && !atomic_load_explicit(&used, memory_order_relaxed))
        atomic_store(&used, true);
    return p;
}

void *sys_malloc(size_t n) { return sys_note(sys_fns()->malloc(n)); }
void *sys_calloc(size_t n, size_t m) { return sys_note(sys_fns()->calloc(n, m)); }
void *sys_realloc(void *p, size_t n) { return sys_note(sys_fns()->realloc(p, n)); }
void *sys_memalign(size_t a, size_t n) { return sys_note(sys_fns()->memalign(a, n)); }
void sys_free(void *p) { sys_fns()->free(p); }
size_t sys_usable_size(void *p) { return sys_fns()->usable(p); }
void *sys_dlopen(const char *file, int mode) { return sys_fns()->dlopen(file, mode); }

void sys_init(void)
{
    brk_start = (uintptr_t)sbrk(0);
}

void sys_one_arena(void)
{
    const struct sys_fns *f = sys_fns();
    if (f->mallopt)
        f->mallopt(M_ARENA_MAX, 1);
}

bool sys_owns(const void *p)
{
    if (atomic_load_explicit(&used, memory_order_relaxed))
        return true;
    uintptr_t a = (uintptr_t)p;
    return brk_start && a >= brk_start && a < (uintptr_t)sbrk(0);
}
