# Compiles every public SDK header alone, as libgit2's header test does: each
# must include what it uses and be clean under -std=c17 -pedantic -Werror.
# A dummy declaration follows the include so a macros-only header is not an
# empty translation unit (which -pedantic rejects).
file(GLOB headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/rebound/*.h")
if(NOT headers)
  message(FATAL_ERROR "no headers under ${INCLUDE_DIR}/rebound")
endif()
file(MAKE_DIRECTORY "${WORK_DIR}")
set(failed "")
foreach(h ${headers})
  string(MAKE_C_IDENTIFIER "${h}" id)
  set(src "${WORK_DIR}/${id}.c")
  file(WRITE "${src}" "#include <${h}>\ntypedef int rb_header_test_dummy;\n")
  execute_process(
    COMMAND ${CC} -std=c17 -pedantic -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
            -Wmissing-prototypes -I${INCLUDE_DIR} -fsyntax-only ${src}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(rc EQUAL 0)
    message(STATUS "ok    ${h}")
  else()
    message(STATUS "FAIL  ${h}\n${out}")
    list(APPEND failed ${h})
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "headers that do not compile alone: ${failed}")
endif()
