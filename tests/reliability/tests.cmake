# Fault injection into running caption jobs (tests/reliability/caption_faults.sh), bad inputs
# end to end (bad_inputs.sh) and the multi-host run over network namespaces (netns_hosts.sh). They reuse the
# caption tests' inputs (tests/caption/tests.cmake: fixture caption_inputs). Exit code 77 = skipped
# (a prerequisite such as mount or network namespaces is not available), with the reason printed.
set(PG_RELIABILITY_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PG_RELIABILITY_WORK ${CMAKE_BINARY_DIR}/tests/reliability_work)

foreach(case kill_roles stop_rank rank_throws disk_full)
  add_test(NAME reliability_${case}
    COMMAND bash ${PG_RELIABILITY_DIR}/caption_faults.sh ${case} $<TARGET_FILE:paligemma>
            ${PG_CAPTION_WORK}/fixture ${PG_RELIABILITY_WORK}/${case})
  set_tests_properties(reliability_${case} PROPERTIES ENVIRONMENT "${PG_CAPTION_ENV}" TIMEOUT 600
                       FIXTURES_REQUIRED caption_inputs PROCESSORS 2 SKIP_RETURN_CODE 77
                       LABELS "reliability;mpi")
endforeach()

add_test(NAME reliability_netns_hosts
  COMMAND bash ${PG_RELIABILITY_DIR}/netns_hosts.sh $<TARGET_FILE:paligemma> ${PG_CAPTION_WORK}/fixture
          ${PG_RELIABILITY_WORK}/netns_hosts)
set_tests_properties(reliability_netns_hosts PROPERTIES ENVIRONMENT "${PG_CAPTION_ENV}" TIMEOUT 300
                     FIXTURES_REQUIRED caption_inputs PROCESSORS 2 SKIP_RETURN_CODE 77
                     LABELS "reliability;mpi;netns")

add_test(NAME reliability_bad_inputs
  COMMAND bash ${PG_RELIABILITY_DIR}/bad_inputs.sh $<TARGET_FILE:paligemma> ${PG_CAPTION_WORK}/fixture
          ${PG_RELIABILITY_WORK}/bad_inputs)
set_tests_properties(reliability_bad_inputs PROPERTIES ENVIRONMENT "${PG_CAPTION_ENV}" TIMEOUT 300
                     FIXTURES_REQUIRED caption_inputs PROCESSORS 2 LABELS "reliability;mpi")
