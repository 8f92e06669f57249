#include "migrations/offline_sql.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "migrations/sql_parse.h"

namespace fleet::migrations {

std::string QuoteIdentifier(absl::string_view name) {
  // PostgreSQL's quote_ident(): bare only when lower-case letters, digits
  // and underscores, not starting with a digit, and not a keyword that
  // cannot stand as an identifier (default, user, order, ...).
  bool plain = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) plain = false;
  }
  if (plain && !IsRestrictedKeyword(name)) return std::string(name);
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
}

std::string QuoteLiteral(absl::string_view value) {
  return absl::StrCat("'", absl::StrReplaceAll(value, {{"'", "''"}}), "'");
}

std::string VersionTable::QualifiedName() const {
  if (schema.empty()) return QuoteIdentifier(name);
  return absl::StrCat(QuoteIdentifier(schema), ".", QuoteIdentifier(name));
}

std::string CreateVersionTableSql(const VersionTable& table) {
  return absl::StrCat("CREATE TABLE ", table.QualifiedName(),
                      " (\n    version_num VARCHAR(32) NOT NULL, \n    CONSTRAINT ",
                      QuoteIdentifier(absl::StrCat(table.name, "_pkc")),
                      " PRIMARY KEY (version_num)\n);");
}

namespace {

// `t`: the version table's qualified name (quoting asks PostgreSQL's scanner
// whether a name is a keyword: done once per script, not once per change).
std::string ChangeSql(const std::string& t, const VersionChange& change) {
  switch (change.kind) {
    case VersionChange::Kind::kInsert:
      return absl::StrCat("INSERT INTO ", t, " (version_num) VALUES (", QuoteLiteral(change.to),
                          ") RETURNING ", t, ".version_num;");
    case VersionChange::Kind::kDelete:
      return absl::StrCat("DELETE FROM ", t, " WHERE ", t,
                          ".version_num = ", QuoteLiteral(change.from), ";");
    case VersionChange::Kind::kUpdate:
      return absl::StrCat("UPDATE ", t, " SET version_num=", QuoteLiteral(change.to), " WHERE ",
                          t, ".version_num = ", QuoteLiteral(change.from), ";");
  }
  return "";
}

}  // namespace

std::string VersionChangeSql(const VersionTable& table, const VersionChange& change) {
  return ChangeSql(table.QualifiedName(), change);
}

// A batched revision offline: its batch statement in a loop that ends when
// a run changes no row, then its post section. Online each batch commits on
// its own; a script has one transaction to offer, and says so.
std::string BatchLoopSql(const Script& script) {
  const absl::string_view statement =
      StatementText(script.batch->sql, script.batch->statements.front());
  std::string tag = "$fleet_batch$";
  for (int n = 1; absl::StrContains(statement, tag); ++n) tag = absl::StrCat("$fleet_batch", n, "$");
  std::string out = absl::StrCat(
      "-- Batches: online each one commits on its own; here they all run in this\n"
      "-- transaction, until the statement changes no row.\n"
      "DO ", tag, "\nBEGIN\n  LOOP\n    ", statement, ";\n    EXIT WHEN NOT FOUND;\n  END LOOP;\nEND\n",
      tag, ";\n\n");
  if (script.post && !script.post->sql.empty()) absl::StrAppend(&out, script.post->sql, "\n\n");
  return out;
}

std::string RenderOfflineSql(const Plan& plan, const VersionTable& table) {
  std::string out;
  const std::string qualified = table.QualifiedName();
  size_t heads = plan.start_heads.size();
  for (const Step& step : plan.steps) {
    const bool transactional = step.script == nullptr || step.script->transactional;
    if (transactional) absl::StrAppend(&out, "BEGIN;\n\n");
    if (heads == 0) absl::StrAppend(&out, CreateVersionTableSql(table), "\n\n");
    absl::string_view verb = step.direction == Direction::kStamp ? "stamp_revision"
                                                                 : DirectionName(step.direction);
    absl::StrAppend(&out, "-- Running ", verb, " ", absl::StrJoin(step.from_revisions, ", "),
                    " -> ", absl::StrJoin(step.to_revisions, ", "), "\n\n");
    if (step.script != nullptr) {
      const std::string& sql = step.direction == Direction::kUpgrade
                                   ? step.script->upgrade.sql
                                   : step.script->downgrade->sql;
      if (!sql.empty()) absl::StrAppend(&out, sql, "\n\n");
      if (step.direction == Direction::kUpgrade && step.script->is_batched()) {
        absl::StrAppend(&out, BatchLoopSql(*step.script));
      }
    }
    for (const VersionChange& change : step.version_changes) {
      absl::StrAppend(&out, ChangeSql(qualified, change), "\n\n");
      if (change.kind == VersionChange::Kind::kInsert) ++heads;
      if (change.kind == VersionChange::Kind::kDelete) --heads;
    }
    if (transactional) absl::StrAppend(&out, "COMMIT;\n\n");
  }
  if (!plan.steps.empty() && heads == 0) {
    absl::StrAppend(&out, "DROP TABLE ", qualified, ";\n\n");
  }
  return out;
}

}  // namespace fleet::migrations
