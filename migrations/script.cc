#include "migrations/script.h"

#include <openssl/evp.h>

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "migrations/sql_parse.h"
#include "migrations/status_macros.h"

namespace fleet::migrations {
namespace {

constexpr size_t kMaxRevisionIdLength = 32;  // alembic_version.version_num is VARCHAR(32)

absl::Status LineError(absl::string_view path, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", what));
}

// Returns the 1-based line of the first byte that is not valid UTF-8, or 0.
int FirstInvalidUtf8Line(absl::string_view s) {
  int line = 1;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') ++line;
    size_t len;
    uint32_t min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000;
    } else {
      return line;
    }
    if (i + len > s.size()) return line;
    uint32_t cp = c & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return line;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return line;
    i += len;
  }
  return 0;
}

std::vector<std::string> SplitList(absl::string_view value) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

absl::Status ValidateName(absl::string_view what, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (id.size() > kMaxRevisionIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", id, "' is longer than ",
                                                   kMaxRevisionIdLength, " characters"));
  }
  for (char c : id) {
    if (c == '@' || c == '-' || c == '+' || c == ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("Character(s) '", std::string(1, c), "' not allowed in ", what, " '", id,
                       "'"));
    }
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || c == ',' || c == '\'' ||
        c == '"' || absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", id, "' contains whitespace, a comma or a quote"));
    }
  }
  if (id == "head" || id == "heads" || id == "base" || id == "current") {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", id, "' is a reserved word of the target language"));
  }
  return absl::OkStatus();
}

enum class Section { kHeader, kUpgrade, kDowngrade, kVerify, kBatch, kPost };

// A header duration: "250ms", "2s", "1m", or a plain number of seconds.
absl::StatusOr<absl::Duration> ParseHeaderDuration(absl::string_view value) {
  double seconds = 0;
  absl::Duration d;
  if (absl::SimpleAtod(value, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(value, &d)) {
    return absl::InvalidArgumentError("not a duration");
  }
  if (d < absl::ZeroDuration() || d > absl::Hours(24)) {
    return absl::InvalidArgumentError("out of range");
  }
  return d;
}

// "COMMIT", "START TRANSACTION", "CREATE INDEX": the statement's first
// words (after comments), upper-cased, for messages.
std::string LeadingWords(absl::string_view sql) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < sql.size() && words.size() < 2) {
    if (absl::ascii_isspace(static_cast<unsigned char>(sql[i]))) {
      ++i;
    } else if (sql.substr(i, 2) == "--") {
      while (i < sql.size() && sql[i] != '\n') ++i;
    } else if (sql.substr(i, 2) == "/*") {
      size_t end = sql.find("*/", i + 2);
      i = end == absl::string_view::npos ? sql.size() : end + 2;
    } else {
      size_t start = i;
      while (i < sql.size() && absl::ascii_isalpha(static_cast<unsigned char>(sql[i]))) ++i;
      if (i == start) break;
      words.push_back(absl::AsciiStrToUpper(sql.substr(start, i - start)));
    }
  }
  // One word names transaction control; two name the rest ("DROP INDEX").
  if (!words.empty() && (words[0] == "COMMIT" || words[0] == "ROLLBACK" || words[0] == "END" ||
                         words[0] == "BEGIN" || words[0] == "ABORT")) {
    words.resize(1);
  }
  return absl::StrJoin(words, " ");
}

