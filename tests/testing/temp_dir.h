// TempDir: a fresh directory for one test under the test temp dir, removed
// afterwards; and a versions directory written from script texts.
#ifndef FLEET_TESTS_TESTING_TEMP_DIR_H_
#define FLEET_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "migrations/script_directory.h"

namespace fleet::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "fleet-test-XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ + "/" + name) << text;
  }

  std::unique_ptr<const migrations::RevisionGraph> Graph() const {
    auto g = migrations::LoadRevisionGraph(migrations::DefaultFileSystem(), path_);
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? *std::move(g) : nullptr;
  }

 private:
  std::string path_;
};

// The whole content of `path` ("" when it cannot be read).
inline std::string ReadWhole(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A script file's text.
inline std::string ScriptText(const std::string& rev, const std::string& down,
                              const std::string& upgrade, const std::string& downgrade = "",
                              const std::string& extra_headers = "",
                              const std::string& verify = "") {
  std::string s = "-- revision: " + rev + "\n-- down_revision: " + down + "\n" + extra_headers +
                  "-- message: " + rev + "\n\n-- migrate:upgrade\n" + upgrade +
                  "\n\n-- migrate:downgrade\n" + downgrade + "\n";
  if (!verify.empty()) s += "\n-- migrate:verify\n" + verify + "\n";
  return s;
}

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_TEMP_DIR_H_
