# The embedded demo model captions the shipped sample images correctly (scripts/demo.sh's job).
add_test(NAME demo_captions_match_labels
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_demo_captions.sh ${MPIEXEC_EXECUTABLE}
                 $<TARGET_FILE:paligemma> ${CMAKE_SOURCE_DIR})
set_tests_properties(demo_captions_match_labels PROPERTIES TIMEOUT 180 PROCESSORS 2
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1")
