# End-to-end tests of `paligemma caption --shards` (tests/caption_shards/shards_e2e.sh) on the
# caption tests' tiny model (fixture caption_inputs) and the tar shards of make_shards.py.
set(PG_SHARDS_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PG_SHARDS_WORK ${CMAKE_BINARY_DIR}/tests/caption_shards_work)

find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME caption_shards_fixture
  COMMAND ${Python3_EXECUTABLE} ${PG_SHARDS_DIR}/make_shards.py ${CMAKE_SOURCE_DIR} ${PG_SHARDS_WORK}/fixture)
set_tests_properties(caption_shards_fixture PROPERTIES FIXTURES_SETUP caption_shards TIMEOUT 60 LABELS "caption")

foreach(case records layouts kill_resume sigterm range usage)
  add_test(NAME caption_shards_${case}
    COMMAND bash ${PG_SHARDS_DIR}/shards_e2e.sh ${case} $<TARGET_FILE:paligemma> ${CMAKE_BINARY_DIR}/tests/caption_work/fixture
            ${PG_SHARDS_WORK}/fixture ${PG_SHARDS_WORK}/${case})
  set_tests_properties(caption_shards_${case} PROPERTIES
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1;MPIRUN=${MPIEXEC_EXECUTABLE}"
    TIMEOUT 180 FIXTURES_REQUIRED "caption_inputs;caption_shards" PROCESSORS 2 LABELS "caption;mpi")
endforeach()

# The throughput measurement script (bench/shard_throughput.sh) on a tiny input: it must run and
# print both medians (no timing is checked).
add_test(NAME caption_shards_bench_script
  COMMAND bash -c "out=$(bash ${CMAKE_SOURCE_DIR}/bench/shard_throughput.sh --shards 2 --per-shard 6 --repeats 1 --work ${PG_SHARDS_WORK}/bench) && echo \"$out\" && echo \"$out\" | grep -q '^median loose .* images/s (1 runs)' && echo \"$out\" | grep -q '^median shards .* images/s (1 runs)'")
set_tests_properties(caption_shards_bench_script PROPERTIES
  ENVIRONMENT "PALIGEMMA=$<TARGET_FILE:paligemma>;OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1"
  TIMEOUT 120 PROCESSORS 1 LABELS "caption;mpi")
