# The layering of docs/ARCHITECTURE.md: no folder includes one above it.
add_test(NAME layout_layers COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/check_layers.sh ${CMAKE_SOURCE_DIR})
