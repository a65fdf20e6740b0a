# End-to-end tests of `paligemma caption` (tests/caption/caption_e2e.sh) on the tiny test model
# converted from tests/fixtures/hf/gemma1_batch, over good and corrupt images. A setup test
# (make_fixture.sh) builds the shared inputs once; each case works in its own directory.
set(PG_CAPTION_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PG_CAPTION_WORK ${CMAKE_BINARY_DIR}/tests/caption_work)
set(PG_CAPTION_ENV
  "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1;MPIRUN=${MPIEXEC_EXECUTABLE}")

add_test(NAME caption_fixture
  COMMAND bash ${PG_CAPTION_DIR}/make_fixture.sh $<TARGET_FILE:paligemma> ${CMAKE_SOURCE_DIR} ${PG_CAPTION_WORK}/fixture)
set_tests_properties(caption_fixture PROPERTIES FIXTURES_SETUP caption_inputs TIMEOUT 60 LABELS "caption")

foreach(case layouts kill_resume torn_line manifest list inputs detect lock demo_defaults signals scores prompts output_flags)
  add_test(NAME caption_e2e_${case}
    COMMAND bash ${PG_CAPTION_DIR}/caption_e2e.sh ${case} $<TARGET_FILE:paligemma> ${PG_CAPTION_WORK}/fixture
            ${PG_CAPTION_WORK}/${case})
  set_tests_properties(caption_e2e_${case} PROPERTIES ENVIRONMENT "${PG_CAPTION_ENV}" TIMEOUT 120
                       FIXTURES_REQUIRED caption_inputs PROCESSORS 2 LABELS "caption;mpi")
endforeach()
