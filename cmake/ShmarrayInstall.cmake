# Install rules and package files, included by the top-level CMakeLists.txt
# when SHMARRAY_INSTALL is on.
#
#   cmake --install build --prefix /opt/shmarray
#
# installs the static libraries, the public headers (shm/, client/, server/
# include trees; no generated protobuf header is public), the tools
# (shmarrayd, shmarray, shmarray-demo) when they are built, the .proto, and
#   lib/cmake/shmarray/shmarrayConfig.cmake (+ Version, Targets)
#     find_package(shmarray CONFIG) -> shmarray::shm, shmarray::client,
#     shmarray::server (shmarray::proto and shmarray::proto_gen are link-only
#     dependencies of the static libraries)
#   lib/pkgconfig/shmarray.pc
#     pkg-config --cflags --libs shmarray   (client + shm; compile as C++20)
# Both are relocatable: the prefix can move after installation.
# Components: "runtime" (the tools) and "development" (everything else), so
#   cmake --install build --component runtime --prefix P
# installs only shmarrayd, shmarray and shmarray-demo (what the container
# image carries).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SHMARRAY_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/shmarray"
    CACHE STRING "Where shmarrayConfig.cmake is installed (relative to the prefix)")
mark_as_advanced(SHMARRAY_INSTALL_CMAKEDIR)

set(_shmarray_libs shmarray_shm)
set_target_properties(shmarray_shm PROPERTIES EXPORT_NAME shm)
if(TARGET shmarray_proto)
  list(APPEND _shmarray_libs shmarray_proto_gen shmarray_proto)
  set_target_properties(shmarray_proto_gen PROPERTIES EXPORT_NAME proto_gen)
  set_target_properties(shmarray_proto PROPERTIES EXPORT_NAME proto)
endif()
if(TARGET shmarray_grpc_std_protos)  # the health and reflection protos the server links
  list(APPEND _shmarray_libs shmarray_grpc_std_protos)
  set_target_properties(shmarray_grpc_std_protos PROPERTIES EXPORT_NAME grpc_std_protos)
endif()
foreach(_lib server client)
  if(TARGET shmarray_${_lib})
    list(APPEND _shmarray_libs shmarray_${_lib})
    set_target_properties(shmarray_${_lib} PROPERTIES EXPORT_NAME ${_lib})
  endif()
endforeach()

install(TARGETS ${_shmarray_libs}
        EXPORT shmarrayTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(_dir shm client server)
  if(TARGET shmarray_${_dir})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_dir}/include/
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT development
            FILES_MATCHING PATTERN "*.h" PATTERN "*_internal.h" EXCLUDE)
  endif()
endforeach()
if(TARGET shmarray_proto)
  install(FILES ${PROJECT_SOURCE_DIR}/proto/shmarray/v1/array_service.proto
          DESTINATION ${CMAKE_INSTALL_DATADIR}/shmarray/proto/shmarray/v1 COMPONENT development)
endif()

foreach(_tool shmarrayd shmarray shmarray-demo)
  if(TARGET ${_tool})
    install(TARGETS ${_tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  endif()
endforeach()

if(TARGET shmarray_proto)
  set(SHMARRAY_PACKAGE_USES_GRPC TRUE)
else()
  set(SHMARRAY_PACKAGE_USES_GRPC FALSE)
endif()
if(TARGET shmarray_server)
  set(SHMARRAY_PACKAGE_HAS_SERVER TRUE)
else()
  set(SHMARRAY_PACKAGE_HAS_SERVER FALSE)
endif()
install(EXPORT shmarrayTargets
        NAMESPACE shmarray::
        DESTINATION ${SHMARRAY_INSTALL_CMAKEDIR} COMPONENT development)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/shmarrayConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/shmarrayConfig.cmake
                              INSTALL_DESTINATION ${SHMARRAY_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shmarrayConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shmarrayConfig.cmake
              ${PROJECT_BINARY_DIR}/shmarrayConfigVersion.cmake
        DESTINATION ${SHMARRAY_INSTALL_CMAKEDIR} COMPONENT development)

# pkg-config: the prefix is found relative to the .pc file (${pcfiledir}).
if(TARGET shmarray_client)
  set(_pcdir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    message(FATAL_ERROR "shmarray.pc needs relative CMAKE_INSTALL_LIBDIR and INCLUDEDIR")
  endif()
  file(RELATIVE_PATH SHMARRAY_PC_PREFIX_FROM_PCDIR "/p/${_pcdir}" "/p")
  string(REGEX REPLACE "/$" "" SHMARRAY_PC_PREFIX_FROM_PCDIR "${SHMARRAY_PC_PREFIX_FROM_PCDIR}")
  configure_file(${CMAKE_CURRENT_LIST_DIR}/shmarray.pc.in ${PROJECT_BINARY_DIR}/shmarray.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/shmarray.pc DESTINATION ${_pcdir} COMPONENT development)
endif()
