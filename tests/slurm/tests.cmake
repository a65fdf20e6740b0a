# `paligemma caption` under a real Slurm started by each test (tests/slurm/slurm_caption.sh:
# munged + slurmctld + slurmd on 127.0.0.1, as root, no cgroups) through launch/slurm/caption.sbatch.
# Exit code 77 = skipped with the reason printed (not root, slurm-wlm/munge missing, a daemon that
# does not start). One at a time (RESOURCE_LOCK): each cluster has its own ports and state, but
# Slurm's PMIx plugin keys its /tmp directories by job id, and every cluster's first job is 1.
set(PG_SLURM_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PG_SLURM_WORK ${CMAKE_BINARY_DIR}/tests/slurm_work)

foreach(spec "launchers;mpirun;180" "requeue;mpirun;300" "requeue;srun;300" "scancel;mpirun;240"
             "scancel;srun;240" "array;mpirun;240")
  list(GET spec 0 case)
  list(GET spec 1 launcher)
  list(GET spec 2 timeout)
  set(name slurm_${case})
  if(NOT case STREQUAL "launchers" AND NOT case STREQUAL "array")
    set(name slurm_${case}_${launcher})
  endif()
  add_test(NAME ${name}
    COMMAND bash ${PG_SLURM_DIR}/slurm_caption.sh ${case} $<TARGET_FILE:paligemma> ${PG_CAPTION_WORK}/fixture
            ${PG_SLURM_WORK}/${name})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${PG_CAPTION_ENV};PG_LAUNCHER=${launcher}"
                       TIMEOUT ${timeout} FIXTURES_REQUIRED caption_inputs PROCESSORS 2 SKIP_RETURN_CODE 77
                       RESOURCE_LOCK slurm_cluster LABELS "slurm;mpi")
endforeach()
