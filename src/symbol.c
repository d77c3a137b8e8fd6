/* symbol.c: owns the translation of program counters to names for reports. The loaded
 * object and the offset from its load bias come from dl_iterate_phdr, always. Function and
 * file:line come from libdw, opened with dlopen at the first session and never linked; one
 * Dwfl of this process's mappings serves every session (symbol_begin to symbol_end) until
 * symbol_close. Without libdw the function is the exported symbol dladdr finds, if any. Every
 * string is bounded and NUL-terminated. libdw and __cxa_demangle allocate with malloc; this
 * file never does, and gives their results back with free(). The caller serialises sessions
 * and lookups. */
#include "symbol.h"
#include "fd.h"
#include "libc.h"
#include "sys.h"

#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* ---- the object holding pc ------------------------------------------------------------- */

struct object_hit {
    uintptr_t pc;
    uintptr_t bias;
    const char *name;    /* dlpi_name: "" for the main program */
    bool vdso;
    bool found;
};

static bool is_vdso(const struct dl_phdr_info *info)
{
    const ElfW(Ehdr) *ehdr = (const ElfW(Ehdr) *)getauxval(AT_SYSINFO_EHDR);
    return ehdr && (const void *)info->dlpi_phdr == (const void *)((const char *)ehdr + ehdr->e_phoff);
}

static int object_visit(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct object_hit *h = arg;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type != PT_LOAD || h->pc < start || h->pc - start >= ph->p_memsz)
            continue;
        h->bias = info->dlpi_addr;
        h->name = info->dlpi_name ? info->dlpi_name : "";
        h->vdso = is_vdso(info);
        h->found = true;
        return 1;
    }
    return 0;
}

/* The main program has no name in the list: its path is /proc/self/exe. The vDSO has no
 * file: it keeps the name the loader gives it (linux-vdso.so.1), or "[vdso]". */
static void object_name(const struct object_hit *h, char *dst, size_t cap)
{
    if (h->name[0]) {
        copy_text(dst, cap, h->name);
        return;
    }
    if (h->vdso) {
        copy_text(dst, cap, "[vdso]");
        return;
    }
    libc_exe_path(dst, cap);
}

static void object_lookup(uintptr_t pc, struct symbol *s)
{
    struct object_hit h = { .pc = pc };
    if (!dl_iterate_phdr(object_visit, &h) || !h.found)
        return;
    object_name(&h, s->object, sizeof s->object);
    s->offset = pc - h.bias;
}

/* ---- function names: demangling and the dladdr fallback ---------------------------------- */

typedef char *cxa_demangle_fn(const char *, char *, size_t *, int *);

/* C++ names are demangled by the program's own C++ runtime when it has one; a C program
 * keeps the mangled name. A symbol version is left out. */
static void function_name(char *dst, size_t cap, const char *name)
{
    if (!name)
        return;
    if (name[0] == '_' && name[1] == 'Z') {
        void *sym = dlsym(RTLD_DEFAULT, "__cxa_demangle");
        cxa_demangle_fn *demangle;
        memcpy(&demangle, &sym, sizeof demangle);
        int status = -1;
        char *plain = demangle ? demangle(name, NULL, NULL, &status) : NULL;
        if (plain && status == 0) {
            copy_text(dst, cap, plain);
            free(plain);
            return;
        }
        free(plain);
    }
    copy_text(dst, cap, name);
    char *version = strchr(dst, '@');  /* a symbol table's "__libc_start_main@@GLIBC_2.34" */
    if (version && version != dst)
        *version = '\0';
}

/* Without libdw: the dynamic symbol that contains pc, if the object exports one. */
static void exported_name(uintptr_t pc, struct symbol *s)
{
    Dl_info info;
    if (dladdr((const void *)pc, &info) && info.dli_sname && info.dli_saddr)
        function_name(s->function, sizeof s->function, info.dli_sname);
}

/* ---- libdw --------------------------------------------------------------------------------- */

#if ZMM_HAVE_LIBDW
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

