#include "migrations/sql_split.h"

#include "absl/strings/ascii.h"

namespace fleet::migrations {
namespace {

bool IsIdentChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

}  // namespace

std::vector<SqlStatement> SplitSqlStatements(absl::string_view sql, int first_line) {
  std::vector<SqlStatement> out;
  std::string current;
  bool has_code = false;  // anything but comments and whitespace
  int line = first_line;
  int start_line = first_line;
  auto flush = [&] {
    if (has_code) {
      std::string trimmed(absl::StripAsciiWhitespace(current));
      out.push_back({std::move(trimmed), start_line});
    }
    current.clear();
    has_code = false;
  };
  auto take = [&](size_t from, size_t to) {  // append sql[from, to), counting lines
    for (size_t k = from; k < to; ++k) {
      if (sql[k] == '\n') ++line;
    }
    current.append(sql.data() + from, to - from);
  };
  size_t i = 0;
  const size_t n = sql.size();
  while (i < n) {
    char c = sql[i];
    if (!has_code && !absl::ascii_isspace(static_cast<unsigned char>(c)) && c != ';' &&
        !(c == '-' && i + 1 < n && sql[i + 1] == '-') &&
        !(c == '/' && i + 1 < n && sql[i + 1] == '*')) {
      has_code = true;
      start_line = line;
    }
    if (c == ';') {
      ++i;
      flush();
      continue;
    }
    if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      end = end == absl::string_view::npos ? n : end;
      take(i, end);
      i = end;
      continue;
    }
    if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      int depth = 0;
      size_t k = i;
      while (k < n) {
        if (sql[k] == '/' && k + 1 < n && sql[k + 1] == '*') {
          ++depth;
          k += 2;
        } else if (sql[k] == '*' && k + 1 < n && sql[k + 1] == '/') {
          k += 2;
          if (--depth == 0) break;
        } else {
          ++k;
        }
      }
      take(i, k);
      i = k;
      continue;
    }
    if (c == '\'' || c == '"') {
      bool backslashes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                         (i < 2 || !IsIdentChar(sql[i - 2]));
      size_t k = i + 1;
      while (k < n) {
        if (backslashes && sql[k] == '\\') {
          k += 2;
          continue;
        }
        if (sql[k] == c) {
          if (k + 1 < n && sql[k + 1] == c) {  // doubled quote
            k += 2;
            continue;
          }
          ++k;
          break;
        }
        ++k;
      }
      take(i, std::min(k, n));
      i = std::min(k, n);
      continue;
    }
    if (c == '$' && (i == 0 || !IsIdentChar(sql[i - 1]))) {
      size_t k = i + 1;
      while (k < n && (IsIdentChar(sql[k])) && !(sql[k] >= '0' && sql[k] <= '9' && k == i + 1)) ++k;
      if (k < n && sql[k] == '$') {
        absl::string_view tag = sql.substr(i, k - i + 1);
        size_t close = sql.find(tag, k + 1);
        size_t end = close == absl::string_view::npos ? n : close + tag.size();
        take(i, end);
        i = end;
        continue;
      }
    }
    take(i, i + 1);
    ++i;
  }
  flush();
  return out;
}

}  // namespace fleet::migrations
