#include "migrations/sql_parse.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <memory>

#include "absl/strings/ascii.h"
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
struct TreeFree {
  void operator()(PgQuery__ParseResult* t) const { pg_query__parse_result__free_unpacked(t, nullptr); }
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
  int n = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) n += text[i] == '\n';
  return n;
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

std::string NodeName(const PgQuery__Node* node) {
  if (node == nullptr) return "";
  const ProtobufCFieldDescriptor* field = protobuf_c_message_descriptor_get_field(
      &pg_query__node__descriptor, static_cast<unsigned>(node->node_case));
  return field ? field->name : "";
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

}  // namespace

absl::StatusOr<std::vector<SqlStatement>> ParseSqlStatements(absl::string_view sql,
                                                             int first_line) {
  const std::string text(sql);  // NUL-terminated for the parser
  std::unique_ptr<PgQueryProtobufParseResult, ParseResultFree> parsed(
      new PgQueryProtobufParseResult(pg_query_parse_protobuf(text.c_str())));
  if (parsed->error != nullptr) {
    size_t at = parsed->error->cursorpos > 0
                    ? ByteOfCharacter(text, parsed->error->cursorpos)
                    : 0;
    return absl::InvalidArgumentError(absl::StrCat(
        "line ", first_line + LinesBefore(text, at), ": ", parsed->error->message));
  }
  std::unique_ptr<PgQuery__ParseResult, TreeFree> tree(pg_query__parse_result__unpack(
      nullptr, parsed->parse_tree.len,
      reinterpret_cast<const uint8_t*>(parsed->parse_tree.data)));
  if (!tree) return absl::InternalError("the SQL parser's result could not be read");
  std::vector<SqlStatement> out;
  out.reserve(tree->n_stmts);
  for (size_t i = 0; i < tree->n_stmts; ++i) {
    const PgQuery__RawStmt* raw = tree->stmts[i];
    size_t begin = static_cast<size_t>(std::max(0, raw->stmt_location));
    // A length of 0 means "to the end of the text".
    size_t end = raw->stmt_len > 0 ? begin + static_cast<size_t>(raw->stmt_len) : text.size();
    end = std::min(end, text.size());
    size_t first_token = SkipBlanks(text, begin);
    if (first_token >= end) continue;
    SqlStatement s;
    s.offset = first_token;
    s.length = end - first_token;
    s.line = first_line + LinesBefore(text, first_token);
    s.kind = NodeName(raw->stmt);
    s.transaction_control = IsTransactionControl(raw->stmt);
    s.concurrently = IsConcurrently(raw->stmt);
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