static struct {
    bool tried, loaded;
    __typeof__(dwfl_begin) *begin;
    __typeof__(dwfl_end) *end;
    __typeof__(dwfl_linux_proc_report) *proc_report;
    __typeof__(dwfl_report_end) *report_end;
    __typeof__(dwfl_report_begin) *report_begin;
    __typeof__(dwfl_linux_proc_find_elf) *proc_find_elf;
    __typeof__(dwfl_standard_find_debuginfo) *find_debuginfo;
    __typeof__(dwfl_build_id_find_debuginfo) *build_id_find_debuginfo;
    __typeof__(dwfl_addrmodule) *addrmodule;
    __typeof__(dwfl_module_addrdie) *addrdie;
    __typeof__(dwfl_module_nextcu) *nextcu;
    __typeof__(dwfl_module_addrname) *addrname;
    __typeof__(dwarf_haspc) *haspc;
    __typeof__(dwarf_getsrc_die) *getsrc_die;
    __typeof__(dwarf_linesrc) *linesrc;
    __typeof__(dwarf_lineno) *lineno;
    __typeof__(dwarf_getscopes) *getscopes;
    __typeof__(dwarf_tag) *tag;
    __typeof__(dwarf_srclang) *srclang;
    __typeof__(dwarf_attr_integrate) *attr_integrate;
    __typeof__(dwarf_formstring) *formstring;
    __typeof__(dwarf_diename) *diename;
} dw;

static Dwfl_Callbacks dw_callbacks;   /* must outlive the session's Dwfl */
static Dwfl *dw_session;
#define DW_FILES 256
static struct fd_mark dw_files[DW_FILES];  /* the descriptors the session's finders opened */
static unsigned dw_file_count;

/* A descriptor a finder opened for the session: moved up and remembered (in the place of a
 * number libdw had before and closed itself). */
static int dw_keep(int fd)
{
    fd = fd_move(fd);
    unsigned i = 0;
    while (i < dw_file_count && dw_files[i].fd != fd)
        i++;
    if (fd >= 0 && i < DW_FILES) {
        fd_mark(&dw_files[i], fd);
        dw_file_count += i == dw_file_count;
    }
    return fd;
}

/* Is none of the session's descriptors now another file under the same number (opened by the
 * program after it closed libdw's)? A closed one is harmless: libdw may have closed it
 * itself (a debug file that did not match), and reads from it fail. */
static bool dw_files_valid(void)
{
    for (unsigned i = 0; i < dw_file_count; i++)
        if (fd_taken(&dw_files[i]))
            return false;
    return true;
}

static int dw_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                       char **file_name, Elf **elfp)
{
    return dw_keep(dw.proc_find_elf(mod, userdata, modname, base, file_name, elfp));
}
static unsigned long long dw_generation;   /* the loader's, when the session was reported */

static int generation_visit(struct dl_phdr_info *info, size_t size, void *arg)
{
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        *(unsigned long long *)arg = info->dlpi_adds + info->dlpi_subs;
    return 1;
}

/* Changes whenever the loader maps or unmaps an object. */
static unsigned long long loader_generation(void)
{
    unsigned long long g = 0;
    dl_iterate_phdr(generation_visit, &g);
    return g;
}

static bool dw_sym(void *lib, const char *name, void *slot)
{
    void *p = dlsym(lib, name);
    memcpy(slot, &p, sizeof p);
    return p != NULL;
}

/* dwfl_standard_find_debuginfo looks in the build-id directories, then by path and
 * .gnu_debuglink, then asks the debuginfod servers in DEBUGINFOD_URLS (Debian's login shells
 * set it): a download, with timeouts in minutes, from inside the program at exit. With
 * DEBUGINFOD_URLS set, only the local build-id directories are searched. */
