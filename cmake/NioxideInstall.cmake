# Installs the headers, the libraries, the CMake package and the pkg-config files. The package
# files locate everything relative to themselves, so `cmake --install --prefix DIR` works.
include(CMakePackageConfigHelpers)

install(FILES "${PROJECT_SOURCE_DIR}/include/nioxide.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
# Its parts, one per module, which nioxide.h includes.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/nioxide"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.h")
install(FILES "${NIOXIDE_STAGE_DIR}/${NIOXIDE_SHARED_FILE}"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                    WORLD_READ WORLD_EXECUTE)
# Symbolic links are installed as links.
install(FILES "${NIOXIDE_STAGE_DIR}/${NIOXIDE_SONAME}" "${NIOXIDE_STAGE_DIR}/libnioxide.so"
              "${NIOXIDE_STAGE_DIR}/libnioxide.a"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}")
# The shared library's debug information, where gdb looks for the file its .gnu_debuglink
# names; in a component of its own (`cmake --install ... --component debug`) for packagers.
if(NIOXIDE_SPLIT_DEBUG)
  install(FILES "${NIOXIDE_STAGE_DIR}/.debug/${NIOXIDE_DEBUG_FILE}"
          DESTINATION "${CMAKE_INSTALL_LIBDIR}/.debug"
          COMPONENT debug)
endif()

set(NIOXIDE_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/nioxide")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/nioxideConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/nioxideConfig.cmake"
  INSTALL_DESTINATION "${NIOXIDE_CMAKE_DIR}"
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/nioxideConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/nioxideConfig.cmake"
              "${PROJECT_BINARY_DIR}/nioxideConfigVersion.cmake"
        DESTINATION "${NIOXIDE_CMAKE_DIR}")

# pkg-config: prefix is found from the .pc file's own place (${pcfiledir}).
file(RELATIVE_PATH NIOXIDE_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" NIOXIDE_PC_TO_PREFIX "${NIOXIDE_PC_TO_PREFIX}")
list(TRANSFORM NIOXIDE_STATIC_SYSTEM_LIBS PREPEND "-l" OUTPUT_VARIABLE _libs_private)
list(JOIN _libs_private " " NIOXIDE_PC_LIBS_PRIVATE)
foreach(_pc nioxide nioxide-static)
  configure_file("${PROJECT_SOURCE_DIR}/cmake/${_pc}.pc.in" "${PROJECT_BINARY_DIR}/${_pc}.pc"
                 @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/${_pc}.pc"
          DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endforeach()
