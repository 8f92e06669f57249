// fleetctl over examples/support-desk: the outputs Alembic 1.8.1 prints for
// the same history (checked by converting the scripts into an Alembic
// project), so the example stays a faithful reference.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli/cli_test_util.h"

namespace fleet::cli {
namespace {

using ::fleet::testing::ExampleDir;
using ::fleet::testing::RunCli;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> RunningLines(const std::string& sql) {
  std::vector<std::string> lines;
  std::istringstream in(sql);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("-- Running ", 0) == 0) lines.push_back(line);
  }
  return lines;
}

TEST(SupportDeskTest, Heads) {
  auto r = RunCli({"heads", "--dir", ExampleDir()});
  EXPECT_EQ(r.out, "9c0d1e2f3041 (reporting) (head)\n");
}

TEST(SupportDeskTest, History) {
  auto r = RunCli({"history", "--dir", ExampleDir()});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "6f708192a3b4, 8b9c0d1e2f30 -> 9c0d1e2f3041 (reporting) (head) (mergepoint), merge "
            "reporting into main\n"
            "5e6f708192a3 -> 6f708192a3b4, remap priority high to urgent\n"
            "4d5e6f708192 -> 5e6f708192a3, add satisfaction surveys\n"
            "3c4d5e6f7081 -> 4d5e6f708192, track ticket resolution\n"
            "2b3c4d5e6f70 -> 3c4d5e6f7081, assign tickets to agents\n"
            "1a2b3c4d5e6f -> 2b3c4d5e6f70, create tickets\n"
            "7a8b9c0d1e2f (1a2b3c4d5e6f) -> 8b9c0d1e2f30 (reporting), add agent performance "
            "report\n"
            "<base> -> 7a8b9c0d1e2f (reporting), start reporting branch with daily ticket counts\n"
            "<base> -> 1a2b3c4d5e6f, create users\n");
  auto range = RunCli({"history", "--dir", ExampleDir(), "-r", "2b3c:4d5e"});
  EXPECT_EQ(range.out,
            "3c4d5e6f7081 -> 4d5e6f708192, track ticket resolution\n"
            "2b3c4d5e6f70 -> 3c4d5e6f7081, assign tickets to agents\n"
            "1a2b3c4d5e6f -> 2b3c4d5e6f70, create tickets\n");
  auto json = RunCli({"history", "--dir", ExampleDir(), "-o", "json"});
  auto parsed = nlohmann::json::parse(json.out);
  ASSERT_EQ(parsed.size(), 9u);
  EXPECT_EQ(parsed[0]["is_merge_point"], true);
  EXPECT_EQ(parsed[6]["depends_on"][0], "1a2b3c4d5e6f");
}

TEST(SupportDeskTest, BranchesHasNoBranchPointButShowAndVerboseWork) {
  auto b = RunCli({"branches", "--dir", ExampleDir()});
  EXPECT_EQ(b.code, kExitOk);
  EXPECT_EQ(b.out, "");  // two roots and a merge, but no revision with two children
  auto show = RunCli({"show", "reporting@head", "--dir", ExampleDir()});
  EXPECT_EQ(show.out,
            "Rev: 9c0d1e2f3041 (head) (mergepoint)\n"
            "Merges: 6f708192a3b4, 8b9c0d1e2f30\n"
            "Branch names: reporting\n"
            "Path: " + ExampleDir() + "/9c0d1e2f3041_merge_reporting_into_main.sql\n"
            "\n"
            "    merge reporting into main\n\n");
}

TEST(SupportDeskTest, OfflineUpgradeToHeadsRunsBothBranchesThenTheMerge) {
  auto r = RunCli({"upgrade", "heads", "--sql", "--dir", ExampleDir()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(RunningLines(r.out),
              ElementsAre("-- Running upgrade  -> 1a2b3c4d5e6f",
                          "-- Running upgrade  -> 7a8b9c0d1e2f",
                          "-- Running upgrade 7a8b9c0d1e2f -> 8b9c0d1e2f30",
                          "-- Running upgrade 1a2b3c4d5e6f -> 2b3c4d5e6f70",
                          "-- Running upgrade 2b3c4d5e6f70 -> 3c4d5e6f7081",
                          "-- Running upgrade 3c4d5e6f7081 -> 4d5e6f708192",
                          "-- Running upgrade 4d5e6f708192 -> 5e6f708192a3",
                          "-- Running upgrade 5e6f708192a3 -> 6f708192a3b4",
                          "-- Running upgrade 6f708192a3b4, 8b9c0d1e2f30 -> 9c0d1e2f3041"));
  EXPECT_EQ(r.out.rfind("BEGIN;\n\nCREATE TABLE alembic_version (\n", 0), 0u);
  EXPECT_THAT(r.out, HasSubstr("INSERT INTO alembic_version (version_num) VALUES "
                               "('7a8b9c0d1e2f') RETURNING alembic_version.version_num;"));
  EXPECT_THAT(r.out, HasSubstr("DELETE FROM alembic_version WHERE alembic_version.version_num = "
                               "'6f708192a3b4';\n\nUPDATE alembic_version SET "
                               "version_num='9c0d1e2f3041' WHERE alembic_version.version_num = "
                               "'8b9c0d1e2f30';"));
  EXPECT_THAT(r.out, HasSubstr("UPDATE tickets SET priority = 'urgent' WHERE priority = 'high';"));
}

TEST(SupportDeskTest, OfflineDowngradeOfTheReportingBranch) {
  auto r = RunCli({"downgrade", "heads:reporting@base", "--sql", "--dir", ExampleDir()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(RunningLines(r.out),
              ElementsAre("-- Running downgrade 9c0d1e2f3041 -> 6f708192a3b4, 8b9c0d1e2f30",
                          "-- Running downgrade 8b9c0d1e2f30 -> 7a8b9c0d1e2f",
                          "-- Running downgrade 7a8b9c0d1e2f -> "));
  EXPECT_THAT(r.out, HasSubstr("DROP TABLE report_daily_ticket_counts;"));
  EXPECT_EQ(r.out.find("DROP TABLE alembic_version"), std::string::npos);
}

TEST(SupportDeskTest, OfflineRangeRelativeAndStamp) {
  auto range = RunCli({"upgrade", "4d5e:5e6f", "--sql", "--dir", ExampleDir()});
  EXPECT_THAT(RunningLines(range.out), ElementsAre("-- Running upgrade 4d5e6f708192 -> 5e6f708192a3"));
  EXPECT_EQ(range.out.find("CREATE TABLE alembic_version"), std::string::npos);
  auto rel = RunCli({"upgrade", "1a2b3c4d5e6f:+2", "--sql", "--dir", ExampleDir()});
  EXPECT_THAT(RunningLines(rel.out), ElementsAre("-- Running upgrade 1a2b3c4d5e6f -> 2b3c4d5e6f70",
                                                 "-- Running upgrade 2b3c4d5e6f70 -> 3c4d5e6f7081"));
  auto walk = RunCli({"downgrade", "9c0d:-2", "--sql", "--dir", ExampleDir()});
  EXPECT_EQ(walk.code, kExitFailed);
  EXPECT_EQ(walk.err, "error: Ambiguous walk\n");
  auto stamp = RunCli({"stamp", "4d5e6f708192:9c0d", "--sql", "--dir", ExampleDir()});
  EXPECT_EQ(stamp.code, kExitOk);
  EXPECT_THAT(RunningLines(stamp.out),
              ElementsAre("-- Running stamp_revision 4d5e6f708192 -> 9c0d1e2f3041"));
  auto schema = RunCli({"stamp", "heads", "--sql", "--dir", ExampleDir(),
                        "--version-table-schema", "tenant_42"});
  EXPECT_THAT(schema.out, HasSubstr("CREATE TABLE tenant_42.alembic_version ("));
}

TEST(SupportDeskTest, EveryRevisionHasADowngradeAndOneHasAVerify) {
  auto r = RunCli({"history", "--dir", ExampleDir(), "-o", "json"});
  auto revs = nlohmann::json::parse(r.out);
  int verifies = 0;
  for (const auto& rev : revs) {
    EXPECT_TRUE(rev["reversible"].get<bool>()) << rev["revision"];
    verifies += rev["has_verify"].get<bool>();
  }
  EXPECT_GE(verifies, 1);
  // Round trip: the whole fleet up and back down plans without error.
  auto down = RunCli({"downgrade", "heads:base", "--sql", "--dir", ExampleDir()});
  EXPECT_EQ(down.code, kExitOk) << down.err;
  EXPECT_THAT(down.out, HasSubstr("DROP TABLE alembic_version;"));
}

}  // namespace
}  // namespace fleet::cli
