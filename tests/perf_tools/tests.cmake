# scripts/make_sized_tokenizer.sh (used by scripts/perf_profile.sh to caption models whose
# vocabulary is not the tiny tokenizer's): piece count, special / loc / seg / unused ids, bad input.
add_test(NAME perf_tools_sized_tokenizer
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/sized_tokenizer.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/sized_tokenizer)
set_tests_properties(perf_tools_sized_tokenizer PROPERTIES TIMEOUT 120 PASS_REGULAR_EXPRESSION "sized tokenizer ok")
