/* stack.h: the call stack of an allocation, as return addresses. */
#ifndef ZMM_STACK_H
#define ZMM_STACK_H

#include "defs.h"
#include "options.h"     /* STACK_DEPTH_MAX: frames kept at most */

#define STACK_SKIP_MAX    16    /* zmm's own frames above the caller, at most */

/* Up to DEPTH return addresses, innermost first, starting at the caller of the allocation
 * function (zmm's frames cut off). The caller holds the re-entry guard. With SLOTS, also
 * where on the stack each return address is stored, searching up from FROM, which must lie
 * above any copy of them the caller keeps (slots[0] is 0 when they could not all be found, or
 * FROM is not on the thread's own stack): a later call may check those words instead of
 * unwinding again, as long as the thread lives. */
unsigned stack_capture(uintptr_t *pcs, unsigned depth, uintptr_t *slots, uintptr_t from);
/* Is AT on the calling thread's own stack (not a signal stack or a coroutine's)? Only there
 * may remembered return-address slots be read again. */
bool stack_on_home(uintptr_t at);
/* Is PC in the dynamic loader (whose allocations are the runtime's own)? */
bool stack_in_loader(uintptr_t pc);

#endif
