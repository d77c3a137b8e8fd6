/* stub.c: libzmmstub.so, a stand-in for libzmm.so that exports zmm_version but no malloc. A
 * server test run with ZMM_LIB naming it runs on glibc's allocator and gives the same answers;
 * the weak proofs (the library mapped in the process, zmm_version found by dlsym or ctypes)
 * hold, and the test must still fail: only the loader's bindings and zmm's own statistics
 * prove that zmm served the process (proof.py; servers-canary checks both fail with it). */
__attribute__((visibility("default"))) const char *zmm_version(void)
{
    return "0.1.0";
}
