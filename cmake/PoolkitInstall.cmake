# Installs headers, libraries, the CMake package (find_package(poolkit) ->
# poolkit::poolkit) and a pkg-config file (pkg-config --cflags --libs poolkit).
include(CMakePackageConfigHelpers)

install(TARGETS poolkit EXPORT poolkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
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
configure_file(cmake/poolkit.pc.in ${PROJECT_BINARY_DIR}/poolkit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/poolkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
