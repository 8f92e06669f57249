// Test helpers: scripts and graphs from a compact description, and an
// in-memory FileSystem shared by the tests.
#ifndef FLEET_TESTS_TESTING_GRAPH_BUILDER_H_
#define FLEET_TESTS_TESTING_GRAPH_BUILDER_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "migrations/file_system.h"
#include "migrations/revision_graph.h"
#include "migrations/script.h"

namespace fleet::testing {

// One revision: id, down revisions, dependencies, labels; lists are
// comma-separated.
struct Rev {
  std::string id;
  std::string down;
  std::string deps = "";
  std::string labels = "";
  bool reversible = true;
};

inline migrations::Script MakeScript(const Rev& r) {
  migrations::Script s;
  s.revision = r.id;
  s.down_revisions = absl::StrSplit(r.down, ',', absl::SkipWhitespace());
  s.depends_on = absl::StrSplit(r.deps, ',', absl::SkipWhitespace());
  s.branch_labels = absl::StrSplit(r.labels, ',', absl::SkipWhitespace());
  for (auto* v : {&s.down_revisions, &s.depends_on, &s.branch_labels}) {
    for (std::string& x : *v) x = std::string(absl::StripAsciiWhitespace(x));
  }
  s.message = absl::StrCat("rev ", r.id);
  s.path = absl::StrCat("versions/", r.id, ".sql");
  s.upgrade.sql = absl::StrCat("-- up ", r.id);
  if (r.reversible) {
    s.downgrade.emplace();
    s.downgrade->sql = absl::StrCat("-- down ", r.id);
  }
  s.revision_line = 1;
  s.down_revision_line = 2;
  s.depends_on_line = 3;
  s.branch_labels_line = 4;
  return s;
}

inline absl::StatusOr<std::unique_ptr<const migrations::RevisionGraph>> TryGraph(
    const std::vector<Rev>& revs) {
  std::vector<migrations::Script> scripts;
  for (const Rev& r : revs) scripts.push_back(MakeScript(r));
  return migrations::RevisionGraph::Build(std::move(scripts));
}

inline std::unique_ptr<const migrations::RevisionGraph> Graph(const std::vector<Rev>& revs) {
  auto g = TryGraph(revs);
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *std::move(g) : nullptr;
}

inline std::vector<std::string> Ids(const migrations::RevisionGraph& g,
                                    const std::vector<migrations::RevisionGraph::Index>& revs) {
  std::vector<std::string> out;
  for (auto r : revs) out.push_back(g.id(r));
  return out;
}

// The revisions a plan runs, in order.
inline std::vector<std::string> StepIds(const migrations::Plan& plan) {
  std::vector<std::string> out;
  for (const auto& s : plan.steps) out.push_back(s.script ? s.script->revision : "<stamp>");
  return out;
}

inline std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// A FileSystem held in memory; thread-safe.
class InMemoryFileSystem final : public migrations::FileSystem {
 public:
  void Add(const std::string& path, const std::string& contents) {
    std::lock_guard<std::mutex> lock(mu_);
    files_[path] = contents;
  }
  absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& dir) const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    bool found = dirs_.count(dir) > 0;
    std::string prefix = dir + "/";
    for (const auto& [path, _] : files_) {
      if (path.rfind(prefix, 0) == 0) {
        found = true;
        std::string rest = path.substr(prefix.size());
        if (rest.find('/') == std::string::npos) names.push_back(rest);
      }
    }
    if (!found) return absl::NotFoundError(dir);
    return names;
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return absl::NotFoundError(path);
    return it->second;
  }
  absl::Status WriteNewFile(const std::string& path, const std::string& contents) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!files_.emplace(path, contents).second) return absl::AlreadyExistsError(path);
    return absl::OkStatus();
  }
  absl::Status CreateDirectories(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    dirs_.insert({dir, true});
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> MakeTempDirectory(const std::string& parent,
                                                const std::string& prefix) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string dir = absl::StrCat(parent, "/", prefix, ++temp_counter_);
    dirs_.insert({dir, true});
    return dir;
  }
  absl::Status RenameDirectory(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (dirs_.count(to)) return absl::AlreadyExistsError(to);
    dirs_.erase(from);
    dirs_.insert({to, true});
    std::map<std::string, std::string> moved;
    for (auto it = files_.begin(); it != files_.end();) {
      if (it->first.rfind(from + "/", 0) == 0) {
        moved[to + it->first.substr(from.size())] = it->second;
        it = files_.erase(it);
      } else {
        ++it;
      }
    }
    files_.insert(moved.begin(), moved.end());
    return absl::OkStatus();
  }
  absl::Status RemoveAll(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    dirs_.erase(path);
    files_.erase(path);
    for (auto it = files_.begin(); it != files_.end();) {
      it = it->first.rfind(path + "/", 0) == 0 ? files_.erase(it) : std::next(it);
    }
    return absl::OkStatus();
  }
  bool Exists(const std::string& path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return files_.count(path) > 0 || dirs_.count(path) > 0;
  }
  bool IsDirectory(const std::string& path) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return dirs_.count(path) > 0;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> files_;
  std::map<std::string, bool> dirs_;
  int temp_counter_ = 0;
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_GRAPH_BUILDER_H_