// A batched revision's rules (see Script::batch).
absl::Status CheckBatchSections(absl::string_view path, const Script& script,
                                int batch_key_line) {
  if (!script.batch) {
    if (script.post) {
      return LineError(path, script.post->line - 1,
                       "a '-- migrate:post' section without a '-- migrate:batch' section; post "
                       "runs after the batches (put its statements in the upgrade section)");
    }
    if (batch_key_line != 0) {
      return LineError(path, batch_key_line,
                       "batch_pause and batch_max_seconds need a '-- migrate:batch' section");
    }
    return absl::OkStatus();
  }
  const SqlSection& batch = *script.batch;
  if (!script.transactional) {
    return LineError(path, batch.line - 1,
                     "a batched revision must be transactional: its upgrade, each batch and its "
                     "post section run in transactions of their own");
  }
  if (batch.statements.size() != 1) {
    return LineError(
        path, batch.statements.empty() ? batch.line - 1 : batch.statements[1].line,
        absl::StrCat("the batch section must hold exactly one statement (it holds ",
                     batch.statements.size(),
                     "): an UPDATE, DELETE, INSERT or MERGE that changes a bounded set of rows "
                     "each time it runs, e.g. UPDATE t SET c = ... WHERE id IN (SELECT id FROM t "
                     "WHERE c IS NULL LIMIT 5000)"));
  }
  const SqlStatement& st = batch.statements.front();
  const std::string verb = LeadingWords(StatementText(batch.sql, st));
  const std::string first = verb.substr(0, verb.find(' '));
  if (first != "UPDATE" && first != "DELETE" && first != "INSERT" && first != "MERGE" &&
      first != "WITH") {
    return LineError(path, st.line,
                     absl::StrCat("the batch statement is ", first.empty() ? "empty" : first,
                                  "; it must be an UPDATE, DELETE, INSERT or MERGE (the batches "
                                  "end when it changes no row)"));
  }
  return absl::OkStatus();
}

// The revision ids a script names as parents and dependencies are ids;
// returns the script.
absl::StatusOr<Script> CheckIds(absl::string_view path, Script& script) {
  for (const std::string& down : script.down_revisions) {
    if (absl::Status s = ValidateRevisionId(down); !s.ok()) {
      return LineError(path, script.down_revision_line, s.message());
    }
  }
  for (const std::string& dep : script.depends_on) {
    if (absl::Status s = ValidateRevisionId(dep); !s.ok()) {
      return LineError(path, script.depends_on_line, s.message());
    }
  }
  return std::move(script);
}

}  // namespace

absl::Status ValidateRevisionId(absl::string_view id) { return ValidateName("revision id", id); }

absl::Status ValidateBranchLabel(absl::string_view label) {
  return ValidateName("branch label", label);
}

