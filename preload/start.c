/* start.c: the library's constructor and destructor, forwards into src/. The heap does not
 * wait for them: it starts on the first allocation, which may come earlier. */
#include "process.h"

__attribute__((constructor)) static void zmm_preload_start(void) { zmm_start(); }
__attribute__((destructor)) static void zmm_preload_exit(void) { zmm_exit(); }
