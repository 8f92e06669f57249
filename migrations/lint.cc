#include "migrations/lint.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "migrations/sql_parse.h"

namespace fleet::migrations {

namespace {

// ---- reading the parse tree ----------------------------------------------

std::string Str(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// The strings of a list of String nodes (qualified names: schema, name).
std::vector<std::string> Strings(PgQuery__Node** items, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    if (items[i] != nullptr && items[i]->node_case == PG_QUERY__NODE__NODE_STRING) {
      out.push_back(Str(items[i]->string->sval));
    }
  }
  return out;
}

std::string Relname(const PgQuery__RangeVar* r) { return r == nullptr ? "" : Str(r->relname); }

// A type as "name(mod, mod)": "varchar(80)", "numeric(10,2)", "text", "int4".
struct TypeSpec {
  std::string name;
  std::vector<int> mods;
  bool array = false;
  bool operator==(const TypeSpec&) const = default;
};

std::optional<TypeSpec> TypeOf(const PgQuery__TypeName* t) {
  if (t == nullptr) return std::nullopt;
  std::vector<std::string> names = Strings(t->names, t->n_names);
  if (names.empty()) return std::nullopt;
  TypeSpec spec;
  spec.name = names.back();
  // The SQL spellings the grammar does not normalise.
  if (spec.name == "character varying") spec.name = "varchar";
  for (size_t i = 0; i < t->n_typmods; ++i) {
    const PgQuery__Node* m = t->typmods[i];
    if (m != nullptr && m->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        m->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
      spec.mods.push_back(m->a_const->ival->ival);
    } else {
      return std::nullopt;  // a modifier we cannot read: unknown
    }
  }
  spec.array = t->n_array_bounds > 0;
  return spec;
}

// Whether changing a column from `from` to `to` needs no rewrite, by
// PostgreSQL's binary-coercible rules for the common cases: lifting or
// widening a varchar limit, varchar to text, widening a numeric's precision
// at the same scale.
bool BinaryCompatible(const std::optional<TypeSpec>& from, const std::optional<TypeSpec>& to) {
  if (!from || !to || from->array || to->array) return false;
  auto is_text_like = [](const std::string& n) { return n == "varchar" || n == "text"; };
  if (is_text_like(from->name) && to->name == "text") return to->mods.empty();
  if (is_text_like(from->name) && to->name == "varchar") {
    if (to->mods.empty()) return true;
    return from->name == "varchar" && from->mods.size() == 1 && to->mods.size() == 1 &&
           to->mods[0] >= from->mods[0];
  }
  if (from->name == "numeric" && to->name == "numeric") {
    if (to->mods.empty()) return true;
    return from->mods.size() == 2 && to->mods.size() == 2 && to->mods[1] == from->mods[1] &&
           to->mods[0] >= from->mods[0];
  }
  return false;
}

// Functions whose value differs row by row: a default calling one is
// computed for every existing row.
bool IsVolatileFunction(const std::string& name) {
  static const std::set<std::string> volatile_functions = {
      "random",         "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
      "uuid_generate_v4", "clock_timestamp", "timeofday",      "nextval",
      "txid_current",   "gen_random_bytes", "random_normal"};
  return volatile_functions.count(name) > 0;
}

// Calls `visit` on every FuncCall under `message`, through every field of
// every node (protobuf-c's own descriptors walk the tree).
template <typename Visit>
void ForEachFuncCall(const ProtobufCMessage* message, const Visit& visit) {
  if (message == nullptr) return;
  if (message->descriptor == &pg_query__func_call__descriptor) {
    visit(reinterpret_cast<const PgQuery__FuncCall*>(message));
  }
  const ProtobufCMessageDescriptor* d = message->descriptor;
  const char* base = reinterpret_cast<const char*>(message);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const ProtobufCFieldDescriptor& f = d->fields[i];
    if (f.type != PROTOBUF_C_TYPE_MESSAGE) continue;
    if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      uint32_t which = *reinterpret_cast<const uint32_t*>(base + f.quantifier_offset);
      if (which != f.id) continue;
    }
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *reinterpret_cast<const size_t*>(base + f.quantifier_offset);
      auto items = *reinterpret_cast<ProtobufCMessage* const* const*>(base + f.offset);
      for (size_t k = 0; k < n; ++k) ForEachFuncCall(items[k], visit);
    } else {
      ForEachFuncCall(*reinterpret_cast<ProtobufCMessage* const*>(base + f.offset), visit);
    }
  }
}