std::string Sha256Hex(absl::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  // Fetched once: OpenSSL 3 otherwise looks the algorithm up in its provider
  // store on every call, which costs more than hashing a script. Immutable
  // once made (and thread-safe to make); the legacy handle if fetching fails.
  static const EVP_MD* const kSha256 = [] {
    const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    return md != nullptr ? md : EVP_sha256();
  }();
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &len, kSha256, nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

absl::StatusOr<Script> ParseScript(absl::string_view path, absl::string_view bytes,
                                   const ParseScriptOptions& options) {
  if (int bad = FirstInvalidUtf8Line(bytes); bad != 0) {
    return LineError(path, bad, "bytes that are not UTF-8; scripts must be UTF-8 text");
  }
  Script script;
  script.path = std::string(path);
  script.checksum = Sha256Hex(bytes);

  Section section = Section::kHeader;
  std::string* body = nullptr;
  bool seen_keys[9] = {};
  static constexpr absl::string_view kKeys[] = {
      "revision",    "down_revision", "branch_labels", "depends_on",       "message",
      "create_date", "transactional", "batch_pause",   "batch_max_seconds"};
  int batch_key_line = 0;  // the first batch_* key, for "no batch section"
  int line_no = 0;
  // A section's SQL is the file's bytes from the line after its marker to
  // the next marker (or the end), exactly: that is what runs.
  size_t line_start = 0;
  size_t body_start = 0;
  auto close_body = [&](size_t end) {
    if (body != nullptr) *body = std::string(bytes.substr(body_start, end - body_start));
  };
  for (absl::string_view line : absl::StrSplit(bytes, '\n')) {
    ++line_no;
    const size_t this_line = line_start;
    line_start += line.size() + 1;
    absl::string_view text = absl::StripTrailingAsciiWhitespace(line);
    absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(text);
    if (absl::ConsumePrefix(&trimmed, "--")) {
      absl::string_view comment = absl::StripLeadingAsciiWhitespace(trimmed);
      if (absl::ConsumePrefix(&comment, "migrate:")) {
        comment = absl::StripAsciiWhitespace(comment);
        close_body(this_line);
        body_start = std::min(line_start, bytes.size());
        std::optional<SqlSection>* target = nullptr;
        Section next;
        if (comment == "upgrade") {
          next = Section::kUpgrade;
          if (script.upgrade.line != 0) {
            return LineError(path, line_no, "a second '-- migrate:upgrade' section");
          }
          script.upgrade.line = line_no + 1;
          body = &script.upgrade.sql;
        } else if (comment == "downgrade") {
          next = Section::kDowngrade;
          target = &script.downgrade;
        } else if (comment == "verify") {
          next = Section::kVerify;
          target = &script.verify;
        } else if (comment == "batch") {
          next = Section::kBatch;
          target = &script.batch;
        } else if (comment == "post") {
          next = Section::kPost;
          target = &script.post;
        } else {
          return LineError(path, line_no,
                           absl::StrCat("unknown section '-- migrate:", comment,
                                        "'; sections are upgrade, downgrade, verify, batch and "
                                        "post"));
        }
        if (target != nullptr) {
          if (target->has_value()) {
            return LineError(path, line_no,
                             absl::StrCat("a second '-- migrate:", comment, "' section"));
          }
          target->emplace();
          (*target)->line = line_no + 1;
          body = &(*target)->sql;
        }
        section = next;
        continue;
      }
      if (section == Section::kHeader) {
        // `-- key: value`, where key is a lowercase word; other comments are
        // free text.
        size_t colon = comment.find(':');
        absl::string_view key = comment.substr(0, colon);
        bool is_key = colon != absl::string_view::npos && !key.empty() &&
                      std::all_of(key.begin(), key.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || c == '_';
                      });
        if (!is_key) continue;
        absl::string_view value = absl::StripAsciiWhitespace(comment.substr(colon + 1));
        size_t k = 0;
        while (k < std::size(kKeys) && kKeys[k] != key) ++k;
        if (k == std::size(kKeys)) {
          return LineError(path, line_no,
                           absl::StrCat("unknown header key '", key,
                                        "'; known keys: ", absl::StrJoin(kKeys, ", ")));
        }
        if (seen_keys[k]) {
          return LineError(path, line_no, absl::StrCat("header key '", key, "' given twice"));
        }
        seen_keys[k] = true;
        if (key == "revision") {
          if (absl::Status s = ValidateRevisionId(value); !s.ok()) {
            return LineError(path, line_no, s.message());
          }
          script.revision = std::string(value);
          script.revision_line = line_no;
        } else if (key == "down_revision") {
          script.down_revisions = SplitList(value);
          script.down_revision_line = line_no;
        } else if (key == "branch_labels") {
          script.branch_labels = SplitList(value);
          script.branch_labels_line = line_no;
          for (const std::string& label : script.branch_labels) {
            if (absl::Status s = ValidateBranchLabel(label); !s.ok()) {
              return LineError(path, line_no, s.message());
            }
          }
        } else if (key == "depends_on") {
          script.depends_on = SplitList(value);
          script.depends_on_line = line_no;
        } else if (key == "message") {
          script.message = std::string(value);
        } else if (key == "create_date") {
          script.create_date = std::string(value);
        } else if (key == "batch_pause" || key == "batch_max_seconds") {
          if (batch_key_line == 0) batch_key_line = line_no;
          absl::StatusOr<absl::Duration> d = ParseHeaderDuration(value);
          if (key == "batch_max_seconds" && d.ok() && *d <= absl::ZeroDuration()) {
            d = absl::InvalidArgumentError("zero");
          }
          if (!d.ok()) {
            return LineError(
                path, line_no,
                absl::StrCat(key, " must be ",
                             key == "batch_pause" ? "a duration from 0 to 24h such as 100ms or 2s"
                                                  : "a number of seconds above 0 such as 30",
                             ", not '", value, "'"));
          }
          (key == "batch_pause" ? script.batch_pause : script.batch_max) = *d;
        } else {  // transactional
          std::string lower = absl::AsciiStrToLower(value);
          if (lower == "true" || lower == "yes") {
            script.transactional = true;
          } else if (lower == "false" || lower == "no") {
            script.transactional = false;
          } else {
            return LineError(path, line_no,
                             absl::StrCat("transactional must be true or false, not '", value,
                                          "'"));
          }
        }
        continue;
      }
    }
    if (section == Section::kHeader) {
      if (!trimmed.empty()) {
        return LineError(path, line_no,
                         "SQL before '-- migrate:upgrade'; the header holds only '-- key: value' "
                         "lines");
      }
      continue;
    }
  }
  close_body(bytes.size());
  if (script.revision_line == 0) {
    return LineError(path, 1, "missing '-- revision:' header");
  }
  if (script.upgrade.line == 0) {
    return LineError(path, line_no, "missing '-- migrate:upgrade' section");
  }
  if (options.headers_only) {
    script.statements_parsed = false;
    return CheckIds(path, script);
  }
  // Every section is read by PostgreSQL's own parser: a statement that
  // does not parse, or that would escape the revision's transaction, is
  // refused here (so at bundle push too), naming its line.
  struct Named {
    SqlSection* section;
    const char* name;
    bool is_verify;  // a verify query always runs inside a transaction
  };
  for (Named n : {Named{&script.upgrade, "upgrade", false},
                  Named{script.downgrade ? &*script.downgrade : nullptr, "downgrade", false},
                  Named{script.verify ? &*script.verify : nullptr, "verify", true},
                  Named{script.batch ? &*script.batch : nullptr, "batch", false},
                  Named{script.post ? &*script.post : nullptr, "post", false}}) {
    if (n.section == nullptr) continue;
    auto statements = ParseSqlStatements(n.section->sql, n.section->line);
    if (!statements.ok()) {
      absl::string_view message = statements.status().message();
      absl::ConsumePrefix(&message, "line ");
      return absl::InvalidArgumentError(absl::StrCat(path, ":", message));
    }
    n.section->statements = *std::move(statements);
    const bool in_transaction =
        (script.transactional || n.is_verify) && !options.keep_misplaced_transaction_statements;
    for (const SqlStatement& st : n.section->statements) {
      if (in_transaction && st.transaction_control) {
        return LineError(
            path, st.line,
            absl::StrCat(LeadingWords(StatementText(n.section->sql, st)), " in the ", n.name,
                         " section would end the transaction the revision runs in, and what "
                         "ran before it would stay even if the revision fails; remove it",
                         n.is_verify ? "" : " (or mark the revision 'transactional: false')"));
      }
      if (in_transaction && st.concurrently) {
        return LineError(
            path, st.line,
            absl::StrCat(LeadingWords(StatementText(n.section->sql, st)),
                         " ... CONCURRENTLY cannot run inside a transaction; mark the revision "
                         "'-- transactional: false'"));
      }
    }
  }
  if (script.verify && script.verify->statements.empty()) {
    return LineError(path, script.verify->line - 1, "empty '-- migrate:verify' section");
  }
  RETURN_IF_ERROR(CheckBatchSections(path, script, batch_key_line));
  return CheckIds(path, script);
}

