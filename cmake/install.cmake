# `cmake --install build [--prefix P]`: the three programs, their systemd
# units with ExecStart pointing at the installed programs (under the prefix
# given at install time, not /usr/local by assumption), the example
# configuration and the README. Tests and benchmarks are not installed.
include(GNUInstallDirs)

# Where units go, relative to the prefix (Debian: lib/systemd/system).
set(FLEET_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Directory for the systemd units, relative to the install prefix")

install(TARGETS fleetctl fleet-controller fleet-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The units in deploy/systemd name /usr/local/bin; installed, they name the
# programs where this install puts them.
install(CODE "
  set(fleet_bin \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  set(fleet_units \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${FLEET_SYSTEMD_UNIT_DIR}\")
  file(MAKE_DIRECTORY \"\${fleet_units}\")
  foreach(unit fleet-agent.service fleet-controller.service)
    file(READ \"${PROJECT_SOURCE_DIR}/deploy/systemd/\${unit}\" text)
    string(REPLACE \"/usr/local/bin/\" \"\${fleet_bin}/\" text \"\${text}\")
    message(STATUS \"Installing: \${fleet_units}/\${unit}\")
    file(WRITE \"\${fleet_units}/\${unit}\" \"\${text}\")
  endforeach()
")

install(FILES
  ${PROJECT_SOURCE_DIR}/deploy/systemd/agent.toml
  ${PROJECT_SOURCE_DIR}/deploy/systemd/agent.env
  ${PROJECT_SOURCE_DIR}/deploy/systemd/controller.env
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
