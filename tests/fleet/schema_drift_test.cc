// tenants diff and status --schema-drift: a tenant altered by hand is
// reported with exactly the objects changed, through its agent, and the
// tenant's database keeps nothing of the comparison.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SchemaDriftTest : public fleet::testing::FleetHarness {};

TEST_F(SchemaDriftTest, HandMadeChangesAreReportedExactly) {
  std::string acme = DsnFor(NewDatabase()), globex = DsnFor(NewDatabase()),
              initech = DsnFor(NewDatabase());
  UpgradeExample(acme, {"heads"});
  UpgradeExample(globex, {"heads"});
  UpgradeExample(initech, {"4d5e6f708192"});
  // Someone in production: a hand-made index, an extra column, a dropped check.
  fleet::testing::Exec(acme, "CREATE INDEX tickets_subject_hand_idx ON tickets (subject);"
                             "ALTER TABLE users ADD COLUMN phone text;"
                             "ALTER TABLE tickets DROP CONSTRAINT tickets_status_check;"
                             "INSERT INTO users (email, display_name) VALUES ('a@x', 'A')");
  auto agent = StartAgent(0, {{"acme", acme, {}}, {"globex", globex, {}}, {"initech", initech, {}}});
  auto controller = StartController();
  Enrol(1, std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions");

  auto diff = Cli({"tenants", "diff", "acme", "-o", "json"});
  ASSERT_EQ(diff.code, 1) << diff.err;
  auto j = nlohmann::json::parse(diff.out);
  EXPECT_EQ(j["compared_with"], nlohmann::json({"9c0d1e2f3041"}));
  std::vector<std::string> found;
  for (const auto& d : j["differences"]) found.push_back(d["difference"]);
  std::sort(found.begin(), found.end());
  EXPECT_THAT(found, ElementsAre("add column users.phone",
                                 "create index tickets_subject_hand_idx on tickets",
                                 "drop constraint tickets_status_check on tickets"));
  auto table = Cli({"tenants", "diff", "acme"});
  EXPECT_THAT(table.out, HasSubstr("Tenant acme differs from the schema 9c0d1e2f3041 builds (3)"));
  EXPECT_THAT(table.out, HasSubstr("ALTER TABLE users ADD COLUMN phone text;"));

  auto same = Cli({"tenants", "diff", "globex"});
  EXPECT_EQ(same.code, 0) << same.out << same.err;
  EXPECT_THAT(same.out, HasSubstr("Tenant globex has exactly the schema 9c0d1e2f3041 builds."));
  // A lagging tenant is compared with its own revision, unless told otherwise.
  auto own = Cli({"tenants", "diff", "initech"});
  EXPECT_EQ(own.code, 0) << own.out << own.err;
  EXPECT_THAT(own.out, HasSubstr("exactly the schema 4d5e6f708192 builds"));
  auto ahead = Cli({"tenants", "diff", "initech", "--against", "head", "-o", "json"});
  EXPECT_EQ(ahead.code, 1);
  EXPECT_THAT(ahead.out, HasSubstr("drop table satisfaction_surveys"));
  auto unknown = Cli({"tenants", "diff", "nobody"});
  EXPECT_EQ(unknown.code, 3);
  auto bad_target = Cli({"tenants", "diff", "acme", "--against", "nosuchrev"});
  EXPECT_EQ(bad_target.code, 3);
  EXPECT_THAT(bad_target.err, HasSubstr("nosuchrev"));

  auto status = Cli({"status", "--schema-drift", "-o", "json"});
  EXPECT_EQ(status.code, 1);
  auto s = nlohmann::json::parse(status.out);
  EXPECT_THAT(s["summary"].get<std::string>(), HasSubstr("1 schema-drift"));
  std::map<std::string, int> differences;
  for (const auto& t : s["tenants"]) differences[t["id"]] = t["schema_differences"];
  EXPECT_EQ(differences, (std::map<std::string, int>{{"acme", 3}, {"globex", 0}, {"initech", 0}}));
  auto status_table = Cli({"status", "--schema-drift"});
  EXPECT_THAT(status_table.out, HasSubstr("drift (3)"));

  // The comparison left nothing behind and changed nothing.
  for (const std::string& dsn : {acme, globex, initech}) {
    EXPECT_EQ(fleet::testing::Query(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE "
                                         "'fleet_autogen%'")[0][0],
              "0");
  }
  EXPECT_EQ(fleet::testing::Query(acme, "SELECT count(*) FROM users")[0][0], "1");
  EXPECT_EQ(HeadsOf(acme), (std::vector<std::string>{"9c0d1e2f3041"}));
}

}  // namespace
}  // namespace fleet
