# End-to-end test of segment / detect records with the mask decoder (tests/masks/masks_e2e.sh):
# `paligemma caption --vae` on the caption tests' tiny model and images (caption_fixture) with the
# random decoder of tests/fixtures/masks.
add_test(NAME masks_e2e
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/masks_e2e.sh $<TARGET_FILE:paligemma> ${CMAKE_BINARY_DIR}/tests/caption_work/fixture
          ${CMAKE_BINARY_DIR}/tests/masks_work)
set_tests_properties(masks_e2e PROPERTIES
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1;MPIRUN=${MPIEXEC_EXECUTABLE}"
  TIMEOUT 120 FIXTURES_REQUIRED caption_inputs PROCESSORS 2 LABELS "caption;mpi")
