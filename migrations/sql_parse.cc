#include "migrations/sql_parse.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fleet::migrations {
namespace {

// Owners of what libpg_query hands out.
struct ParseResultFree {
  void operator()(PgQueryProtobufParseResult* r) const {
    pg_query_free_protobuf_parse_result(*r);
    delete r;
  }
};
struct SplitFree {
  void operator()(PgQuerySplitResult* r) const {
    pg_query_free_split_result(*r);
    delete r;
  }
};
struct ScanFree {
  void operator()(PgQueryScanResult* r) const {
    pg_query_free_scan_result(*r);
    delete r;
  }
};
struct ScanTreeFree {
  void operator()(PgQuery__ScanResult* t) const { pg_query__scan_result__free_unpacked(t, nullptr); }
};

// Lines before byte `offset` of `text`.
int LinesBefore(absl::string_view text, size_t offset) {
  return static_cast<int>(std::count(text.begin(), text.begin() + std::min(offset, text.size()),
                                     '\n'));
}

// The first byte at or after `i` that is neither whitespace nor inside a
// comment (-- to the end of the line, nested /* */).
size_t SkipBlanks(absl::string_view s, size_t i) {
  while (i < s.size()) {
    if (absl::ascii_isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    } else if (s.substr(i, 2) == "--") {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (s.substr(i, 2) == "/*") {
      int depth = 0;
      do {
        if (s.substr(i, 2) == "/*") {
          ++depth;
          i += 2;
        } else if (s.substr(i, 2) == "*/") {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      } while (depth > 0 && i < s.size());
    } else {
      break;
    }
  }
  return i;
}

// PostgreSQL reports error positions in characters (1-based); the byte
// offset of character `pos` in UTF-8 `text`.
size_t ByteOfCharacter(absl::string_view text, int pos) {
  size_t i = 0;
  for (int c = 1; c < pos && i < text.size(); ++c) {
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

bool IsTransactionControl(const PgQuery__Node* node) {
  if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_TRANSACTION_STMT) return false;
  switch (node->transaction_stmt->kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
      return false;
    default:
      return true;
  }
}

bool IsConcurrently(const PgQuery__Node* node) {
  if (node == nullptr) return false;
  switch (node->node_case) {
    case PG_QUERY__NODE__NODE_INDEX_STMT:
      return node->index_stmt->concurrent;
    case PG_QUERY__NODE__NODE_DROP_STMT:
      return node->drop_stmt->concurrent;
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
      for (size_t i = 0; i < node->reindex_stmt->n_params; ++i) {
        const PgQuery__Node* p = node->reindex_stmt->params[i];
        if (p->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
            absl::string_view(p->def_elem->defname) == "concurrently") {
          return true;
        }
      }
      return false;
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
      for (size_t i = 0; i < node->alter_table_stmt->n_cmds; ++i) {
        const PgQuery__Node* c = node->alter_table_stmt->cmds[i];
        if (c->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD) continue;
        const PgQuery__AlterTableCmd* cmd = c->alter_table_cmd;
        if (cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition && cmd->def &&
            cmd->def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD &&
            cmd->def->partition_cmd->concurrent) {
          return true;
        }
      }
      return false;
    default:
      return false;
  }
}

// Whether `statement` (its text from its first token) could be one the
// parse tree must judge: a transaction statement starts with one of these
// keywords, and every CONCURRENTLY form holds that keyword (keywords cannot
// be quoted or escaped). Only a filter: the tree decides.
bool MayNeedItsTree(absl::string_view statement) {
  size_t word = 0;
  while (word < statement.size() && absl::ascii_isalpha(static_cast<unsigned char>(statement[word]))) {
    ++word;
  }
  const std::string first = absl::AsciiStrToLower(statement.substr(0, word));
  for (absl::string_view k : {"begin", "start", "commit", "end", "rollback", "abort", "prepare"}) {
    if (first == k) return true;
  }
  return absl::StrContains(absl::AsciiStrToLower(statement), "concurrently");
}

// Fills in what only the parse tree of one statement tells.
absl::Status Classify(absl::string_view statement, SqlStatement* s) {
  absl::StatusOr<ParseTree> tree = ParseToTree(statement);
  if (!tree.ok()) {
    if (!absl::IsInvalidArgument(tree.status())) return tree.status();
    return absl::InvalidArgumentError(absl::StrCat("line ", s->line, ": ", tree.status().message()));
  }
  for (size_t i = 0; i < (*tree)->n_stmts; ++i) {
    s->transaction_control = s->transaction_control || IsTransactionControl((*tree)->stmts[i]->stmt);
    s->concurrently = s->concurrently || IsConcurrently((*tree)->stmts[i]->stmt);
  }
  return absl::OkStatus();
}

}  // namespace

void ParseTreeFree::operator()(PgQuery__ParseResult* tree) const {
  pg_query__parse_result__free_unpacked(tree, nullptr);
}

absl::StatusOr<ParseTree> ParseToTree(absl::string_view sql) {
  const std::string text(sql);  // NUL-terminated for the parser
  std::unique_ptr<PgQueryProtobufParseResult, ParseResultFree> parsed(
      new PgQueryProtobufParseResult(pg_query_parse_protobuf(text.c_str())));
  if (parsed->error != nullptr) return absl::InvalidArgumentError(parsed->error->message);
  ParseTree tree(pg_query__parse_result__unpack(
      nullptr, parsed->parse_tree.len, reinterpret_cast<const uint8_t*>(parsed->parse_tree.data)));
  if (!tree) return absl::InternalError("the SQL parser's result could not be read");
  return tree;
}

absl::StatusOr<std::vector<SqlStatement>> ParseSqlStatements(absl::string_view sql,
                                                             int first_line) {
  const std::string text(sql);  // NUL-terminated for the parser
  // The parser splits and checks the whole text; the tree, whose encoding
  // costs more than the parse, is built only for the statements that need
  // it (MayNeedItsTree).
  std::unique_ptr<PgQuerySplitResult, SplitFree> split(
      new PgQuerySplitResult(pg_query_split_with_parser(text.c_str())));
  if (split->error != nullptr) {
    size_t at = split->error->cursorpos > 0 ? ByteOfCharacter(text, split->error->cursorpos) : 0;
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", first_line + LinesBefore(text, at), ": ", split->error->message));
  }
  std::vector<SqlStatement> out;
  out.reserve(static_cast<size_t>(std::max(0, split->n_stmts)));
  size_t counted = 0;  // lines are counted once, statement after statement
  int line = first_line;
  for (int i = 0; i < split->n_stmts; ++i) {
    const PgQuerySplitStmt* raw = split->stmts[i];
    size_t begin = static_cast<size_t>(std::max(0, raw->stmt_location));
    // A length of 0 means "to the end of the text".
    size_t end = raw->stmt_len > 0 ? begin + static_cast<size_t>(raw->stmt_len) : text.size();
    end = std::min(end, text.size());
    size_t first_token = SkipBlanks(text, begin);
    if (first_token >= end) continue;
    line += LinesBefore(absl::string_view(text).substr(counted), first_token - counted);
    counted = first_token;
    SqlStatement s;
    s.offset = first_token;
    s.length = end - first_token;
    s.line = line;
    absl::string_view body = absl::string_view(text).substr(s.offset, s.length);
    if (MayNeedItsTree(body)) {
      if (absl::Status c = Classify(body, &s); !c.ok()) return c;
    }
    out.push_back(std::move(s));
  }
  return out;
}

bool IsRestrictedKeyword(absl::string_view word) {
  if (word.empty()) return false;
  const std::string text(word);
  std::unique_ptr<PgQueryScanResult, ScanFree> scanned(
      new PgQueryScanResult(pg_query_scan(text.c_str())));
  if (scanned->error != nullptr) return false;
  std::unique_ptr<PgQuery__ScanResult, ScanTreeFree> tokens(pg_query__scan_result__unpack(
      nullptr, scanned->pbuf.len, reinterpret_cast<const uint8_t*>(scanned->pbuf.data)));
  if (!tokens || tokens->n_tokens != 1) return false;
  const PgQuery__ScanToken* t = tokens->tokens[0];
  if (t->start != 0 || static_cast<size_t>(t->end) != text.size()) return false;
  return t->keyword_kind != PG_QUERY__KEYWORD_KIND__NO_KEYWORD &&
         t->keyword_kind != PG_QUERY__KEYWORD_KIND__UNRESERVED_KEYWORD;
}

}  // namespace fleet::migrations
