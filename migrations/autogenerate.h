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

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "migrations/file_system.h"
#include "migrations/revision_graph.h"
#include "migrations/schema_catalog.h"
#include "migrations/schema_diff.h"

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

// `dev_dsn` may hold a password: it is scrubbed from every error. With
// `schemas` (autogenerate's schemas = [...]: schemas compared besides the
// scripts' own), each side is built in a scratch database of its own on the
// dev server instead (it needs CREATEDB), the scripts' own schema being its
// public, and the listed schemas' objects are read keyed "schema.name"
// (ReadSchemaCatalog's default_schema).
[[nodiscard]] absl::StatusOr<SchemaPair> BuildSchemas(const RevisionGraph& graph,
                                                      const std::vector<DeclaredFile>& declared,
                                                      const std::string& dev_dsn,
                                                      const std::string& version_table,
                                                      const std::vector<std::string>& schemas = {});

// How a database's real schema differs from what its revisions build.
struct RevisionSchemaDiff {
  std::vector<std::string> compared_heads;  // the revisions the expected schema comes from
  SchemaDiff diff;  // from the expected schema to the real one: what someone changed by hand
};

// The expected schemas DiffDatabaseAgainstRevisions built, by bundle digest
// and heads: the tenants of one agent that sit on the same revisions share
// one build. Thread-safe; holds the most recent few.
class ExpectedSchemaCache {
 public:
  std::optional<SchemaCatalog> Find(const std::string& key) const ABSL_LOCKS_EXCLUDED(mu_);
  void Put(const std::string& key, SchemaCatalog catalog) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  static constexpr size_t kMaxEntries = 64;
  mutable absl::Mutex mu_;
  std::map<std::string, SchemaCatalog> catalogs_ ABSL_GUARDED_BY(mu_);
};

// Connects to `dsn` and, inside one transaction that is always rolled back
// (nothing it builds survives, whatever happens), runs `graph`'s upgrade
// scripts from base to `against` (empty: the heads the version table
// holds) in a scratch schema, then reads that and the real schema (`schema`,
// empty: the connection's current schema) and compares them. Scripts run
// with only the scratch schema on search_path (they cannot touch real
// tables), under a 2 s lock_timeout; CONCURRENTLY is dropped from the
// non-transactional ones. With `cache` (and the graph's `bundle_digest`), an
// expected schema built before for the same heads is reused. Errors are
// scrubbed of the DSN's password.
[[nodiscard]] absl::StatusOr<RevisionSchemaDiff> DiffDatabaseAgainstRevisions(
    const RevisionGraph& graph, const std::string& dsn, const std::string& schema,
    const std::string& version_table, const std::string& against,
    const std::string& bundle_digest = "", ExpectedSchemaCache* cache = nullptr);

// The stairway test of Alembic's cookbook ("test upgrade and downgrade
// cycles"), in a scratch schema of the empty dev database: for each revision
// from base to the heads in order, upgrade to it, run every verify query,
// downgrade it, check the catalog equals the one before its upgrade, and
// upgrade it again, checking the catalog equals the one after its first
// upgrade. A revision without a downgrade is upgraded once and noted. The
// scratch schema is dropped before returning.
struct StairwayStep {
  std::string revision;
  std::string path;
  bool reversible = true;
};
struct StairwayResult {
  std::vector<StairwayStep> passed;  // in the order they ran
  // Empty when every revision passed; else the first that broke, and how.
  std::string failed_revision;
  std::string failed_path;
  std::string failure;
};
using StairwayObserver = std::function<void(const StairwayStep&)>;
[[nodiscard]] absl::StatusOr<StairwayResult> RunStairway(const RevisionGraph& graph,
                                                         const std::string& dev_dsn,
                                                         const std::string& version_table,
                                                         const StairwayObserver& observer = {});

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_AUTOGENERATE_H_
