// The lint rules: ids, severities, why each is risky and the safe way
// (lint.h). The checks themselves are in lint.cc.
#include "migrations/lint.h"

namespace fleet::migrations {
namespace {

constexpr LintSeverity kW = LintSeverity::kWarning;
constexpr LintSeverity kE = LintSeverity::kError;

const std::vector<LintRule>& Rules() {
  static const std::vector<LintRule> rules = {
      {"index-not-concurrent", kW, true,
       "CREATE INDEX blocks every write to the table (SHARE lock) until the index is built",
       "CREATE INDEX CONCURRENTLY in a revision of its own marked '-- transactional: false'"},
      {"drop-index-not-concurrent", kW, true,
       "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: reads and writes wait",
       "DROP INDEX CONCURRENTLY in a revision of its own marked '-- transactional: false'"},
      {"concurrently-in-transaction", kE, false,
       "a CONCURRENTLY form cannot run inside a transaction block: the revision fails on every "
       "tenant",
       "move it to a revision of its own marked '-- transactional: false'"},
      {"transaction-control", kE, false,
       "it ends the transaction the revision runs in: what ran before it stays even if the "
       "revision fails, and the tenant is left between revisions",
       "remove it (each revision is one transaction), or mark the revision "
       "'-- transactional: false'"},
      {"add-column-volatile-default", kW, true,
       "a volatile default (or a serial, identity or stored generated column) is computed for "
       "every existing row: the table is rewritten under an ACCESS EXCLUSIVE lock",
       "add the column without a default (or with a constant one), then fill it in batches and "
       "set the default afterwards"},
      {"add-not-null-column-without-default", kW, false,
       "a NOT NULL column without a default fails on any tenant whose table has rows",
       "give it a constant default, or add it nullable, backfill, then SET NOT NULL"},
      {"set-not-null", kW, true,
       "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
       "ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT in a later "
       "revision; then SET NOT NULL (PostgreSQL skips the scan) and drop the check"},
      {"alter-column-type", kW, true,
       "changing a column's type rewrites the table and its indexes under an ACCESS EXCLUSIVE "
       "lock (unless it only lifts a length limit)",
       "add a new column, backfill it in batches, switch the application, then drop the old one"},
      {"add-foreign-key-without-not-valid", kW, true,
       "adding a foreign key checks every row while both tables are locked against writes",
       "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later "
       "revision (it takes a lighter lock)"},
      {"add-check-without-not-valid", kW, true,
       "adding a CHECK constraint scans every row under an ACCESS EXCLUSIVE lock",
       "ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in a later revision"},
      {"add-unique-constraint", kW, true,
       "ADD UNIQUE builds its index under an ACCESS EXCLUSIVE lock",
       "CREATE UNIQUE INDEX CONCURRENTLY (a non-transactional revision), then ADD CONSTRAINT "
       "... UNIQUE USING INDEX"},
      {"add-primary-key", kW, true,
       "ADD PRIMARY KEY builds its index (and checks NOT NULL) under an ACCESS EXCLUSIVE lock",
       "CREATE UNIQUE INDEX CONCURRENTLY (a non-transactional revision), then ADD CONSTRAINT "
       "... PRIMARY KEY USING INDEX"},
      {"rename-column", kW, false,
       "the application's running code still uses the old name and fails until it is deployed "
       "again",
       "add the new column, write both, move readers, then drop the old one (expand and "
       "contract)"},
      {"rename-table", kW, false,
       "the application's running code still uses the old name and fails until it is deployed "
       "again",
       "create a view with the old name while the code moves, or expand and contract"},
      {"drop-column", kW, false, "it destroys the column's data on every tenant",
       "stop using it first; drop it in a later release, and say why with lint:ignore"},
      {"drop-table", kW, false, "it destroys the table's data on every tenant",
       "stop using it first; drop it in a later release, and say why with lint:ignore"},
      {"truncate", kW, false, "it destroys every row of the table on every tenant",
       "delete what must go with a WHERE, in batches, or say why with lint:ignore"},
      {"missing-downgrade", kW, false,
       "the revision has no '-- migrate:downgrade' section: a rollout that fails after it "
       "cannot roll tenants back",
       "write a downgrade that undoes the upgrade (fleetctl test checks that it does)"},
      {"data-change-with-ddl", kW, true,
       "an UPDATE or DELETE in the same transaction as DDL holds the DDL's locks for as long as "
       "it touches rows",
       "move the data change to a revision of its own and change the rows in batches"},
      {"bad-lint-ignore", kE, false,
       "a lint:ignore comment must name a known rule and give a reason",
       "-- lint:ignore RULE why it is safe here"},
  };
  return rules;
}

}  // namespace

absl::string_view LintSeverityName(LintSeverity s) {
  return s == LintSeverity::kError ? "error" : "warning";
}

const std::vector<LintRule>& LintRules() { return Rules(); }

const LintRule* FindLintRule(absl::string_view id) {
  for (const LintRule& r : Rules()) {
    if (id == r.id) return &r;
  }
  return nullptr;
}

}  // namespace fleet::migrations
