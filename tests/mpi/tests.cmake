# Regexes avoid literal [ ] and ; (CMake list syntax): "." stands in for them.
# Multi-rank tests of the dist/ layer: programs run under mpirun --oversubscribe -np 1/2/4.
# Passing programs agree on pass/fail across ranks (exit code 0 on every rank); failure cases
# go through expect_failure.sh, which checks the exit code, the elapsed time and the messages.
set(PG_MPI_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PG_MPI_ENV
  "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1")

foreach(prog communicator world)
  add_executable(dist_${prog}_mpitest ${PG_MPI_DIR}/${prog}_mpitest.cc)
  target_link_libraries(dist_${prog}_mpitest PRIVATE pgcore)
endforeach()

# pg_mpirun(<out-var> <np> <target> [args...]): the mpirun command line for a test.
function(pg_mpirun out np target)
  set(${out} ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} --oversubscribe --bind-to none
      ${MPIEXEC_PREFLAGS} $<TARGET_FILE:${target}> ${ARGN} ${MPIEXEC_POSTFLAGS} PARENT_SCOPE)
endfunction()

# pg_mpi_test(<name> <np> <timeout-s> [extra env] COMMAND ...)
function(pg_mpi_test name np timeout env)
  add_test(NAME ${name} COMMAND ${ARGN})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${PG_MPI_ENV};${env}" TIMEOUT ${timeout}
                       PROCESSORS ${np} LABELS "mpi;dist")
endfunction()

set(PG_EXPECT_FAILURE ${PG_MPI_DIR}/expect_failure.sh)

# ---- Passing cases: exact collectives, layouts ------------------------------------------------
foreach(np 1 2 4)
  pg_mpirun(cmd ${np} dist_communicator_mpitest collectives)
  pg_mpi_test(dist_mpi_collectives_np${np} ${np} 120 "" ${cmd})
endforeach()
foreach(layout "1;1" "2;1" "2;2" "4;1" "4;2" "4;4")
  list(GET layout 0 np)
  list(GET layout 1 tp)
  pg_mpirun(cmd ${np} dist_world_mpitest layout ${tp})
  pg_mpi_test(dist_mpi_world_layout_np${np}_tp${tp} ${np} 120 "" ${cmd})
endforeach()

