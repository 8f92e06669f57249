#include "migrations/script_directory.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "migrations/status_macros.h"

namespace fleet::migrations {

absl::StatusOr<std::vector<Script>> LoadScripts(const FileSystem& fs, const std::string& dir,
                                                const ParseScriptOptions& options) {
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
  // Read and parsed on every core: a history of thousands of revisions is
  // read in the time of a fraction of them. The first error in name order
  // is the one reported, whatever thread met it first.
  // Each script is parsed straight into its place in the result: no copy of
  // thousands of them through a second vector.
  std::vector<Script> scripts(sql.size());
  std::vector<absl::Status> errors(sql.size());
  auto load = [&](size_t i) {
    std::string path = JoinPath(dir, sql[i]);
    absl::StatusOr<std::string> bytes = fs.ReadFile(path);
    absl::StatusOr<Script> script =
        bytes.ok() ? ParseScript(path, *bytes, options) : absl::StatusOr<Script>(bytes.status());
    if (script.ok()) {
      scripts[i] = *std::move(script);
    } else {
      errors[i] = script.status();
    }
  };
  constexpr size_t kPerThread = 64;
  const size_t threads = std::min<size_t>(
      std::max(1u, std::thread::hardware_concurrency()), (sql.size() + kPerThread - 1) / kPerThread);
  if (threads <= 1) {
    for (size_t i = 0; i < sql.size(); ++i) load(i);
  } else {
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next++; i < sql.size(); i = next++) load(i);
    };
    std::vector<std::thread> workers;  // and this thread, the last of them
    for (size_t t = 1; t < threads; ++t) workers.emplace_back(work);
    work();
    for (auto& w : workers) w.join();
  }
  for (const absl::Status& error : errors) {
    if (!error.ok()) return error;
  }
  return scripts;
}

absl::StatusOr<std::unique_ptr<const RevisionGraph>> LoadRevisionGraph(
    const FileSystem& fs, const std::string& dir, const ParseScriptOptions& options) {
  ASSIGN_OR_RETURN(std::vector<Script> scripts, LoadScripts(fs, dir, options));
  return RevisionGraph::Build(std::move(scripts));
}

}  // namespace fleet::migrations