static int dw_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                             Dwarf_Addr base, const char *file, const char *debuglink,
                             GElf_Word crc, char **debuginfo_file)
{
    const char *urls = getenv("DEBUGINFOD_URLS");
    if (urls && urls[0])
        return dw_keep(dw.build_id_find_debuginfo(mod, userdata, modname, base, file, debuglink, crc,
                                                  debuginfo_file));
    return dw_keep(dw.find_debuginfo(mod, userdata, modname, base, file, debuglink, crc, debuginfo_file));
}

/* Once per process: libdw stays loaded, its functions are looked up once. */
static bool dw_load(void)
{
    if (dw.tried)
        return dw.loaded;
    dw.tried = true;
    void *lib = sys_dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return false;
    const struct { const char *name; void *slot; } fns[] = {
        { "dwfl_begin", &dw.begin },
        { "dwfl_end", &dw.end },
        { "dwfl_linux_proc_report", &dw.proc_report },
        { "dwfl_report_end", &dw.report_end },
        { "dwfl_report_begin", &dw.report_begin },
        { "dwfl_linux_proc_find_elf", &dw.proc_find_elf },
        { "dwfl_standard_find_debuginfo", &dw.find_debuginfo },
        { "dwfl_build_id_find_debuginfo", &dw.build_id_find_debuginfo },
        { "dwfl_addrmodule", &dw.addrmodule },
        { "dwfl_module_addrdie", &dw.addrdie },
        { "dwfl_module_nextcu", &dw.nextcu },
        { "dwfl_module_addrname", &dw.addrname },
        { "dwarf_haspc", &dw.haspc },
        { "dwarf_getsrc_die", &dw.getsrc_die },
        { "dwarf_linesrc", &dw.linesrc },
        { "dwarf_lineno", &dw.lineno },
        { "dwarf_getscopes", &dw.getscopes },
        { "dwarf_tag", &dw.tag },
        { "dwarf_srclang", &dw.srclang },
        { "dwarf_attr_integrate", &dw.attr_integrate },
        { "dwarf_formstring", &dw.formstring },
        { "dwarf_diename", &dw.diename },
    };
    dw.loaded = true;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        dw.loaded &= dw_sym(lib, fns[i].name, fns[i].slot);
    if (dw.loaded) {
        dw_callbacks.find_elf = dw_find_elf;
        dw_callbacks.find_debuginfo = dw_find_debuginfo;
    }
    return dw.loaded;
}

static bool dw_open(void)
{
    if (!dw_load())
        return false;
    Dwfl *d = dw.begin(&dw_callbacks);
    if (!d)
        return false;
    dw_generation = loader_generation();
    if (dw.proc_report(d, getpid()) != 0 || dw.report_end(d, NULL, NULL) != 0) {
        dw.end(d);
        return false;
    }
    dw_session = d;
    return true;
}

/* An object loaded or unloaded since the session began: report the mappings again (the
 * modules still there keep what libdw has read of them; the others are dropped). */
static bool dw_refresh(void)
{
    unsigned long long g = loader_generation();
    if (g == dw_generation)
        return false;
    dw_generation = g;
    dw.report_begin(dw_session);
    return dw.proc_report(dw_session, getpid()) == 0 && dw.report_end(dw_session, NULL, NULL) == 0;
}

static void dw_close(void)
{
    if (dw_session)
        dw.end(dw_session);
    dw_session = NULL;
    dw_file_count = 0;
}

/* The program closed a descriptor of the session's and opened a file of its own under its
 * number: the session is dropped without dwfl_end, which would close it, and its memory is
 * left to the system allocator. */
static bool dw_stale(void)
{
    if (!dw_session || dw_files_valid())
        return false;
    dw_session = NULL;
    dw_file_count = 0;
    return true;
}

static bool is_mangled(const char *name)
{
    return name && name[0] == '_' && name[1] == 'Z';
}

/* A mangled linkage name (C++, Rust: "_Z...") demangles to the qualified signature; other
 * linkage names are assembler labels (glibc's __GI_ aliases), so DW_AT_name is better. Both
 * are read through DW_AT_abstract_origin and DW_AT_specification. */