# ---- Failure cases: the whole job ends quickly, with a message naming the cause --------------
# One rank misses AllReduceSum #3: the others' 1 s deadline fires and names the op.
foreach(np 2 4)
  pg_mpirun(cmd ${np} dist_communicator_mpitest stall)
  pg_mpi_test(dist_mpi_stall_timeout_np${np} ${np} 90
    "PG_COLLECTIVE_TIMEOUT_S=1;PG_DEBUG_STALL_BEFORE_OP=1:3"
    ${PG_EXPECT_FAILURE} --max-seconds 20
      --expect [=[^.rank [0-9]+. collective AllReduceSum #3 timed out after 1 s on communicator mpi:world]=] 1+
      --expect [=[^.rank 1. debug: PG_DEBUG_STALL_BEFORE_OP: stalling before collective AllReduceSum #3]=] 1
      --expect [=[stall case finished without a timeout]=] 0
      -- ${cmd})
endforeach()

# The last rank throws; the others sit in a collective with a 600 s deadline: only the abort
# issued by RunMpiMain can end the job within the limit.
foreach(np 2 4)
  math(EXPR last "${np} - 1")
  pg_mpirun(cmd ${np} dist_communicator_mpitest throw)
  pg_mpi_test(dist_mpi_one_rank_throws_np${np} ${np} 90 ""
    ${PG_EXPECT_FAILURE} --max-seconds 15
      --expect "^.rank ${last}. error: injected failure on rank ${last}$" 1
      --expect [=[^.rank [0-9]+. error: ]=] 1
      -- ${cmd})
endforeach()

# Alive but stuck (SIGSTOP): the deadline (1 s) fires on the other ranks and names the op.
pg_mpirun(cmd 4 dist_communicator_mpitest sigstop)
pg_mpi_test(dist_mpi_rank_stopped_np4 4 90 "PG_COLLECTIVE_TIMEOUT_S=1"
  ${PG_EXPECT_FAILURE} --max-seconds 15
    --expect [=[^.rank [0-2]. collective AllReduceSum #3 timed out after 1 s on communicator mpi:world]=] 1+
    --expect [=[signal case finished]=] 0
    -- ${cmd})

# A rank dies (SIGKILL) while the others wait with a 600 s deadline: mpirun must end the job.
pg_mpirun(cmd 4 dist_communicator_mpitest sigkill)
pg_mpi_test(dist_mpi_rank_killed_np4 4 90 ""
  ${PG_EXPECT_FAILURE} --max-seconds 15
    --expect [=[signal 9]=] 1+
    --expect [=[signal case finished]=] 0
    -- ${cmd})

pg_mpirun(cmd 2 dist_communicator_mpitest abort)
pg_mpi_test(dist_mpi_abort_np2 2 90 ""
  ${PG_EXPECT_FAILURE} --max-seconds 15
    --expect [=[^.rank 0/world 2. fatal: injected abort on rank 0$]=] 1
    -- ${cmd})

# MPI_Abort "hangs" (debug hook): the watchdog's _exit(1) must still end the job.
pg_mpi_test(dist_mpi_abort_second_stage_np2 2 90 "PG_DEBUG_MPI_ABORT_HANGS=1;PG_ABORT_GRACE_S=1"
  ${PG_EXPECT_FAILURE} --max-seconds 15
    --expect [=[^.rank 0/world 2. fatal: injected abort on rank 0$]=] 1
    --expect [=[^.rank 0. MPI_Abort did not end the process within 1\.0+ s. exiting with _exit\(1\)$]=] 1
    -- ${cmd})

# Layout errors: every rank prints the same message and the job exits 1 without MPI_Abort.
pg_mpirun(cmd 4 dist_world_mpitest bad_tp 3)
pg_mpi_test(dist_mpi_world_bad_tp_np4_tp3 4 90 ""
  ${PG_EXPECT_FAILURE} --max-seconds 15
    --expect [=[^.rank [0-3]. error: --tp 3 does not divide the world size 4 \(mpirun -np 4\): tensor-parallel groups need world_size % tp == 0. use a --tp that divides 4 \(1, 2, 4\)$]=] 4
    --expect [=[MPI_ABORT was invoked]=] 0
    -- ${cmd})

pg_mpirun(cmd 2 dist_world_mpitest mismatched_tp)
pg_mpi_test(dist_mpi_world_mismatched_tp_np2 2 90 ""
  ${PG_EXPECT_FAILURE} --max-seconds 15
    --expect [=[^.rank [01]. error: ranks disagree on --tp: values range from 1 to 2. start every rank with the same --tp$]=] 2
    -- ${cmd})

# Model divisibility (TRT-LLM "unbalanced must fail"): 8 heads over --tp 3.
pg_mpirun(cmd 3 dist_world_mpitest check_divides 3)
pg_mpi_test(dist_mpi_world_heads_not_divisible_np3_tp3 3 90 ""
  ${PG_EXPECT_FAILURE} --max-seconds 15
    --expect [=[^.rank [0-2]. error: phase 'setup' failed on rank 0: model 'tiny': 8 query heads are not divisible by --tp 3 \(world size 3\). use a --tp that divides 8 \(1, 2, 4, 8\)$]=] 3
    --expect [=[MPI_ABORT was invoked]=] 0
    -- ${cmd})

# One rank fails a phase (debug hook): every rank stops with the same message, exit 1.
pg_mpirun(cmd 4 dist_world_mpitest phases)
pg_mpi_test(dist_mpi_world_phase_failure_np4 4 90 "PG_DEBUG_FAIL_PHASE=load weights:2"
  ${PG_EXPECT_FAILURE} --max-seconds 15
    --expect [=[^.rank [0-3]. error: phase 'load weights' failed on rank 2: injected failure \(PG_DEBUG_FAIL_PHASE\) at 'load weights' #1$]=] 4
    --expect [=[all phases passed]=] 0
    -- ${cmd})
pg_mpirun(cmd 2 dist_world_mpitest phases)
pg_mpi_test(dist_mpi_world_phases_np2 2 90 "" ${cmd})

# ---- NCCL (CUDA builds): exact collectives on the GPU; skipped (77) without enough GPUs ------
if(PG_WITH_CUDA)
  add_executable(dist_nccl_mpitest ${PG_MPI_DIR}/nccl_mpitest.cc)
  target_link_libraries(dist_nccl_mpitest PRIVATE pgcore)
  foreach(np 1 2)
    pg_mpirun(cmd ${np} dist_nccl_mpitest)
    pg_mpi_test(dist_nccl_collectives_np${np} ${np} 180 "" ${cmd})
    set_tests_properties(dist_nccl_collectives_np${np} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
endif()

# ---- Sampling in the backend under tensor parallelism (models/token_sampler.h) ------------------
add_executable(token_sampler_mpitest ${PG_MPI_DIR}/token_sampler_mpitest.cc)
target_link_libraries(token_sampler_mpitest PRIVATE pgcore)
target_include_directories(token_sampler_mpitest PRIVATE ${CMAKE_SOURCE_DIR})
foreach(np 1 2 4)
  pg_mpirun(cmd ${np} token_sampler_mpitest)
  pg_mpi_test(token_sampler_np${np} ${np} 120 "" ${cmd})
endforeach()
