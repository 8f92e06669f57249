// Files compiled into fleetctl by cmake/embed_files.cmake: import alembic's
// Python helper (cli/alembic_render.py).
#ifndef FLEET_CLI_EMBEDDED_FILES_H_
#define FLEET_CLI_EMBEDDED_FILES_H_

#include <cstddef>
#include <vector>

namespace fleet::cli {

struct EmbeddedFile {
  const char* name;  // "alembic_render.py"
  const unsigned char* data;
  size_t size;
};

const std::vector<EmbeddedFile>& EmbeddedFiles();

}  // namespace fleet::cli

#endif  // FLEET_CLI_EMBEDDED_FILES_H_
