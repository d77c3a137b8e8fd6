/* zmmleak: the seed's scenario, a PHP extension that leaks. zmmleak_leak() mallocs 2 MiB (not
 * emalloc: Zend MM would free that at the end of the request), writes it, and forgets it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "php.h"

#include <stdlib.h>
#include <string.h>

static char *volatile last;

PHP_FUNCTION(zmmleak_leak)
{
    ZEND_PARSE_PARAMETERS_NONE();
    char *block = malloc((size_t)2 << 20); /* @php-leak */
    if (block)
        memset(block, 'z', (size_t)2 << 20);
    last = block;
    last = NULL;
    RETURN_BOOL(block != NULL);
}

ZEND_BEGIN_ARG_INFO_EX(arginfo_zmmleak_leak, 0, 0, 0)
ZEND_END_ARG_INFO()

static const zend_function_entry zmmleak_functions[] = {
    PHP_FE(zmmleak_leak, arginfo_zmmleak_leak)
    PHP_FE_END
};

zend_module_entry zmmleak_module_entry = {
    STANDARD_MODULE_HEADER, "zmmleak", zmmleak_functions, NULL, NULL, NULL, NULL, NULL, "0.1",
    STANDARD_MODULE_PROPERTIES
};

ZEND_GET_MODULE(zmmleak)
