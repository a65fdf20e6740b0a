# `paligemma bench --quick` under mpirun -np 4 (oversubscribed on small CI machines): the CSV,
# JSON and the plots exist with the expected columns and layouts. The plot check is skipped,
# with a message, only when gnuplot is not installed.
set(PG_BENCH_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
add_test(NAME bench_quick_np4
         COMMAND bash ${PG_BENCH_TEST_DIR}/run_quick_bench.sh ${MPIEXEC_EXECUTABLE} $<TARGET_FILE:paligemma>
                 ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/bench_quick)
set_tests_properties(bench_quick_np4 PROPERTIES
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1"
  TIMEOUT 300 PROCESSORS 4 LABELS "mpi;bench")

# The projection model's self-check (plain python3): FLOP counts against hand-computed values.
find_program(PG_PYTHON3 python3)
if(PG_PYTHON3)
  add_test(NAME bench_projection_selftest
           COMMAND ${PG_PYTHON3} ${CMAKE_SOURCE_DIR}/bench/projection.py --self-test)
  set_tests_properties(bench_projection_selftest PROPERTIES TIMEOUT 60 LABELS "bench")
endif()

# `paligemma bench --kernels` (bench/kernel_timings.h) prints every kernel line with a number for
# fp32 (and bf16 on a CPU with it); a kernel that throws or a missing line fails the test. Timings
# are not checked (a test never times).
add_test(NAME bench_kernels_flag
         COMMAND ${MPIEXEC_EXECUTABLE} -np 1 --oversubscribe --bind-to none $<TARGET_FILE:paligemma> bench
                 --config ${CMAKE_SOURCE_DIR}/configs/tiny.json --batch 1 --images 1 --new-tokens 1 --threads 2
                 --warmup 0 --iters 1 --kernels --out ${CMAKE_BINARY_DIR}/bench_kernels)
set_tests_properties(bench_kernels_flag PROPERTIES
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1"
  PASS_REGULAR_EXPRESSION "kernels, fp32 weights.*ViT fc1 \\+ bias \\+ GELU[^\n]*fused [0-9.]+ ms.*split: prefill mid gate\\|up[^\n]*rows [0-9.]+ ms, columns [0-9.]+ ms[^\n]*Gemm chooses (rows|columns).*decode 3B down[^\n]*[0-9.]+ GB/s of weights as held"
  FAIL_REGULAR_EXPRESSION "rror"
  TIMEOUT 300 LABELS "bench")
