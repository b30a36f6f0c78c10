# Inline assertions (src/common/assert.hpp) for the library's own targets: the level
# is a PRIVATE definition, so nothing a user compiles changes with it.
#   0 none, 1 cheap O(1) checks, 2 also the expensive ones (walks of lists and pages).
# Default: 1 in Debug builds, 0 otherwise.
set(POOLKIT_ASSERT_LEVEL "" CACHE STRING "Inline assertions: 0 none, 1 cheap, 2 expensive (empty: 1 in Debug, else 0)")

function(poolkit_internals target)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  if(POOLKIT_ASSERT_LEVEL STREQUAL "")
    target_compile_definitions(${target} PRIVATE $<$<CONFIG:Debug>:POOLKIT_ASSERT_LEVEL=1>)
  else()
    target_compile_definitions(${target} PRIVATE POOLKIT_ASSERT_LEVEL=${POOLKIT_ASSERT_LEVEL})
  endif()
endfunction()
