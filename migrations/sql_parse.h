// SQL as PostgreSQL itself reads it: a section of a script split into its
// statements by PostgreSQL 15's own parser (libpg_query), each with the
// exact bytes it came from, the file line it starts on and whether it is
// one a transaction cannot hold. What runs on the server is the file's bytes; what is
// refused at parse time (transaction control, CONCURRENTLY inside a
// transaction) is decided from the parse tree, never by scanning text.
//
// Pure functions; safe from any number of threads at once (libpg_query
// keeps its memory per thread).
#ifndef FLEET_MIGRATIONS_SQL_PARSE_H_
#define FLEET_MIGRATIONS_SQL_PARSE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct PgQuery__ParseResult;  // libpg_query's parse tree (pg_query.pb-c.h)

namespace fleet::migrations {

struct SqlStatement {
  size_t offset = 0;  // of its first token in the text it was parsed from
  size_t length = 0;  // its bytes from there, without the terminating semicolon
  int line = 0;       // 1-based line of its first token in the file
  // BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, PREPARE
  // TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED: they would end the
  // transaction a revision runs in. (SAVEPOINT and ROLLBACK TO are not.)
  bool transaction_control = false;
  // A CONCURRENTLY form that cannot run inside a transaction block: CREATE
  // INDEX, DROP INDEX, REINDEX, ALTER TABLE ... DETACH PARTITION.
  bool concurrently = false;
};

// The statements of `sql`, whose first byte sits on line `first_line` of
// its file, in order. Comment-only and empty statements are dropped.
// INVALID_ARGUMENT "line N: <the parser's message>" (N a file line) when
// it is not valid PostgreSQL 15 SQL.
[[nodiscard]] absl::StatusOr<std::vector<SqlStatement>> ParseSqlStatements(absl::string_view sql,
                                                                           int first_line);

// The parse tree of `sql` (one statement, or several), for code that walks
// it with pg_query.pb-c.h's types. INVALID_ARGUMENT with the parser's message
// when it does not parse.
struct ParseTreeFree {
  void operator()(PgQuery__ParseResult* tree) const;
};
using ParseTree = std::unique_ptr<PgQuery__ParseResult, ParseTreeFree>;
[[nodiscard]] absl::StatusOr<ParseTree> ParseToTree(absl::string_view sql);

// The bytes of `statement` in the `sql` it was parsed from.
inline absl::string_view StatementText(absl::string_view sql, const SqlStatement& statement) {
  return sql.substr(statement.offset, statement.length);
}

// Whether `word` is a PostgreSQL keyword that cannot stand unquoted as an
// identifier everywhere (reserved, type/function-name or column-name
// keywords: "default", "user", "order", "select"). Unreserved keywords
// ("name", "version") can. The rule PostgreSQL's quote_ident() applies.
bool IsRestrictedKeyword(absl::string_view word);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_SQL_PARSE_H_
