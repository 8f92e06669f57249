// Autogenerate's database work: the schema the versions directory's heads
// build, and the schema a declared SQL file (or directory) describes, both
// built in a scratch ("dev") database and read back from its catalog.
//
// The dev database must be empty: only schemas named fleet_autogen_* (this
// code's own, left by an interrupted run, and dropped) may exist besides an
// empty public. Both schemas are dropped before returning, error or not.
// Thread-safe: nothing is shared between calls.
#ifndef FLEET_MIGRATIONS_AUTOGENERATE_H_
#define FLEET_MIGRATIONS_AUTOGENERATE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "migrations/file_system.h"
#include "migrations/revision_graph.h"
#include "migrations/schema_catalog.h"

namespace fleet::migrations {

struct DeclaredFile {
  std::string path;
  std::string sql;
};

// One .sql file, or every .sql file of a directory in name order.
[[nodiscard]] absl::StatusOr<std::vector<DeclaredFile>> LoadDeclaredSchema(
    FileSystem& fs, const std::string& path);

struct SchemaPair {
  SchemaCatalog heads;     // what upgrading to heads builds
  SchemaCatalog declared;  // what the declared schema describes
};

// `dev_dsn` may hold a password: it is scrubbed from every error.
[[nodiscard]] absl::StatusOr<SchemaPair> BuildSchemas(const RevisionGraph& graph,
                                                      const std::vector<DeclaredFile>& declared,
                                                      const std::string& dev_dsn,
                                                      const std::string& version_table);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_AUTOGENERATE_H_