std::string FormatScript(const Script& script) {
  std::string out;
  absl::StrAppend(&out, "-- revision: ", script.revision, "\n");
  absl::StrAppend(&out, "-- down_revision: ", absl::StrJoin(script.down_revisions, ", "), "\n");
  if (!script.branch_labels.empty()) {
    absl::StrAppend(&out, "-- branch_labels: ", absl::StrJoin(script.branch_labels, ", "), "\n");
  }
  if (!script.depends_on.empty()) {
    absl::StrAppend(&out, "-- depends_on: ", absl::StrJoin(script.depends_on, ", "), "\n");
  }
  absl::StrAppend(&out, "-- message: ", script.message, "\n");
  absl::StrAppend(&out, "-- create_date: ", script.create_date, "\n");
  absl::StrAppend(&out, "-- transactional: ", script.transactional ? "true" : "false", "\n");
  if (script.batch) {
    absl::StrAppend(&out, "-- batch_pause: ", absl::FormatDuration(script.batch_pause), "\n");
    absl::StrAppend(&out, "-- batch_max_seconds: ", absl::ToDoubleSeconds(script.batch_max),
                    "\n");
  }
  // A new file's layout: each section's SQL without blank lines around it.
  auto section = [&](absl::string_view marker, absl::string_view sql) {
    sql = absl::StripAsciiWhitespace(sql);
    absl::StrAppend(&out, "\n-- migrate:", marker, "\n", sql, sql.empty() ? "" : "\n");
  };
  section("upgrade", script.upgrade.sql);
  if (script.downgrade) section("downgrade", script.downgrade->sql);
  if (script.batch) section("batch", script.batch->sql);
  if (script.post) section("post", script.post->sql);
  if (script.verify) section("verify", script.verify->sql);
  return out;
}

}  // namespace fleet::migrations
