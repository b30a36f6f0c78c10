# Installs headers, libraries, the CMake package (find_package(poolkit) ->
# poolkit::poolkit) and a pkg-config file (pkg-config --cflags --libs poolkit).
include(CMakePackageConfigHelpers)

install(TARGETS poolkit EXPORT poolkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET poolkit-shared)
  install(TARGETS poolkit-shared EXPORT poolkitTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development)
endif()
install(DIRECTORY include/poolkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT poolkitTargets NAMESPACE poolkit::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/poolkit)
configure_package_config_file(cmake/poolkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/poolkitConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/poolkit)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/poolkitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/poolkitConfig.cmake
  ${PROJECT_BINARY_DIR}/poolkitConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/poolkit)
# The .pc file finds its prefix relative to itself, so a tree installed with
# `cmake --install --prefix DIR` (or moved) still works; build options that change
# the public headers' meaning travel in Cflags. Distribution packages turn
# POOLKIT_PC_RELOCATABLE off: prefix=/usr, so that pkg-config drops the system
# include and library directories as usual (and PKG_CONFIG_SYSROOT_DIR works).
option(POOLKIT_PC_RELOCATABLE "poolkit.pc finds its prefix relative to itself" ON)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR NOT POOLKIT_PC_RELOCATABLE)
  set(POOLKIT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _pc_up "/_/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/_")
  string(REGEX REPLACE "/$" "" _pc_up "${_pc_up}")
  set(POOLKIT_PC_PREFIX "\${pcfiledir}/${_pc_up}")
endif()
set(POOLKIT_PC_CFLAGS "")
if(POOLKIT_FORWARD_TO_MALLOC)
  string(APPEND POOLKIT_PC_CFLAGS " -DPOOLKIT_FORWARD_TO_MALLOC=1")
endif()
if(POOLKIT_VALGRIND)
  string(APPEND POOLKIT_PC_CFLAGS " -DPOOLKIT_VALGRIND=1")
endif()
configure_file(cmake/poolkit.pc.in ${PROJECT_BINARY_DIR}/poolkit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/poolkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
