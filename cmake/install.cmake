# `cmake --install build [--prefix P]`: the three programs (and fleetctl's
# online half in libexec/fleet), their systemd
# units with ExecStart pointing at the installed programs (under the prefix
# given at install time, not /usr/local by assumption), the example
# configuration and the README. Tests and benchmarks are not installed.
include(GNUInstallDirs)

# Where units go, relative to the prefix (Debian: lib/systemd/system).
set(FLEET_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Directory for the systemd units, relative to the install prefix")

install(TARGETS fleetctl fleet-controller fleet-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# fleetctl's database and fleet-controller verbs (cli/online.h): fleetctl
# runs it from here, relative to its own directory.
install(TARGETS fleetctl-online RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/fleet)

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
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/COPYRIGHT
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Debian's machine-readable copyright file, beside them.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The example configuration under /etc/fleet too (GNUInstallDirs' rule: a
# /usr prefix configures /etc, another prefix P configures P/etc), where the
# Debian package marks it as conffiles an upgrade never overwrites.
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(fleet_etc \"\$ENV{DESTDIR}/etc/fleet\")
  else()
    set(fleet_etc \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/etc/fleet\")
  endif()
  file(MAKE_DIRECTORY \"\${fleet_etc}\")
  foreach(f agent.toml agent.env controller.env)
    message(STATUS \"Installing: \${fleet_etc}/\${f}\")
    file(COPY \"${PROJECT_SOURCE_DIR}/deploy/systemd/\${f}\" DESTINATION \"\${fleet_etc}\")
  endforeach()
")

# Shell completion, printed by the fleetctl just built (`fleetctl completion
# bash|zsh`), where bash-completion and zsh look.
install(CODE "
  set(fleet_share \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}\")
  file(MAKE_DIRECTORY \"\${fleet_share}/bash-completion/completions\" \"\${fleet_share}/zsh/vendor-completions\")
  execute_process(COMMAND \"$<TARGET_FILE:fleetctl>\" completion bash
                  OUTPUT_FILE \"\${fleet_share}/bash-completion/completions/fleetctl\"
                  RESULT_VARIABLE fleet_rc)
  execute_process(COMMAND \"$<TARGET_FILE:fleetctl>\" completion zsh
                  OUTPUT_FILE \"\${fleet_share}/zsh/vendor-completions/_fleetctl\"
                  RESULT_VARIABLE fleet_rc2)
  if(NOT fleet_rc EQUAL 0 OR NOT fleet_rc2 EQUAL 0)
    message(FATAL_ERROR \"fleetctl completion failed\")
  endif()
  message(STATUS \"Installing: \${fleet_share}/bash-completion/completions/fleetctl\")
")

# Man pages from each program's --help (help2man, when installed: tests/
# packages.sh installs it): fleetctl in section 1, the daemons in 8.
find_program(FLEET_HELP2MAN help2man)
if(FLEET_HELP2MAN)
  set(fleet_man_pages
      "fleetctl|1|schema migrations for one database and a fleet of tenant databases|$<TARGET_FILE:fleetctl>"
      "fleet-controller|8|the fleet's inventory, rollouts and dashboard|$<TARGET_FILE:fleet-controller>"
      "fleet-agent|8|runs migrations beside the tenant databases of one host|$<TARGET_FILE:fleet-agent>")
  foreach(page IN LISTS fleet_man_pages)
    string(REPLACE "|" ";" fields "${page}")
    list(GET fields 0 name)
    list(GET fields 1 section)
    list(GET fields 2 summary)
    list(GET fields 3 program)
    install(CODE "
      set(fleet_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_MANDIR}/man${section}\")
      file(MAKE_DIRECTORY \"\${fleet_dir}\")
      execute_process(COMMAND \"${FLEET_HELP2MAN}\" --no-info --section=${section}
                              \"--name=${summary}\" \"${program}\"
                      OUTPUT_FILE \"\${fleet_dir}/${name}.${section}\" RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR \"help2man failed for ${name}\")
      endif()
      execute_process(COMMAND gzip -9nf \"\${fleet_dir}/${name}.${section}\" RESULT_VARIABLE rc)
      message(STATUS \"Installing: \${fleet_dir}/${name}.${section}.gz\")
    ")
  endforeach()
else()
  message(STATUS "help2man not found: no man pages will be installed")
endif()

# `cpack -G DEB` in the build folder: fleet_<version>_<arch>.deb with its
# shared-library dependencies computed (dpkg-shlibdeps), the `fleet` user
# and state folders made by deploy/debian/postinst (nothing started), and
# /etc/fleet as conffiles.
set(FLEET_PACKAGE_MAINTAINER "fleet developers <fleet@example.com>"
    CACHE STRING "The Maintainer of the Debian package (who builds and ships it)")
# Debian's changelog for the package: one entry, this build's version.
string(TIMESTAMP fleet_changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE "${PROJECT_BINARY_DIR}/changelog.Debian"
     "fleet (${FLEET_VERSION}) unstable; urgency=medium\n\n"
     "  * Built from the fleet sources; see README.md for what changed.\n\n"
     " -- ${FLEET_PACKAGE_MAINTAINER}  ${fleet_changelog_date}\n")
# A version without a Debian revision ("0.1.0+g1a2b3c4", no "-") makes a
# native package, whose changelog Debian names changelog.gz.
if(FLEET_VERSION MATCHES "-")
  set(fleet_changelog "changelog.Debian")
else()
  set(fleet_changelog "changelog")
endif()
install(CODE "
  set(fleet_doc \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  file(MAKE_DIRECTORY \"\${fleet_doc}\")
  file(COPY_FILE \"${PROJECT_BINARY_DIR}/changelog.Debian\" \"\${fleet_doc}/${fleet_changelog}\")
  execute_process(COMMAND gzip -9nf \"\${fleet_doc}/${fleet_changelog}\")
")

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "fleet")
set(CPACK_PACKAGE_VERSION "${FLEET_VERSION}")
set(CPACK_PACKAGE_VENDOR "fleet")
set(CPACK_PACKAGE_CONTACT "${FLEET_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "schema migrations for fleets of PostgreSQL tenants")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "fleet keeps hundreds of tenant databases (or schemas) on one schema\n"
    "version. fleetctl speaks Alembic's language (revision graph, targets, the\n"
    "alembic_version table) for one database; fleet-agent runs migrations beside\n"
    "each database host; fleet-controller keeps the inventory and rolls new\n"
    "versions out in waves, canary first, halting and rolling back by itself\n"
    "when a wave goes wrong.")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "database")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/deploy/debian/postinst;${PROJECT_SOURCE_DIR}/deploy/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
