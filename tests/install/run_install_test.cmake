# run_install_test.cmake (cmake -P): installs BUILD_DIR into WORK_DIR/prefix, then
# builds and runs the consumers in CONSUMER_DIR against that prefix only.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${what} failed (${rc})\n${out}\n${err}")
  endif()
  message(STATUS "install test: ${what}: ok")
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

set(flags "")
if(SANITIZE)
  set(flags "-fsanitize=${SANITIZE}")
endif()

# C++: find_package(poolkit) and poolkit::poolkit.
run("configure the C++ consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/cxx -G ${GENERATOR}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
    -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_CXX_FLAGS=${flags} -DCMAKE_EXE_LINKER_FLAGS=${flags})
run("build the C++ consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/cxx)
# A prefix outside the loader's paths: the consumers find its shared libraries so.
set(ENV{LD_LIBRARY_PATH} ${prefix}/${LIBDIR})
run("run the C++ consumer" ${WORK_DIR}/cxx/consumer_cxx)
message(STATUS "${last_output}")

# C: pkg-config --cflags --libs poolkit, nothing else.
find_program(PKG_CONFIG pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
run("pkg-config" ${PKG_CONFIG} --cflags --libs poolkit)
string(STRIP "${last_output}" pc_flags)
separate_arguments(pc_args UNIX_COMMAND "${pc_flags}")
separate_arguments(san_args UNIX_COMMAND "${flags}")
run("build the C consumer" ${C_COMPILER} -std=c11 -Wall -Wextra -Wpedantic -Werror ${san_args}
    ${CONSUMER_DIR}/consumer.c -o ${WORK_DIR}/consumer_c ${pc_args})
run("run the C consumer" ${WORK_DIR}/consumer_c)
message(STATUS "${last_output}")
