// Offline SQL: a plan rendered as the script Alembic's `--sql` mode prints
// for PostgreSQL, one transaction per step (non-transactional revisions run
// outside one).
//
// Pure functions of their arguments; safe from any thread.
#ifndef FLEET_MIGRATIONS_OFFLINE_SQL_H_
#define FLEET_MIGRATIONS_OFFLINE_SQL_H_

#include <string>
#include "absl/strings/string_view.h"

#include "migrations/revision_graph.h"

namespace fleet::migrations {

// Where the version table lives: Alembic's version_table and
// version_table_schema.
struct VersionTable {
  std::string schema;  // empty: the search_path
  std::string name = "alembic_version";

  // `schema.name`, each part quoted when PostgreSQL needs it.
  std::string QualifiedName() const;
};

// A PostgreSQL identifier for offline SQL, quoted as PostgreSQL's own
// quote_ident() does: double-quoted unless a plain lowercase name that is
// not a restricted keyword ("default" and "user" are quoted). Whatever runs
// on a connection is quoted by libpq (quote_name) instead, always.
std::string QuoteIdentifier(absl::string_view name);
// A PostgreSQL string literal, single-quoted with quotes doubled.
std::string QuoteLiteral(absl::string_view value);

// The CREATE TABLE statement for the version table, as Alembic writes it.
std::string CreateVersionTableSql(const VersionTable& table);
// The statement that makes one version-table change (no trailing newline).
std::string VersionChangeSql(const VersionTable& table, const VersionChange& change);

// The whole offline script for `plan`. Empty when the plan has no steps.
std::string RenderOfflineSql(const Plan& plan, const VersionTable& table);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_OFFLINE_SQL_H_
