// Script: one revision file, `<revision>_<slug>.sql`, parsed.
//
// The format is DESIGN.md's "Script files": a header of `-- key: value`
// lines using Alembic's names, then `-- migrate:upgrade`, optional
// `-- migrate:downgrade` and `-- migrate:verify` sections. A Script is a plain
// value: parse once, then share it read-only between threads.
#ifndef FLEET_MIGRATIONS_SCRIPT_H_
#define FLEET_MIGRATIONS_SCRIPT_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "migrations/sql_parse.h"

namespace fleet::migrations {

// A section of SQL: the file's bytes between its marker line and the next
// marker (exactly: that is what runs), the 1-based line its first byte sits
// on, and its statements as PostgreSQL's parser split them.
struct SqlSection {
  std::string sql;
  int line = 0;
  std::vector<SqlStatement> statements;  // spans of `sql`
};

struct Script {
  std::string revision;
  std::vector<std::string> down_revisions;  // empty: a base; several: a merge
  std::vector<std::string> branch_labels;
  std::vector<std::string> depends_on;  // revision ids or branch labels
  std::string message;
  std::string create_date;
  bool transactional = true;

  SqlSection upgrade;
  std::optional<SqlSection> downgrade;  // absent: the revision is irreversible
  std::optional<SqlSection> verify;

  // A batched data migration (DESIGN.md, "Batched data migrations"): after
  // the upgrade section commits, `batch` — one UPDATE, DELETE, INSERT or
  // MERGE that changes a bounded set of rows — runs again and again, each
  // run its own transaction, until it changes no row; then `post` (the
  // contract step: SET NOT NULL, VALIDATE CONSTRAINT), the verify query and
  // the version-table change commit together. Only in transactional
  // revisions; `post` only with `batch`.
  std::optional<SqlSection> batch;
  std::optional<SqlSection> post;
  absl::Duration batch_pause = absl::ZeroDuration();  // header batch_pause: between batches
  absl::Duration batch_max = absl::Seconds(60);       // header batch_max_seconds: per batch

  // False when loaded with ParseScriptOptions::headers_only: the sections'
  // SQL was not parsed, and nothing may run it.
  bool statements_parsed = true;

  std::string path;      // the file, as found (directory joined with name)
  std::string checksum;  // SHA-256 of the file's bytes, lowercase hex

  // 1-based lines of the header keys, for error messages (0: not present).
  int revision_line = 0;
  int down_revision_line = 0;
  int branch_labels_line = 0;
  int depends_on_line = 0;

  bool is_reversible() const { return downgrade.has_value(); }
  bool is_batched() const { return batch.has_value(); }
};

// Parses the bytes of one script file. `path` is used only in messages.
// On failure the status (INVALID_ARGUMENT) reads "path:line: what is wrong":
// a header or section problem, SQL PostgreSQL 15's parser refuses, or, in a
// transactional revision (and in every verify section), a statement that
// would end the transaction (COMMIT, BEGIN, ...) or needs to run outside
// one (CREATE INDEX CONCURRENTLY, ...).
//
// `options.keep_misplaced_transaction_statements` accepts those two instead,
// leaving them in the statements (marked): what `fleetctl lint` loads, to
// report them as findings beside everything else rather than stop at the
// first. Nothing that runs SQL loads scripts that way.
//
// `options.headers_only` reads the header and splits the sections but does
// not parse their SQL: what the verbs that only show the history (heads,
// branches, history, show) load, in half the time. Such a Script has
// statements_parsed false and no statements, and no plan can be made with
// it (RevisionGraph refuses), so it can never run.
struct ParseScriptOptions {
  bool keep_misplaced_transaction_statements = false;
  bool headers_only = false;
};
[[nodiscard]] absl::StatusOr<Script> ParseScript(absl::string_view path, absl::string_view bytes,
                                                 const ParseScriptOptions& options = {});

// OK when `id` can name a revision: non-empty, at most 32 characters, none of
// `@ - + :`, no whitespace, comma or quote. The message says which rule failed.
[[nodiscard]] absl::Status ValidateRevisionId(absl::string_view id);

// OK when `label` can be a branch label (the same characters as an id).
[[nodiscard]] absl::Status ValidateBranchLabel(absl::string_view label);

// SHA-256 of `bytes` as 64 lowercase hex characters.
std::string Sha256Hex(absl::string_view bytes);

// Renders a script file for `script` (header and sections) in the canonical
// layout that ParseScript reads back.
std::string FormatScript(const Script& script);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_SCRIPT_H_
