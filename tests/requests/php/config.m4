dnl zmmleak: a PHP extension whose one function leaks 2 MiB of malloc'd memory per call.
PHP_ARG_ENABLE([zmmleak], [whether to enable zmmleak], [--enable-zmmleak])
if test "$PHP_ZMMLEAK" != "no"; then
  PHP_NEW_EXTENSION(zmmleak, zmmleak.c, $ext_shared)
fi