// The first volatile function `expr` calls, or "".
std::string VolatileCall(const PgQuery__Node* expr) {
  std::string found;
  ForEachFuncCall(reinterpret_cast<const ProtobufCMessage*>(expr),
                  [&](const PgQuery__FuncCall* call) {
                    std::vector<std::string> names = Strings(call->funcname, call->n_funcname);
                    if (found.empty() && !names.empty() && IsVolatileFunction(names.back())) {
                      found = names.back();
                    }
                  });
  return found;
}

// ---- the state lint carries through history --------------------------------

// Column types and index tables as the history so far declares them; what
// the type-change rule needs to know about a column a revision changes.
struct KnownSchema {
  std::map<std::string, std::map<std::string, std::optional<TypeSpec>>> columns;  // table -> col
  std::map<std::string, std::string> index_tables;                                // index -> table
};

// One revision's view while its statements are read.
struct RevisionScope {
  const Script* script = nullptr;
  std::set<std::string> new_tables;   // created by this revision, so far
  std::set<std::string> new_indexes;  // created by this revision, so far
  bool has_ddl = false;
};

std::string Collapse(absl::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  if (out.size() > 200) out = out.substr(0, 197) + "...";
  return out;
}

// The comment lines directly above byte `offset` of `sql` (nearest last).
std::vector<std::string> CommentLinesAbove(absl::string_view sql, size_t offset) {
  std::vector<std::string> lines;
  size_t line_start = sql.rfind('\n', offset == 0 ? 0 : offset - 1);
  // Text on the statement's own line before it belongs to something else.
  if (line_start == absl::string_view::npos) return lines;
  size_t end = line_start;  // the '\n' ending the line above
  while (end != absl::string_view::npos && end > 0) {
    size_t begin = sql.rfind('\n', end - 1);
    size_t from = begin == absl::string_view::npos ? 0 : begin + 1;
    absl::string_view line = absl::StripAsciiWhitespace(sql.substr(from, end - from));
    if (!absl::StartsWith(line, "--")) break;
    lines.push_back(std::string(line));
    if (begin == absl::string_view::npos) break;
    end = begin;
  }
  return lines;
}

struct Ignore {
  std::string rule;
  std::string reason;
  int line = 0;
};

// "-- lint:ignore RULE reason" → {RULE, reason}; nullopt when the comment
// is not a lint:ignore at all.
std::optional<Ignore> ParseIgnore(absl::string_view comment) {
  absl::string_view rest = absl::StripAsciiWhitespace(absl::StripPrefix(comment, "--"));
  if (!absl::ConsumePrefix(&rest, "lint:ignore")) return std::nullopt;
  rest = absl::StripLeadingAsciiWhitespace(rest);
  Ignore ignore;
  size_t space = rest.find_first_of(" \t");
  ignore.rule = std::string(rest.substr(0, space));
  if (space != absl::string_view::npos) {
    ignore.reason = std::string(absl::StripAsciiWhitespace(rest.substr(space)));
  }
  return ignore;
}

class Linter {
 public:
  explicit Linter(std::vector<LintFinding>* out) : out_(out) {}

  // Reads one revision; reports findings only when `report`.
  void Revision(const Script& script, bool report) {
    report_ = report;
    const size_t first = out_->size();
    scope_ = RevisionScope{};
    scope_.script = &script;
    const SqlSection& up = script.upgrade;
    // The upgrade section, and a batched revision's post section (its
    // contract step: DDL like the upgrade's). The batch statement itself is
    // not read: changing rows is its purpose, in transactions of its own.
    for (const SqlSection* section : {&up, script.post ? &*script.post : nullptr}) {
      if (section == nullptr) continue;
      for (const SqlStatement& s : section->statements) {
        section_ = section;
        statement_ = &s;
        ReadIgnores(*section, s);
        absl::StatusOr<ParseTree> tree = ParseToTree(StatementText(section->sql, s));
        if (!tree.ok()) continue;  // ParseScript has parsed it once already
        for (size_t i = 0; i < (*tree)->n_stmts; ++i) Statement((*tree)->stmts[i]->stmt);
      }
    }
    if (report_ && scope_.has_ddl && script.transactional) {
      for (LintFinding& f : data_changes_) out_->push_back(std::move(f));
    }
    data_changes_.clear();
    if (script.verify) {
      for (const SqlStatement& s : script.verify->statements) {
        section_ = &*script.verify;
        statement_ = &s;
        ReadIgnores(*script.verify, s);
        if (s.transaction_control) Add("transaction-control", s.line, "", "in the verify section");
      }
    }
    if (!script.is_reversible() && report_) {
      statement_ = nullptr;
      LintFinding f = Make("missing-downgrade", script.revision_line > 0 ? script.revision_line : 1,
                           "", "");
      // Ignored from any comment line of the upgrade section.
      for (absl::string_view line : absl::StrSplit(up.sql, '\n')) {
        line = absl::StripAsciiWhitespace(line);
        if (!absl::StartsWith(line, "--")) continue;
        std::optional<Ignore> ig = ParseIgnore(line);
        if (ig && ig->rule == "missing-downgrade" && !ig->reason.empty()) {
          f.ignored = true;
          f.ignore_reason = ig->reason;
        }
      }
      out_->push_back(std::move(f));
    }
    std::stable_sort(out_->begin() + static_cast<std::ptrdiff_t>(first), out_->end(),
                     [](const LintFinding& a, const LintFinding& b) { return a.line < b.line; });
  }

