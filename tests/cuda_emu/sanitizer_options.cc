// Linked into the ASan/UBSan builds of the emulated CUDA tests (tests/cuda_emu/tests.cmake,
// PG_EMU_SANITIZERS): defaults that ASAN_OPTIONS / UBSAN_OPTIONS in the environment override.
// Leak checking is off: Open MPI (MPI_Init in tests/test_main.cc) keeps its allocations until
// exit, and the uninstrumented pgcore is not what these builds check.
extern "C" const char* __asan_default_options() { return "detect_leaks=0:abort_on_error=0:halt_on_error=1"; }
extern "C" const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }
