#include "migrations/script_directory.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/graph_builder.h"

namespace fleet::migrations {
namespace {

using ::fleet::testing::InMemoryFileSystem;
using ::testing::HasSubstr;

std::string Script(const std::string& rev, const std::string& down, const std::string& extra = "") {
  return absl::StrCat("-- revision: ", rev, "\n-- down_revision: ", down, "\n", extra,
                      "-- migrate:upgrade\nSELECT 1;\n-- migrate:downgrade\nSELECT 1;\n");
}

TEST(ScriptDirectoryTest, LoadsSqlFilesInNameOrderAndIgnoresOthers) {
  InMemoryFileSystem fs;
  fs.Add("v/b_second.sql", Script("bbbb", "aaaa"));
  fs.Add("v/a_first.sql", Script("aaaa", ""));
  fs.Add("v/README.md", "not a script");
  fs.Add("v/notes.sql.bak", "junk");
  auto scripts = LoadScripts(fs, "v");
  ASSERT_TRUE(scripts.ok()) << scripts.status();
  ASSERT_EQ(scripts->size(), 2u);
  EXPECT_EQ((*scripts)[0].path, "v/a_first.sql");
  EXPECT_EQ((*scripts)[1].revision, "bbbb");
}

TEST(ScriptDirectoryTest, ABrokenSqlFileIsAnErrorNotSkipped) {
  InMemoryFileSystem fs;
  fs.Add("v/a.sql", Script("aaaa", ""));
  fs.Add("v/b.sql", "-- down_revision: aaaa\n-- migrate:upgrade\n");
  auto graph = LoadRevisionGraph(fs, "v");
  ASSERT_FALSE(graph.ok());
  EXPECT_THAT(graph.status().message(), HasSubstr("v/b.sql:1: missing '-- revision:' header"));
}

TEST(ScriptDirectoryTest, MissingDirectorySaysHowToFixIt) {
  InMemoryFileSystem fs;
  auto scripts = LoadScripts(fs, "nowhere");
  ASSERT_TRUE(absl::IsNotFound(scripts.status()));
  EXPECT_THAT(scripts.status().message(), HasSubstr("versions directory nowhere does not exist"));
}

TEST(ScriptDirectoryTest, DuplicateIdsNameBothFiles) {
  InMemoryFileSystem fs;
  fs.Add("v/a.sql", Script("aaaa", ""));
  fs.Add("v/b.sql", Script("aaaa", ""));
  auto graph = LoadRevisionGraph(fs, "v");
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().message(),
            "v/b.sql:1: revision 'aaaa' is declared twice: in v/a.sql and in v/b.sql");
}

TEST(ScriptDirectoryTest, MissingParentNamesFileLineAndId) {
  InMemoryFileSystem fs;
  fs.Add("v/a.sql", Script("aaaa", "ffff"));
  auto graph = LoadRevisionGraph(fs, "v");
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().message(),
            "v/a.sql:2: down_revision names 'ffff', but no script declares that revision");
}

TEST(ScriptDirectoryTest, ReadsTheRealExampleFromDisk) {
  auto graph = LoadRevisionGraph(DefaultFileSystem(),
                                 std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions");
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_EQ((*graph)->size(), 9);
}

TEST(ScriptDirectoryTest, OneGraphIsSharedByManyThreads) {
  auto graph = LoadRevisionGraph(DefaultFileSystem(),
                                 std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions");
  ASSERT_TRUE(graph.ok()) << graph.status();
  const RevisionGraph& g = **graph;
  auto expected = g.PlanUpgrade({}, "heads");
  ASSERT_TRUE(expected.ok());
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto plan = g.PlanUpgrade({"2b3c4d5e6f70"}, "heads");
        auto full = g.PlanUpgrade({}, "heads");
        if (!plan.ok() || !full.ok() || full->end_heads != expected->end_heads ||
            full->steps.size() != expected->steps.size()) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace fleet::migrations
