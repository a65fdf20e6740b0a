# The CLI's own flags: --version names the build, --help shows each option's default.
set(PG_CLI_ENV "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
add_test(NAME cli_version COMMAND $<TARGET_FILE:paligemma> --version)
set_tests_properties(cli_version PROPERTIES ENVIRONMENT "${PG_CLI_ENV}" PASS_REGULAR_EXPRESSION "^paligemma-tp [0-9a-z]")
add_test(NAME cli_help_shows_defaults COMMAND $<TARGET_FILE:paligemma> caption --help)
set_tests_properties(cli_help_shows_defaults PROPERTIES ENVIRONMENT "${PG_CLI_ENV}"
                     PASS_REGULAR_EXPRESSION "--max-new-tokens INT=40.*--dtype TEXT=auto")
