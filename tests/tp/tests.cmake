# Tensor/data-parallel parity on the HF fixtures: the same inputs at -np 1, 2 --tp 2, 4 --tp 4,
# 4 --tp 2 (dp 2), with the ViT sharded, and with fewer KV slots than prompts (refills), give
# Hugging Face's greedy tokens and logits within 1e-5 relative of the TP=1 run (3e-5 when the
# rows of a step differ from it). gemma1_batch mixes prompt lengths and stops some sequences at
# <eos> while others go on. A --tp that does not divide the heads fails fast on all ranks.
set(PG_TP_DIR ${CMAKE_CURRENT_LIST_DIR})
set(PG_TP_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1")
set(PG_TP_WORK ${CMAKE_BINARY_DIR}/tp_parity)

add_executable(tp_parity_mpitest ${PG_TP_DIR}/tp_parity_mpitest.cc)
target_link_libraries(tp_parity_mpitest PRIVATE pgcore)
target_include_directories(tp_parity_mpitest PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_definitions(tp_parity_mpitest PRIVATE PG_SOURCE_DIR="${CMAKE_SOURCE_DIR}" PG_BINARY_DIR="${CMAKE_BINARY_DIR}")

set(PG_MPIRUN ${MPIEXEC_EXECUTABLE} --oversubscribe --bind-to none)

foreach(case gemma1_mqa gemma2 gemma1_batch)
  set(h5 ${PG_TP_WORK}/${case}.h5)
  add_test(NAME tp_convert_${case}
           COMMAND ${CMAKE_COMMAND} -E env bash -c
             "mkdir -p ${PG_TP_WORK} && $<TARGET_FILE:paligemma> convert --from hf --input ${CMAKE_SOURCE_DIR}/tests/fixtures/hf/${case} --output ${h5}")
  set_tests_properties(tp_convert_${case} PROPERTIES FIXTURES_SETUP tp_model_${case} TIMEOUT 120)

  add_test(NAME tp_parity_${case}_np1
           COMMAND ${PG_MPIRUN} -np 1 $<TARGET_FILE:tp_parity_mpitest> ${case} ${h5} --tp 1
                   --write-baseline ${PG_TP_WORK}/${case}_tp1.h5)
  set_tests_properties(tp_parity_${case}_np1 PROPERTIES FIXTURES_REQUIRED tp_model_${case}
                       FIXTURES_SETUP tp_base_${case} ENVIRONMENT "${PG_TP_ENV}" TIMEOUT 300 LABELS "mpi;tp")

  # np;tp;vit;KV slots per replica (0 = all prompts at once; 2 or 1: slots refilled mid-run).
  foreach(layout "2;2;leader;0" "4;4;leader;0" "4;2;leader;0" "2;2;sharded;0" "4;1;leader;0"
                 "1;1;leader;2" "2;2;leader;2" "4;4;leader;1")
    list(GET layout 0 np)
    list(GET layout 1 tp)
    list(GET layout 2 vit)
    list(GET layout 3 slots)
    set(name tp_parity_${case}_np${np}_tp${tp}_${vit})
    if(NOT slots EQUAL 0)
      set(name ${name}_slots${slots})
    endif()
    add_test(NAME ${name}
             COMMAND ${PG_MPIRUN} -np ${np} $<TARGET_FILE:tp_parity_mpitest> ${case} ${h5} --tp ${tp} --vit ${vit}
                     --max-batch ${slots} --baseline ${PG_TP_WORK}/${case}_tp1.h5)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "tp_model_${case};tp_base_${case}"
                         ENVIRONMENT "${PG_TP_ENV}" TIMEOUT 300 PROCESSORS ${np} LABELS "mpi;tp")
  endforeach()
endforeach()

# --tp 3 does not divide 4 query heads: every rank fails fast with one clear message.
add_test(NAME tp_non_dividing_fails_fast
         COMMAND bash ${PG_TP_DIR}/expect_tp_error.sh ${MPIEXEC_EXECUTABLE} $<TARGET_FILE:paligemma>
                 ${PG_TP_WORK}/gemma1_mqa.h5 ${CMAKE_SOURCE_DIR})
set_tests_properties(tp_non_dividing_fails_fast PROPERTIES FIXTURES_REQUIRED tp_model_gemma1_mqa
                     ENVIRONMENT "${PG_TP_ENV}" TIMEOUT 120 PROCESSORS 3 LABELS "mpi;tp")
