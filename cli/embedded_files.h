// Files compiled into fleetctl by cmake/embed_files.cmake: import alembic's
// Python helper (cli/alembic_render.py).
#ifndef FLEET_CLI_EMBEDDED_FILES_H_
#define FLEET_CLI_EMBEDDED_FILES_H_

#include <vector>

#include "serving/embedded_file.h"

namespace fleet::cli {

const std::vector<serving::EmbeddedFile>& EmbeddedFiles();

}  // namespace fleet::cli

#endif  // FLEET_CLI_EMBEDDED_FILES_H_