static const char *dw_die_name(Dwarf_Die *die)
{
    static const unsigned attrs[] = { DW_AT_linkage_name, DW_AT_MIPS_linkage_name };
    const char *linkage = NULL;
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && !linkage; i++) {
        Dwarf_Attribute mem;
        linkage = dw.formstring(dw.attr_integrate(die, attrs[i], &mem));
    }
    if (is_mangled(linkage))
        return linkage;
    const char *name = dw.diename(die);
    return name && name[0] ? name : linkage;
}

/* The compilation unit whose ranges hold pc. libdwfl (0.188) looks in .debug_aranges only,
 * which clang does not write by default, and gives an address in a gap between units (crt1's
 * _start, PLT stubs) to the unit before it. So its answer is checked, and when it has none
 * or a wrong one the units are walked (libdw keeps them parsed; a miss costs one pass). */
static Dwarf_Die *dw_unit(Dwfl_Module *mod, uintptr_t pc, Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dw.addrdie(mod, pc, bias);
    if (cu && dw.haspc(cu, pc - *bias) > 0)
        return cu;
    for (cu = NULL; (cu = dw.nextcu(mod, cu, bias)) != NULL;)
        if (dw.haspc(cu, pc - *bias) > 0)
            return cu;
    return NULL;
}

/* The name of the innermost function, inlined or not, whose scope holds ADDR (a DWARF
 * address), or NULL. The string is libdw's, valid until the session ends. */
static const char *dw_function(Dwarf_Die *cu, Dwarf_Addr addr, bool *inlined)
{
    Dwarf_Die *scopes = NULL;
    int n = dw.getscopes(cu, addr, &scopes);
    const char *name = NULL;
    for (int i = 0; i < n; i++) {
        int tag = dw.tag(&scopes[i]);
        if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
            continue;
        name = dw_die_name(&scopes[i]);
        *inlined = tag == DW_TAG_inlined_subroutine;
        break;
    }
    if (n > 0)
        free(scopes);
    return name;
}

static bool dw_cxx(Dwarf_Die *cu)
{
    int lang = dw.srclang(cu);
    return lang == DW_LANG_C_plus_plus || lang == DW_LANG_C_plus_plus_03
        || lang == DW_LANG_C_plus_plus_11 || lang == DW_LANG_C_plus_plus_14;
}

/* DWARF names the function; the symbol table stands in when DWARF has nothing, and for a
 * C++ function that is not inlined and has no linkage name in DWARF (GCC writes none for
 * internal linkage: anonymous namespaces, static functions), since its symbol is mangled:
 * "(anonymous namespace)::make()" rather than "make". */
static const char *dw_name(Dwfl_Module *mod, Dwarf_Die *cu, uintptr_t pc, Dwarf_Addr bias)
{
    bool inlined = false;
    const char *name = cu ? dw_function(cu, pc - bias, &inlined) : NULL;
    if (!name)
        return dw.addrname(mod, pc);
    if (!inlined && !is_mangled(name) && dw_cxx(cu)) {
        const char *sym = dw.addrname(mod, pc);
        if (is_mangled(sym))
            return sym;
    }
    return name;
}

/* DIR/FILE into DST, "." and ".." components and repeated slashes resolved as text (the
 * build directory is taken as it was): "/b/build/../src/a.c" is "/b/src/a.c". Once DST is
 * full the rest is left out. */
static void path_join(char *dst, size_t cap, const char *dir, const char *file)
{
    const char *parts[] = { dir, file };
    size_t len = 0;
    for (size_t k = 0; k < 2; k++) {
        for (const char *p = parts[k]; *p;) {
            while (*p == '/')
                p++;
            const char *c = p;
            while (*p && *p != '/')
                p++;
            size_t n = (size_t)(p - c);
            if (n == 0 || (n == 1 && c[0] == '.'))
                continue;
            if (n == 2 && c[0] == '.' && c[1] == '.') {
                while (len && dst[len - 1] != '/')
                    len--;
                if (len)
                    len--;
                continue;
            }
            if (len + 1 + n >= cap) {
                n = len + 1 < cap ? cap - len - 2 : 0;
                if (len + 1 < cap)
                    dst[len++] = '/';
                memcpy(dst + len, c, n);
                dst[len + n] = '\0';
                return;
            }
            dst[len++] = '/';
            memcpy(dst + len, c, n);
            len += n;
        }
    }
    if (!len)
        dst[len++] = '/';
    dst[len] = '\0';
}

