// leaks_cxx.cpp: `leaks-cxx`, C++ leaks for the 'leaks' suite: the report must show demangled
// names. Built like leaks.c (no frame pointers, noipa, KEEP after each marked call); the marked
// lines are read by check.py.
//
// operator new lives in libstdc++ and calls malloc, so the first frames of each stack are
// libstdc++'s; then come:
//   zmmtest::Factory::make(int)         new Widget[3]: 3 x 40 = 120 bytes
//   long* zmmtest::fill<long>(unsigned long)   new long[n] for n = 9: 72 bytes
//   (anonymous namespace)::make_widget()  new Widget: 40 bytes
#include <cstddef>
#include <cstdio>

#include "keep.h"

namespace zmmtest {

struct Widget {
    long v[5];
};

class Factory {
public:
    NOIPA static Widget *make(int n);
};

Widget *Factory::make(int n)
{
    Widget *w = new Widget[n]; // @cxx-make
    KEEP(w);
    return w;
}

template <typename T>
NOIPA T *fill(std::size_t n)
{
    T *t = new T[n]; // @cxx-fill
    KEEP(t);
    return t;
}

}  // namespace zmmtest

namespace {

NOIPA zmmtest::Widget *make_widget()
{
    zmmtest::Widget *w = new zmmtest::Widget(); // @cxx-anon
    KEEP(w);
    return w;
}

}  // namespace

int main()
{
    zmmtest::Widget *a = zmmtest::Factory::make(3); // @cxx-main-make
    KEEP(a);
    long *b = zmmtest::fill<long>(9); // @cxx-main-fill
    KEEP(b);
    zmmtest::Widget *c = make_widget(); // @cxx-main-anon
    KEEP(c);
    a = nullptr;
    b = nullptr;
    c = nullptr;
    KEEP(a);
    KEEP(b);
    KEEP(c);
    std::printf("cxx done\n");
    return 0;
}
