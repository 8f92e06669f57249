// Fuzz target: the script parser. Any bytes must give a Script or an error
// naming a line, never a crash; a parsed script must survive FormatScript
// and parse back to the same revision graph data; its SQL sections must
// split into statements whose lines lie inside the file.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "migrations/script.h"
#include "migrations/sql_parse.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "script_fuzzer: property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fleet::migrations;
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto script = ParseScript("fuzz.sql", bytes);
  if (!script.ok()) {
    Check(absl::StartsWith(script.status().message(), "fuzz.sql"), "error names the file");
    return 0;
  }
  auto again = ParseScript("again.sql", FormatScript(*script));
  Check(again.ok(), "a formatted script parses");
  Check(again->revision == script->revision, "revision survives formatting");
  Check(again->down_revisions == script->down_revisions, "down_revision survives formatting");
  Check(again->branch_labels == script->branch_labels, "branch_labels survive formatting");
  Check(again->depends_on == script->depends_on, "depends_on survives formatting");
  Check(again->transactional == script->transactional, "transactional survives formatting");
  Check(again->is_reversible() == script->is_reversible(), "reversibility survives formatting");
  int lines = 1;
  for (char c : bytes) lines += c == '\n';
  for (const SqlSection* section : {&script->upgrade, script->downgrade ? &*script->downgrade : nullptr,
                                    script->verify ? &*script->verify : nullptr}) {
    if (section == nullptr) continue;
    for (const SqlStatement& s : section->statements) {
      Check(s.line >= 1 && s.line <= lines, "statement lines lie inside the file");
      Check(s.offset + s.length <= section->sql.size(), "statements lie inside their section");
      Check(bytes.find(section->sql) != std::string::npos, "a section is the file's bytes");
    }
  }
  return 0;
}
