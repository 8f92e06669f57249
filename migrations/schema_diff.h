// The difference between two schema catalogs as SQL: the statements that
// turn `from` into `to`, one per change, in dependency order (types and
// sequences before the tables that use them, tables before the foreign keys
// and views that reference them; views, foreign keys and indexes dropped
// before what they depend on). Careful where a careless diff destroys data:
// drops of tables and columns are written commented out unless allowed,
// type changes and new NOT NULLs carry warnings, enum values cannot be
// removed, and pairs that may be renames are named. Pure; thread-safe.
#ifndef FLEET_MIGRATIONS_SCHEMA_DIFF_H_
#define FLEET_MIGRATIONS_SCHEMA_DIFF_H_

#include <set>
#include <string>
#include <vector>

#include "migrations/schema_catalog.h"

namespace fleet::migrations {

struct DiffOptions {
  // Write DROP TABLE / DROP COLUMN live; otherwise they are commented out.
  bool allow_drop = false;
  // New indexes on tables that already exist become CREATE INDEX
  // CONCURRENTLY changes marked `concurrent` (for a transactional: false
  // revision of their own).
  bool concurrent_indexes = false;
  // Writing a downgrade: drops are what it is for (always live), and enum
  // values it cannot remove become a commented note instead of a refusal.
  bool downgrade = false;
};

struct SchemaChange {
  std::string summary;  // "add column tickets.priority"
  std::string object;   // the name of what it creates or drops (an index's, for concurrent ones)
  std::string sql;      // one statement, ending in ';'
  std::vector<std::string> warnings;
  bool commented_out = false;  // a drop written as a comment (see allow_drop)
  bool concurrent = false;     // CREATE INDEX CONCURRENTLY (see concurrent_indexes)
};

struct SchemaDiff {
  std::vector<SchemaChange> changes;
  std::vector<std::string> possible_renames;  // "column tickets.title -> tickets.subject"
  std::vector<std::string> refusals;          // changes PostgreSQL cannot make (enum values removed)
  bool empty() const { return changes.empty() && refusals.empty(); }
};

[[nodiscard]] SchemaDiff DiffSchemaCatalogs(const SchemaCatalog& from, const SchemaCatalog& to,
                                            const DiffOptions& options);

// What `revision --autogenerate` writes, from the heads' schema to the
// declared one: the upgrade; the downgrade of its transactional part
// (starting from the declared schema without the indexes the concurrent part
// creates); and DROP INDEX CONCURRENTLY statements undoing the concurrent
// part (concurrent_indexes), for the second, non-transactional revision.
struct RevisionDiffs {
  SchemaDiff upgrade;
  SchemaDiff downgrade;
  std::string concurrent_downgrade;
};
[[nodiscard]] RevisionDiffs DiffForRevisions(const SchemaCatalog& heads,
                                             const SchemaCatalog& declared, bool allow_drop,
                                             bool concurrent_indexes);

// Removes from `catalog` the tables, views, sequences, enum types and
// indexes whose names match one of `patterns` (shell globs: "test_*"; with a
// dot, "audit.tmp_*", only in that schema; "audit.*" the schema itself too),
// and the indexes of tables removed; returns the names removed. Autogenerate's
// filter (Alembic's include_name): what is excluded is neither created nor
// dropped.
std::set<std::string> ExcludeFromCatalog(SchemaCatalog* catalog,
                                         const std::vector<std::string>& patterns);

// The script text of `changes` (those with concurrent == `concurrent`): for
// each, a comment with its summary and warnings, then the statement
// (commented out when it is). Empty when there are none.
std::string RenderChanges(const std::vector<SchemaChange>& changes, bool concurrent = false);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_SCHEMA_DIFF_H_