/* file:line of pc in its unit's line table (dwfl_module_getsrc would ask libdwfl for the unit
 * again); a file named relative to the unit's directory is made absolute. No line (0: code
 * the compiler made) means no file either. */
static void dw_line(Dwarf_Die *cu, Dwarf_Addr addr, struct symbol *s)
{
    Dwarf_Line *line = dw.getsrc_die(cu, addr);
    const char *file = line ? dw.linesrc(line, NULL, NULL) : NULL;
    int lineno = 0;
    if (!file || !file[0] || dw.lineno(line, &lineno) != 0 || lineno <= 0)
        return;
    Dwarf_Attribute mem;
    const char *dir = file[0] != '/' ? dw.formstring(dw.attr_integrate(cu, DW_AT_comp_dir, &mem)) : NULL;
    if (dir && dir[0] == '/')
        path_join(s->file, sizeof s->file, dir, file);
    else
        copy_text(s->file, sizeof s->file, file);
    s->line = (unsigned)lineno;
}

/* The C runtime (libc, the loader): the frames every stack ends in (startup) or passes
 * through (strdup, fopen). Their names come from the symbol tables; their DWARF, where
 * Debian's libc6-dbg installs it, is compressed and large (decompressing it cost a short
 * process 200 ms per report), and its file:line tells nothing about the program's leak. */
static bool runtime_object(const char *object)
{
    const char *base = libc_basename(object);
    return !strncmp(base, "libc.so.", 8) || !strncmp(base, "ld-linux", 8);
}

static void dw_describe(uintptr_t pc, struct symbol *s)
{
    Dwfl_Module *mod = dw.addrmodule(dw_session, pc);
    if (!mod && dw_refresh())
        mod = dw.addrmodule(dw_session, pc);
    if (!mod)
        return;
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = runtime_object(s->object) ? NULL : dw_unit(mod, pc, &bias);
    function_name(s->function, sizeof s->function, dw_name(mod, cu, pc, bias));
    if (cu)
        dw_line(cu, pc - bias, s);
}

static bool dw_active(void) { return dw_session != NULL; }
#else
static bool dw_open(void) { return false; }
static void dw_close(void) {}
static bool dw_stale(void) { return false; }
static bool dw_refresh(void) { return false; }
static void dw_describe(uintptr_t pc, struct symbol *s) { (void)pc; (void)s; }
static bool dw_active(void) { return false; }
#endif

/* ---- sessions ------------------------------------------------------------------------------ */

/* The files libdw keeps open between sessions are zmm's descriptors: moved up by fd.c when
 * libdw's finders open them, and checked at each session; if the program has closed one, the
 * old view is dropped unread (ending it would close numbers that are now the program's). */

static bool session;

/* libdw's view of the process outlives a session: a request's report reads only the
 * debug information the previous ones have not (objects loaded since are reported again). */
void symbol_begin(void)
{
    dw_stale();
    if (dw_active())
        dw_refresh();
    else
        dw_open();
    session = true;
}

void symbol_end(void)
{
    session = false;
}

void symbol_close(void)
{
    dw_close();
    session = false;
}

void symbol_lookup(uintptr_t pc, struct symbol *s)
{
    s->pc = pc;
    s->object[0] = s->function[0] = s->file[0] = '\0';
    s->offset = 0;
    s->line = 0;
    object_lookup(pc, s);
    if (!session || !s->object[0])
        return;
    if (dw_active())
        dw_describe(pc, s);
    else
        exported_name(pc, s);
}
