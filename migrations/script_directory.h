// Loading a versions directory: every `*.sql` file in it, parsed, in file
// name order (Alembic's load order, which decides ties), and the graph built
// from them.
//
// Stateless functions; safe to call from many threads at once with the same
// or different FileSystem (the FileSystem's own thread-safety applies).
#ifndef FLEET_MIGRATIONS_SCRIPT_DIRECTORY_H_
#define FLEET_MIGRATIONS_SCRIPT_DIRECTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "migrations/file_system.h"
#include "migrations/revision_graph.h"
#include "migrations/script.h"

namespace fleet::migrations {

// Parses every `.sql` file directly inside `dir`, sorted by file name. Other
// files are ignored; a `.sql` file that does not parse is an error naming
// file and line, never skipped. NOT_FOUND when `dir` does not exist.
[[nodiscard]] absl::StatusOr<std::vector<Script>> LoadScripts(
    const FileSystem& fs, const std::string& dir, const ParseScriptOptions& options = {});

// LoadScripts, then RevisionGraph::Build.
[[nodiscard]] absl::StatusOr<std::unique_ptr<const RevisionGraph>> LoadRevisionGraph(
    const FileSystem& fs, const std::string& dir, const ParseScriptOptions& options = {});

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_SCRIPT_DIRECTORY_H_
