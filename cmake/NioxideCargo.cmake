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
# What a program linking the static library also needs (rustc's --print native-static-libs
# for this target: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc).
set(NIOXIDE_STATIC_SYSTEM_LIBS gcc_s util rt pthread m dl c)

add_custom_target(nioxide_cargo ALL
  COMMAND "${CMAKE_COMMAND}" -E env "CARGO_TARGET_DIR=${NIOXIDE_CARGO_TARGET_DIR}"
          "${NIOXIDE_CARGO}" build --profile "${NIOXIDE_CARGO_PROFILE}" -p nioxide --lib
          ${_feature_args}
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${NIOXIDE_STAGE_DIR}"
  COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${_cargo_out}/libnioxide.so"
          "${NIOXIDE_STAGE_DIR}/${NIOXIDE_SHARED_FILE}"
  COMMAND "${CMAKE_COMMAND}" -E create_symlink "${NIOXIDE_SHARED_FILE}"
          "${NIOXIDE_STAGE_DIR}/${NIOXIDE_SONAME}"
  COMMAND "${CMAKE_COMMAND}" -E create_symlink "${NIOXIDE_SONAME}"
          "${NIOXIDE_STAGE_DIR}/libnioxide.so"
  COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${_cargo_out}/libnioxide.a"
          "${NIOXIDE_STAGE_DIR}/libnioxide.a"
  BYPRODUCTS "${NIOXIDE_STAGE_DIR}/${NIOXIDE_SHARED_FILE}" "${NIOXIDE_STAGE_DIR}/libnioxide.a"
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
