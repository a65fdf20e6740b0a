# `paligemma load` (engine/load_probe.h) on the demo model at tp 2: one line per rank, the leader
# holding the ViT on top of its decoder shard, the weight bytes each rank reports equal to the
# checkpoint's parameters placed as `inspect` says, and bf16 weights half of f32.
add_test(NAME load_probe_demo_tp2
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_load_probe.sh ${MPIEXEC_EXECUTABLE}
                 $<TARGET_FILE:paligemma> ${CMAKE_SOURCE_DIR})
set_tests_properties(load_probe_demo_tp2 PROPERTIES TIMEOUT 180 PROCESSORS 2
  ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1")
