# rebound_add_plugin(NAME [NO_INSTALL] [OUTPUT_DIRECTORY dir] src...): builds a
# rebound plugin the way the SDK requires: a MODULE library that exports only
# rb_plugin_init and links with -Wl,--no-undefined so it can never depend on
# the runner's symbols.
#   OUTPUT_DIRECTORY  where the .so goes (default: ${REBOUND_BUILD_PLUGIN_DIR})
#   NO_INSTALL        test plugins: not part of `cmake --install`
# The out-of-tree version of this function lives in ReboundPluginConfig.cmake.in.
function(rebound_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 _rb "NO_INSTALL" "OUTPUT_DIRECTORY" "")
  if(NOT _rb_OUTPUT_DIRECTORY)
    set(_rb_OUTPUT_DIRECTORY "${REBOUND_BUILD_PLUGIN_DIR}")
  endif()
  add_library(${name} MODULE ${_rb_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY "${_rb_OUTPUT_DIRECTORY}")
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/sdk/include)
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  if(NOT _rb_NO_INSTALL)
    install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/rebound/plugins)
  endif()
endfunction()
