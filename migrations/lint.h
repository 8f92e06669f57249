// Lint: what a revision's SQL will do to a live tenant, read from
// PostgreSQL's own parse tree (libpg_query), never from the text. Each
// finding has a stable rule id, a severity, the revision, file and line, the
// statement, why it is risky and the safe way to write it.
//
// A finding is silenced by a comment on the line (or the comment lines)
// directly above its statement:
//
//   -- lint:ignore drop-column the column has been unused since 2025-10
//   ALTER TABLE tickets DROP COLUMN legacy_flag;
//
// The reason is required and kept (`fleetctl lint --show-ignored`). An
// ignore naming no known rule, or giving no reason, is itself an error.
// missing-downgrade, which has no statement, is ignored from any comment
// line of the upgrade section.
//
// "A table that existed before this revision" is every table the revision
// did not create itself, earlier in its own upgrade section: the lock-heavy
// rules (indexes, NOT NULL, constraints, type changes) stay quiet about a
// table that is new, and so empty and unused.
//
// Pure functions over parsed scripts; safe from any number of threads.
#ifndef FLEET_MIGRATIONS_LINT_H_
#define FLEET_MIGRATIONS_LINT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "migrations/revision_graph.h"

namespace fleet::migrations {

enum class LintSeverity { kWarning, kError };
absl::string_view LintSeverityName(LintSeverity s);  // "warning", "error"

struct LintRule {
  const char* id;
  LintSeverity severity;
  // Takes a lock that blocks the table's readers or writers for as long as
  // the statement scans or rewrites it: the longer the bigger the table.
  bool lock_heavy;
  const char* why;
  const char* fix;
};

// Every rule, in the order `fleetctl lint --help` lists them.
const std::vector<LintRule>& LintRules();
// The rule named `id`; null when there is none.
const LintRule* FindLintRule(absl::string_view id);

struct LintFinding {
  const LintRule* rule = nullptr;
  LintSeverity severity = LintSeverity::kWarning;  // the rule's, unless raised
  std::string revision;
  std::string path;
  int line = 0;
  std::string statement;  // its text, whitespace collapsed, cut at 200 characters
  std::string table;      // the table it concerns, when one ("" for a revision-wide finding)
  std::string detail;     // what in the statement tripped it ("default random()")
  bool ignored = false;
  std::string ignore_reason;
};

// Lints the upgrade (and verify) sections of `revisions`, reading the whole
// graph oldest first so that column types a revision changes are known from
// the revisions before it. Findings come in the graph's order (oldest
// revision first), then by line.
std::vector<LintFinding> LintRevisions(const RevisionGraph& graph,
                                       const std::vector<RevisionGraph::Index>& revisions);

// Counts of findings that are not ignored.
struct LintCounts {
  int errors = 0;
  int warnings = 0;
  int ignored = 0;
};
LintCounts CountFindings(const std::vector<LintFinding>& findings);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_LINT_H_