 private:
  // The lint:ignore comments above `s`; bad ones are findings themselves.
  void ReadIgnores(const SqlSection& section, const SqlStatement& s) {
    ignores_.clear();
    std::vector<std::string> comments = CommentLinesAbove(section.sql, s.offset);
    for (size_t k = 0; k < comments.size(); ++k) {
      std::optional<Ignore> ig = ParseIgnore(comments[k]);
      if (!ig) continue;
      ig->line = s.line - 1 - static_cast<int>(k);
      if (FindLintRule(ig->rule) == nullptr || ig->reason.empty()) {
        if (report_) {
          Add("bad-lint-ignore", ig->line, "",
              FindLintRule(ig->rule) == nullptr
                  ? absl::StrCat("no rule named '", ig->rule, "'")
                  : absl::StrCat("no reason given for ignoring ", ig->rule));
        }
        continue;
      }
      ignores_.push_back(*ig);
    }
  }

  LintFinding Make(const char* rule, int line, const std::string& table,
                   const std::string& detail) const {
    LintFinding f;
    f.rule = FindLintRule(rule);
    f.severity = f.rule->severity;
    f.revision = scope_.script->revision;
    f.path = scope_.script->path;
    f.line = line;
    if (statement_ != nullptr) f.statement = Collapse(StatementText(section_->sql, *statement_));
    f.table = table;
    f.detail = detail;
    return f;
  }

  // A finding with the lint:ignore comments above its statement applied.
  LintFinding Build(const char* rule, int line, const std::string& table,
                    const std::string& detail) const {
    LintFinding f = Make(rule, line, table, detail);
    for (const Ignore& ig : ignores_) {
      if (ig.rule == rule) {
        f.ignored = true;
        f.ignore_reason = ig.reason;
      }
    }
    return f;
  }

  void Add(const char* rule, int line, const std::string& table, const std::string& detail) {
    if (report_) out_->push_back(Build(rule, line, table, detail));
  }
  void Add(const char* rule, const std::string& table, const std::string& detail = "") {
    Add(rule, statement_->line, table, detail);
  }

  bool IsNew(const std::string& table) const { return scope_.new_tables.count(table) > 0; }

