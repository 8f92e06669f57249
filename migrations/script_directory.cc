#include "migrations/script_directory.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "migrations/status_macros.h"

namespace fleet::migrations {

absl::StatusOr<std::vector<Script>> LoadScripts(const FileSystem& fs, const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = fs.ListFiles(dir);
  if (!names.ok()) {
    if (absl::IsNotFound(names.status())) {
      return absl::NotFoundError(
          absl::StrCat("versions directory ", dir,
                       " does not exist (give --dir, set script_location in fleet.toml, or run "
                       "'fleetctl init')"));
    }
    return names.status();
  }
  std::vector<std::string> sql;
  for (std::string& name : *names) {
    if (absl::EndsWith(name, ".sql") && name.size() > 4 && name[0] != '.') {
      sql.push_back(std::move(name));
    }
  }
  std::sort(sql.begin(), sql.end());
  std::vector<Script> scripts;
  scripts.reserve(sql.size());
  for (const std::string& name : sql) {
    std::string path = JoinPath(dir, name);
    ASSIGN_OR_RETURN(std::string bytes, fs.ReadFile(path));
    ASSIGN_OR_RETURN(Script script, ParseScript(path, bytes));
    scripts.push_back(std::move(script));
  }
  return scripts;
}

absl::StatusOr<std::unique_ptr<const RevisionGraph>> LoadRevisionGraph(const FileSystem& fs,
                                                                       const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<Script> scripts, LoadScripts(fs, dir));
  return RevisionGraph::Build(std::move(scripts));
}

}  // namespace fleet::migrations
