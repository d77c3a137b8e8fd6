/* os.h: the OS layer, the only place memory is mapped, unmapped, remapped or advised. */
#ifndef ZMM_OS_H
#define ZMM_OS_H

#include "defs.h"

/* ZMM_MEM_TYPE: where chunks come from. */
enum mem_type { MEM_MMAP_ANON, MEM_MMAP_ZERO, MEM_MALLOC };

/* ZMM_MEM_TYPE, ZMM_HUGE_PAGES, and ZMM_FAIL_MAP: the mappings FAIL_FIRST..FAIL_LAST (counted
 * from 1) fail as with ENOMEM; FAIL_FIRST 0 for none. */
void os_configure(enum mem_type type, bool huge_pages, size_t fail_first, size_t fail_last);

/* SIZE bytes (a page multiple) at an ALIGN-aligned address (a power of two >= CHUNK_SIZE),
 * or NULL. Fresh memory reads as zero. */
void *os_map_aligned(size_t size, size_t align);
void os_unmap_aligned(void *p, size_t size);
/* Can a CHUNK-aligned piece of such a mapping be unmapped (or resized) on its own? */
bool os_can_split(void);
/* Grow or shrink a mapping from os_map_aligned in place; false if the neighbours are taken. */
bool os_resize_inplace(void *p, size_t old_size, size_t new_size);
/* Move a mapping to a fresh ALIGN-aligned address of NEW_SIZE bytes without copying; NULL
 * if that cannot be done (the old mapping is then untouched). */
void *os_move(void *p, size_t old_size, size_t new_size, size_t align);
/* Give the pages back (contents become zero on next touch); the range stays mapped. */
void os_purge(void *p, size_t size);

/* Zeroed, page-aligned memory for zmm's own tables; never given back. */
void *os_map_meta(size_t size);

/* Zeroed memory for the length of a scan or a report, then given back. */
void *os_map_scratch(size_t size);
void os_unmap_scratch(void *p, size_t size);
/* Which pages of [p, p + size) are in memory: one byte per page in VEC (bit 0); false if
 * the range is not all mapped. */
bool os_resident(const void *p, size_t size, unsigned char *vec);
/* /proc/self/pagemap, opened for os_written (the caller closes it). */
int os_pagemap_open(void);
/* In a fork child: which pages of [p, p + size) (page multiples) may have been written since
 * the fork: one byte per page in VEC, 1 for a page this process alone maps (or swapped out), 0
 * for one still shared with the parent, or never touched. False if PAGEMAP cannot tell. */
bool os_written(int pagemap, const void *p, size_t size, unsigned char *vec);

#endif
