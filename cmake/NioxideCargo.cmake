# Builds libnioxide with cargo and imports it as nioxide::nioxide{,_shared,_static}.

set(_features "${NIOXIDE_CARGO_FEATURES}")
if(NIOXIDE_BUILD_TESTS AND NOT "testing" IN_LIST _features)
  # The tests call test-only entry points (nx_debug_panic, nx_debug_live_handles).
  list(APPEND _features testing)
endif()
set(_feature_args "")
set(_features_text "")
if(_features)
  list(JOIN _features "," _joined)
  set(_feature_args --features "${_joined}")
  set(_features_text "--features ${_joined}")
endif()

if(NIOXIDE_CARGO_PROFILE STREQUAL "dev")
  set(_profile_dir debug)
else()
  set(_profile_dir "${NIOXIDE_CARGO_PROFILE}")
endif()
set(_cargo_out "${NIOXIDE_CARGO_TARGET_DIR}/${_profile_dir}")

# The installed layout, in the build tree.
set(NIOXIDE_STAGE_DIR "${PROJECT_BINARY_DIR}/lib")
set(NIOXIDE_SHARED_FILE "libnioxide.so.${PROJECT_VERSION}")
set(NIOXIDE_SONAME "libnioxide.so.${PROJECT_VERSION_MAJOR}")
set(NIOXIDE_DEBUG_FILE "${NIOXIDE_SHARED_FILE}.debug")
# What a program linking the static library also needs (rustc's --print native-static-libs
# for this target: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc).
set(NIOXIDE_STATIC_SYSTEM_LIBS gcc_s util rt pthread m dl c)

# The staging commands. With NIOXIDE_SPLIT_DEBUG the libraries are staged without debug
# information, as distributions ship them: the shared library's goes to
# .debug/libnioxide.so.X.Y.Z.debug beside it (named by a .gnu_debuglink section, where gdb and
# valgrind look for it), the static library's is dropped. objcopy writes into <build>/split and
# copy_if_different stages only what changed, so a rebuild that changed nothing relinks nothing.
if(NIOXIDE_SPLIT_DEBUG)
  if(NOT CMAKE_OBJCOPY)
    message(FATAL_ERROR "NIOXIDE_SPLIT_DEBUG needs objcopy (binutils)")
  endif()
  set(_split_dir "${PROJECT_BINARY_DIR}/split")
  set(_stage_commands
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${_split_dir}" "${NIOXIDE_STAGE_DIR}/.debug"
    COMMAND "${CMAKE_OBJCOPY}" --only-keep-debug "${_cargo_out}/libnioxide.so"
            "${_split_dir}/${NIOXIDE_DEBUG_FILE}"
    COMMAND "${CMAKE_OBJCOPY}" --strip-debug
            "--add-gnu-debuglink=${_split_dir}/${NIOXIDE_DEBUG_FILE}"
            "${_cargo_out}/libnioxide.so" "${_split_dir}/${NIOXIDE_SHARED_FILE}"
    COMMAND "${CMAKE_OBJCOPY}" --strip-debug "${_cargo_out}/libnioxide.a"
            "${_split_dir}/libnioxide.a"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${_split_dir}/${NIOXIDE_DEBUG_FILE}"
            "${NIOXIDE_STAGE_DIR}/.debug/${NIOXIDE_DEBUG_FILE}"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${_split_dir}/${NIOXIDE_SHARED_FILE}"
            "${_split_dir}/libnioxide.a" "${NIOXIDE_STAGE_DIR}")
else()
  set(_stage_commands
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${_cargo_out}/libnioxide.so"
            "${NIOXIDE_STAGE_DIR}/${NIOXIDE_SHARED_FILE}"
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${_cargo_out}/libnioxide.a"
            "${NIOXIDE_STAGE_DIR}/libnioxide.a")
endif()

add_custom_target(nioxide_cargo ALL
  COMMAND "${CMAKE_COMMAND}" -E env "CARGO_TARGET_DIR=${NIOXIDE_CARGO_TARGET_DIR}"
          "${NIOXIDE_CARGO}" build --profile "${NIOXIDE_CARGO_PROFILE}" -p nioxide --lib
          ${_feature_args}
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${NIOXIDE_STAGE_DIR}"
  ${_stage_commands}
  COMMAND "${CMAKE_COMMAND}" -E create_symlink "${NIOXIDE_SHARED_FILE}"
          "${NIOXIDE_STAGE_DIR}/${NIOXIDE_SONAME}"
  COMMAND "${CMAKE_COMMAND}" -E create_symlink "${NIOXIDE_SONAME}"
          "${NIOXIDE_STAGE_DIR}/libnioxide.so"
  BYPRODUCTS "${NIOXIDE_STAGE_DIR}/${NIOXIDE_SHARED_FILE}" "${NIOXIDE_STAGE_DIR}/libnioxide.a"
             "${NIOXIDE_STAGE_DIR}/.debug/${NIOXIDE_DEBUG_FILE}"
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
  COMMENT "cargo build --profile ${NIOXIDE_CARGO_PROFILE} -p nioxide ${_features_text}"
  USES_TERMINAL
  VERBATIM)

add_library(nioxide_shared SHARED IMPORTED GLOBAL)
set_target_properties(nioxide_shared PROPERTIES
  IMPORTED_LOCATION "${NIOXIDE_STAGE_DIR}/${NIOXIDE_SHARED_FILE}"
  IMPORTED_SONAME "${NIOXIDE_SONAME}"
  INTERFACE_INCLUDE_DIRECTORIES "${PROJECT_SOURCE_DIR}/include")
add_dependencies(nioxide_shared nioxide_cargo)

add_library(nioxide_static STATIC IMPORTED GLOBAL)
set_target_properties(nioxide_static PROPERTIES
  IMPORTED_LOCATION "${NIOXIDE_STAGE_DIR}/libnioxide.a"
  INTERFACE_INCLUDE_DIRECTORIES "${PROJECT_SOURCE_DIR}/include"
  INTERFACE_LINK_LIBRARIES "${NIOXIDE_STATIC_SYSTEM_LIBS}")
add_dependencies(nioxide_static nioxide_cargo)

add_library(nioxide::nioxide_shared ALIAS nioxide_shared)
add_library(nioxide::nioxide_static ALIAS nioxide_static)
# The default is the shared library: a Rust staticlib bundles std, and two of them in one
# program clash (rust-lang/rust#44322).
add_library(nioxide::nioxide ALIAS nioxide_shared)