  void Statement(const PgQuery__Node* node) {
    if (node == nullptr) return;
    const Script& script = *scope_.script;
    switch (node->node_case) {
      case PG_QUERY__NODE__NODE_SELECT_STMT:
      case PG_QUERY__NODE__NODE_INSERT_STMT:
      case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        return;
      // Reported at the end of the revision, if it holds DDL too.
      case PG_QUERY__NODE__NODE_UPDATE_STMT:
        data_changes_.push_back(Build("data-change-with-ddl", statement_->line,
                                      Relname(node->update_stmt->relation), ""));
        return;
      case PG_QUERY__NODE__NODE_DELETE_STMT:
        data_changes_.push_back(Build("data-change-with-ddl", statement_->line,
                                      Relname(node->delete_stmt->relation), ""));
        return;
      case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        if (statement_->transaction_control && script.transactional) {
          Add("transaction-control", "");
        }
        return;
      default:
        break;
    }
    scope_.has_ddl = true;
    if (statement_->concurrently && script.transactional) {
      Add("concurrently-in-transaction", "");
    }
    switch (node->node_case) {
      case PG_QUERY__NODE__NODE_CREATE_STMT: {
        const std::string table = Relname(node->create_stmt->relation);
        scope_.new_tables.insert(table);
        auto& columns = known_.columns[table];
        columns.clear();
        for (size_t i = 0; i < node->create_stmt->n_table_elts; ++i) {
          const PgQuery__Node* e = node->create_stmt->table_elts[i];
          if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
            columns[Str(e->column_def->colname)] = TypeOf(e->column_def->type_name);
          }
        }
        return;
      }
      case PG_QUERY__NODE__NODE_INDEX_STMT: {
        const PgQuery__IndexStmt* index = node->index_stmt;
        const std::string table = Relname(index->relation);
        if (index->idxname != nullptr) {
          known_.index_tables[Str(index->idxname)] = table;
          scope_.new_indexes.insert(Str(index->idxname));
        }
        if (!index->concurrent && !IsNew(table)) Add("index-not-concurrent", table);
        return;
      }
      case PG_QUERY__NODE__NODE_DROP_STMT:
        Drop(node->drop_stmt);
        return;
      case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        for (size_t i = 0; i < node->truncate_stmt->n_relations; ++i) {
          const PgQuery__Node* r = node->truncate_stmt->relations[i];
          if (r->node_case == PG_QUERY__NODE__NODE_RANGE_VAR && !IsNew(Relname(r->range_var))) {
            Add("truncate", Relname(r->range_var));
          }
        }
        return;
      case PG_QUERY__NODE__NODE_RENAME_STMT:
        Rename(node->rename_stmt);
        return;
      case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
        AlterTable(node->alter_table_stmt);
        return;
      default:
        return;
    }
  }

  void Drop(const PgQuery__DropStmt* drop) {
    for (size_t i = 0; i < drop->n_objects; ++i) {
      const PgQuery__Node* o = drop->objects[i];
      if (o->node_case != PG_QUERY__NODE__NODE_LIST) continue;
      std::vector<std::string> name = Strings(o->list->items, o->list->n_items);
      if (name.empty()) continue;
      const std::string& object = name.back();
      if (drop->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        if (!IsNew(object)) Add("drop-table", object);
        known_.columns.erase(object);
      } else if (drop->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX) {
        auto table = known_.index_tables.find(object);
        const std::string on = table == known_.index_tables.end() ? "" : table->second;
        if (!drop->concurrent && scope_.new_indexes.count(object) == 0 && !IsNew(on)) {
          Add("drop-index-not-concurrent", on, absl::StrCat("index ", object));
        }
        known_.index_tables.erase(object);
      }
    }
  }

  void Rename(const PgQuery__RenameStmt* rename) {
    const std::string table = Relname(rename->relation);
    if (rename->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN) {
      if (!IsNew(table)) {
        Add("rename-column", table, absl::StrCat(Str(rename->subname), " -> ", Str(rename->newname)));
      }
      auto& columns = known_.columns[table];
      auto it = columns.find(Str(rename->subname));
      if (it != columns.end()) {
        columns[Str(rename->newname)] = it->second;
        columns.erase(Str(rename->subname));
      }
    } else if (rename->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
      if (!IsNew(table)) Add("rename-table", table, absl::StrCat(table, " -> ", Str(rename->newname)));
      auto node = known_.columns.extract(table);
      if (!node.empty()) {
        node.key() = Str(rename->newname);
        known_.columns.insert(std::move(node));
      }
      if (IsNew(table)) scope_.new_tables.insert(Str(rename->newname));
    }
  }

  void AlterTable(const PgQuery__AlterTableStmt* alter) {
    const std::string table = Relname(alter->relation);
    const bool existed = !IsNew(table);
    auto& columns = known_.columns[table];
    for (size_t i = 0; i < alter->n_cmds; ++i) {
      const PgQuery__Node* c = alter->cmds[i];
      if (c->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD) continue;
      const PgQuery__AlterTableCmd* cmd = c->alter_table_cmd;
      const std::string column = Str(cmd->name);
      switch (cmd->subtype) {
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
          if (cmd->def != nullptr && cmd->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
            const PgQuery__ColumnDef* col = cmd->def->column_def;
            columns[Str(col->colname)] = TypeOf(col->type_name);
            if (existed) AddColumn(table, col);
          }
          break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
          if (existed) Add("set-not-null", table, absl::StrCat("column ", column));
          break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType: {
          if (cmd->def == nullptr || cmd->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF) break;
          const PgQuery__ColumnDef* col = cmd->def->column_def;
          std::optional<TypeSpec> to = TypeOf(col->type_name);
          auto known = columns.find(column);
          std::optional<TypeSpec> from =
              known == columns.end() ? std::nullopt : known->second;
          // A USING expression always rewrites.
          bool rewrites = col->raw_default != nullptr || !BinaryCompatible(from, to);
          if (existed && rewrites) Add("alter-column-type", table, absl::StrCat("column ", column));
          columns[column] = to;
          break;
        }
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
          if (existed && cmd->def != nullptr &&
              cmd->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
            AddConstraint(table, cmd->def->constraint);
          }
          break;
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
          if (existed) Add("drop-column", table, absl::StrCat("column ", column));
          columns.erase(column);
          break;
        default:
          break;
      }
    }
  }

  void AddColumn(const std::string& table, const PgQuery__ColumnDef* col) {
    const std::string name = Str(col->colname);
    bool not_null = col->is_not_null;
    bool has_default = false;
    std::string rewrite;  // why every row gets its own value
    std::optional<TypeSpec> type = TypeOf(col->type_name);
    if (type && absl::EndsWith(type->name, "serial")) rewrite = absl::StrCat("type ", type->name);
    for (size_t i = 0; i < col->n_constraints; ++i) {
      const PgQuery__Node* n = col->constraints[i];
      if (n->node_case != PG_QUERY__NODE__NODE_CONSTRAINT) continue;
      const PgQuery__Constraint* k = n->constraint;
      switch (k->contype) {
        case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
        case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
          not_null = true;
          break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT: {
          has_default = true;
          std::string call = VolatileCall(k->raw_expr);
          if (!call.empty()) rewrite = absl::StrCat("default ", call, "()");
          break;
        }
        case PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY:
          has_default = true;
          rewrite = "an identity column";
          break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED:
          has_default = true;
          rewrite = "a stored generated column";
          break;
        default:
          break;
      }
    }
    if (!rewrite.empty()) {
      Add("add-column-volatile-default", table, absl::StrCat("column ", name, ": ", rewrite));
    } else if (not_null && !has_default) {
      Add("add-not-null-column-without-default", table, absl::StrCat("column ", name));
    }
  }

  void AddConstraint(const std::string& table, const PgQuery__Constraint* k) {
    const std::string name = k->conname == nullptr ? "" : absl::StrCat("constraint ", k->conname);
    switch (k->contype) {
      case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
        if (!k->skip_validation) Add("add-foreign-key-without-not-valid", table, name);
        break;
      case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
        if (!k->skip_validation) Add("add-check-without-not-valid", table, name);
        break;
      case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
        if (k->indexname == nullptr || *k->indexname == '\0') {
          Add("add-unique-constraint", table, name);
        }
        break;
      case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
        if (k->indexname == nullptr || *k->indexname == '\0') Add("add-primary-key", table, name);
        break;
      default:
        break;
    }
  }

  std::vector<LintFinding>* out_;
  KnownSchema known_;
  RevisionScope scope_;
  bool report_ = false;
  const SqlSection* section_ = nullptr;
  const SqlStatement* statement_ = nullptr;
  std::vector<Ignore> ignores_;  // those above the current statement
  std::vector<LintFinding> data_changes_;  // this revision's UPDATEs and DELETEs
};

}  // namespace

std::vector<LintFinding> LintRevisions(const RevisionGraph& graph,
                                       const std::vector<RevisionGraph::Index>& revisions) {
  std::vector<LintFinding> findings;
  absl::StatusOr<std::vector<RevisionGraph::Index>> newest_first = graph.History("", "");
  if (!newest_first.ok()) return findings;  // a built graph always has a history
  std::set<RevisionGraph::Index> wanted(revisions.begin(), revisions.end());
  Linter linter(&findings);
  for (auto it = newest_first->rbegin(); it != newest_first->rend(); ++it) {
    linter.Revision(graph.script(*it), wanted.count(*it) > 0);
  }
  return findings;
}

LintCounts CountFindings(const std::vector<LintFinding>& findings) {
  LintCounts c;
  for (const LintFinding& f : findings) {
    if (f.ignored) {
      ++c.ignored;
    } else if (f.severity == LintSeverity::kError) {
      ++c.errors;
    } else {
      ++c.warnings;
    }
  }
  return c;
}

}  // namespace fleet::migrations
