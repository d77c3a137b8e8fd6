/* os.c: the only caller of mmap, munmap, mremap and madvise. It hands out CHUNK-aligned
 * memory for chunks and huge blocks from the source ZMM_MEM_TYPE names (anonymous maps,
 * private maps of /dev/zero, or 2 MiB-aligned blocks of the system allocator, which can
 * neither be resized in place nor moved), and page-aligned zeroed memory for metadata.
 * It never reserves more address space than it returns (RLIMIT_AS stays meaningful).
 * ZMM_FAIL_MAP (fault injection, for tests) makes the Nth mapping fail, or every one from the
 * Nth on, as the kernel would with ENOMEM; mappings are counted in the order they are asked.
 * It parses no option text: start-up hands it the values (os_configure). */
#include "os.h"
#include "fd.h"
#include "sys.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

static enum mem_type mem_type = MEM_MMAP_ANON;
static bool huge_pages;
static struct fd_mark zero = { .fd = -1 };     /* /dev/zero, for MEM_MMAP_ZERO */
static size_t fail_first, fail_last;       /* ZMM_FAIL_MAP: these mappings fail; 0 for none */
static atomic_size_t maps;                 /* mappings asked for so far */

/* Does this mapping fail on purpose (ZMM_FAIL_MAP)? */
static bool os_injected(void)
{
    if (ZMM_LIKELY(!fail_first))
        return false;
    size_t n = atomic_fetch_add_explicit(&maps, 1, memory_order_relaxed) + 1;
    if (n >= fail_first && n <= fail_last) {
        errno = ENOMEM;
        return true;
    }
    return false;
}

void os_configure(enum mem_type type, bool thp, size_t first, size_t last)
{
    fail_first = first;
    fail_last = last;
    mem_type = type;
    huge_pages = thp;
    if (mem_type == MEM_MMAP_ZERO) {
        fd_mark(&zero, fd_move(open("/dev/zero", O_RDWR | O_CLOEXEC)));
        if (zero.fd < 0)
            mem_type = MEM_MMAP_ANON;
    }
}

static void *os_mmap(void *hint, size_t size)
{
    if (os_injected())
        return NULL;
    void *p;
    if (mem_type == MEM_MMAP_ZERO && ZMM_UNLIKELY(!fd_valid(&zero)))   /* the program closed it */
        fd_mark(&zero, fd_move(open("/dev/zero", O_RDWR | O_CLOEXEC)));
    if (mem_type == MEM_MMAP_ZERO && zero.fd >= 0)
        p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, zero.fd, 0);
    else
        p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void os_advise_new(void *p, size_t size)
{
    if (huge_pages)
        madvise(p, size, MADV_HUGEPAGE);
}

void *os_map_aligned(size_t size, size_t align)
{
    if (mem_type == MEM_MALLOC) {
        void *p = sys_memalign(align, size);
        if (p)
            __builtin_memset(p, 0, size);
        return p;
    }
    /* Lucky first: the kernel often places a mapping right below the previous one, which
     * is aligned when the sizes are multiples of ALIGN (chunks); other sizes map the slack
     * at once. */
    uint8_t *p;
    if ((size & (align - 1)) == 0) {
        p = os_mmap(NULL, size);
        if (!p)
            return NULL;
        if (((uintptr_t)p & (align - 1)) == 0) {
            os_advise_new(p, size);
            return p;
        }
        munmap(p, size);
    }
    if (size + align < size)
        return NULL;
    p = os_mmap(NULL, size + align - PAGE_SIZE);
    if (!p)
        return NULL;
    uint8_t *a = (uint8_t *)align_up((uintptr_t)p, align);
    size_t head = (size_t)(a - p);
    size_t tail = align - PAGE_SIZE - head;
    if (head)
        munmap(p, head);
    if (tail)
        munmap(a + size, tail);
    os_advise_new(a, size);
    return a;
}

void os_unmap_aligned(void *p, size_t size)
{
    int saved = errno;
    if (mem_type == MEM_MALLOC)
        sys_free(p);
    else
        munmap(p, size);
    errno = saved;
}

bool os_can_split(void)
{
    return mem_type != MEM_MALLOC;
}

bool os_resize_inplace(void *p, size_t old_size, size_t new_size)
{
    if (mem_type == MEM_MALLOC)
        return new_size <= old_size;
    int saved = errno;
    bool ok;
    if (new_size < old_size)
        ok = munmap((uint8_t *)p + new_size, old_size - new_size) == 0;
    else
        ok = mremap(p, old_size, new_size, 0) != MAP_FAILED;
    errno = saved;
    return ok;
}

void *os_move(void *p, size_t old_size, size_t new_size, size_t align)
{
    if (mem_type != MEM_MMAP_ANON)
        return NULL;
    void *to = os_map_aligned(new_size, align);
    if (!to)
        return NULL;
    void *r = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
    if (r == MAP_FAILED) {
        munmap(to, new_size);
        return NULL;
    }
    return r;
}

void os_purge(void *p, size_t size)
{
    int saved = errno;
    madvise(p, size, MADV_DONTNEED);
    errno = saved;
}

void *os_map_meta(size_t size)
{
    if (os_injected())
        return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *os_map_scratch(size_t size)
{
    int saved = errno;
    if (os_injected()) {
        errno = saved;
        return NULL;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    errno = saved;
    return p == MAP_FAILED ? NULL : p;
}

void os_unmap_scratch(void *p, size_t size)
{
    int saved = errno;
    if (p)
        munmap(p, size);
    errno = saved;
}

bool os_resident(const void *p, size_t size, unsigned char *vec)
{
    int saved = errno;
    bool ok = mincore((void *)p, size, vec) == 0;
    errno = saved;
    return ok;
}

int os_pagemap_open(void)
{
    return open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

/* /proc/self/pagemap: bit 63 present, 62 swapped, 56 mapped by this process only. */
bool os_written(int pagemap, const void *p, size_t size, unsigned char *vec)
{
    uint64_t e[CHUNK_SIZE / PAGE_SIZE];
    uintptr_t first = (uintptr_t)p >> PAGE_SHIFT;
    size_t pages = size >> PAGE_SHIFT;
    int saved = errno;
    for (size_t done = 0; done < pages;) {
        size_t n = pages - done < sizeof e / sizeof e[0] ? pages - done : sizeof e / sizeof e[0];
        ssize_t got = pread(pagemap, e, n * sizeof e[0], (off_t)((first + done) * sizeof e[0]));
        if (got != (ssize_t)(n * sizeof e[0])) {
            errno = saved;
            return false;
        }
        for (size_t i = 0; i < n; i++)
            vec[done + i] = (e[i] >> 62 & 1) || ((e[i] >> 63 & 1) && (e[i] >> 56 & 1));
        done += n;
    }
    errno = saved;
    return true;
}
