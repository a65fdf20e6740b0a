# --exif-transpose on the `generate` command line (tests/exif/exif_cli.sh), on the caption tests'
# converted tiny model (the caption_inputs fixture, tests/caption/tests.cmake).
add_test(NAME exif_cli
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/exif_cli.sh $<TARGET_FILE:paligemma> ${CMAKE_SOURCE_DIR}
          ${CMAKE_BINARY_DIR}/tests/caption_work/fixture/model.h5)
set_tests_properties(exif_cli PROPERTIES ENVIRONMENT
  "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1"
  FIXTURES_REQUIRED caption_inputs TIMEOUT 60 LABELS "cli")
