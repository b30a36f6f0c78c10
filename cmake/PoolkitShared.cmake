# The shared libpoolkit.so.N: the C API of poolkit.h, from the very objects of the
# static libpoolkit.a (compiled with hidden visibility; poolkit.h makes its
# declarations visible) and a version script (abi/libpoolkit.map) that exports
# poolkit_* under the version node POOLKIT_N and nothing else. The C++ API
# (classes, templates) is the static archive's: C++ has no stable ABI across
# compilers and standard libraries, the C API does. abi/libpoolkit.symbols lists the
# exports; the test abi_symbols fails when one disappears or changes.
#
# Sanitizer builds make no shared library (as for the malloc): an instrumented .so
# needs its runtime first in every program that loads it.
if(POOLKIT_SANITIZE)
  return()
endif()

add_library(poolkit-shared SHARED $<TARGET_OBJECTS:poolkit>)
add_library(poolkit::shared ALIAS poolkit-shared)
target_include_directories(poolkit-shared PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(poolkit-shared PRIVATE Threads::Threads)
# POOLKIT_FORWARD_TO_MALLOC and POOLKIT_VALGRIND change the library, not the C API.
set(_poolkit_map ${PROJECT_SOURCE_DIR}/abi/libpoolkit.map)
target_link_options(poolkit-shared PRIVATE -Wl,--version-script=${_poolkit_map} -Wl,-z,defs
  -Wl,-z,relro -Wl,-z,now)
set_target_properties(poolkit-shared PROPERTIES
  OUTPUT_NAME poolkit
  EXPORT_NAME shared
  VERSION ${PROJECT_VERSION}
  SOVERSION ${POOLKIT_ABI_VERSION}
  LINK_DEPENDS ${_poolkit_map}
  LINKER_LANGUAGE CXX)
