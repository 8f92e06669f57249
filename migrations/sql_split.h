// Splitting a script section into statements, for running them one at a
// time (non-transactional scripts) and for naming the line of the statement
// that failed.
//
// Pure function; safe from any thread.
#ifndef FLEET_MIGRATIONS_SQL_SPLIT_H_
#define FLEET_MIGRATIONS_SQL_SPLIT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fleet::migrations {

struct SqlStatement {
  std::string sql;  // without the terminating semicolon
  int line = 0;     // 1-based line of its first character in the file
};

// Splits `sql` at top-level semicolons, honouring '...' and E'...' strings,
// "..." identifiers, $tag$...$tag$ bodies, -- and (nested) /* */ comments.
// Statements that hold only comments or whitespace are dropped. `first_line`
// is the file line `sql` starts on. Unterminated quotes end the text (the
// server then reports the error).
std::vector<SqlStatement> SplitSqlStatements(absl::string_view sql, int first_line);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_SQL_SPLIT_H_
