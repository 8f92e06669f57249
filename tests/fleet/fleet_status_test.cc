// Issue acceptance: 30 tenant databases behind 3 real fleet-agent
// processes and a real fleet-controller, at every state fleetctl status
// knows; one agent killed and restarted.
#include <httplib.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

#include "gmock/gmock.h"
#include "proto/version.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli/cli_test_util.h"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::fleet::testing::Exec;
using ::fleet::testing::WaitFor;
using ::testing::HasSubstr;

struct Expect {
  std::string state;
  int behind;  // -1: null in JSON
};

class FleetStatusTest : public fleet::testing::FleetHarness {
 protected:
  nlohmann::json Status(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"status", "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Cli(args);
    last_code_ = r.code;
    EXPECT_TRUE(r.code == 0 || r.code == 1) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  int last_code_ = -1;
};

TEST_F(FleetStatusTest, ThirtyTenantsThreeAgentsEveryState) {
  std::vector<TenantSpec> tenants;
  std::map<std::string, Expect> expect;
  for (int i = 0; i < 30; ++i) {
    std::string id = absl::StrFormat("tenant-%02d", i);
    std::string dsn = DsnFor(NewDatabase());
    std::map<std::string, std::string> labels;
    if (i == 0) labels["canary"] = "true";
    tenants.push_back({id, dsn, labels});
    if (i < 12) {  // at head
      UpgradeExample(dsn, {"heads"});
      expect[id] = {"current", 0};
    } else if (i < 14) {  // behind by 1: both branches, not the merge
      UpgradeExample(dsn, {"6f708192a3b4", "8b9c0d1e2f30"});
      expect[id] = {"lagging", 1};
    } else if (i < 16) {  // behind by 5
      UpgradeExample(dsn, {"4d5e6f708192"});
      expect[id] = {"lagging", 5};
    } else if (i == 16) {  // the reporting branch only
      UpgradeExample(dsn, {"8b9c0d1e2f30"});  // reporting@head would be the merge
      expect[id] = {"lagging", 6};
    } else if (i == 17) {  // dirty: a non-transactional step stopped part-way
      UpgradeExample(dsn, {"heads"});
      Exec(dsn, "INSERT INTO fleet_migration_log (revision, direction, started_at, outcome, "
                "error) VALUES ('9c0d1e2f3041', 'upgrade', now(), 'dirty', 'in progress')");
      expect[id] = {"dirty", 0};
    } else if (i == 18) {  // drift: the script changed since it ran
      UpgradeExample(dsn, {"heads"});
      Exec(dsn, "UPDATE fleet_migration_log SET checksum = repeat('0', 64) WHERE revision = "
                "'3c4d5e6f7081'");
      expect[id] = {"drift", 0};
    } else if (i == 19) {  // a revision the bundle does not know
      Exec(dsn, "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); "
                "INSERT INTO alembic_version VALUES ('0123456789ff')");
      expect[id] = {"unknown-revision", -1};
    } else {  // the agent that will be killed
      UpgradeExample(dsn, {"4d5e6f708192"});
      expect[id] = {"unreachable", 5};
    }
  }
  auto a0 = StartAgent(0, {tenants.begin(), tenants.begin() + 10});
  auto a1 = StartAgent(1, {tenants.begin() + 10, tenants.begin() + 20});
  auto a2 = StartAgent(2, {tenants.begin() + 20, tenants.end()});
  auto controller = StartController();
  for (int n = 0; n < 3; ++n) {
    auto r = Cli({"agents", "add", absl::StrCat("127.0.0.1:", agent_ports_[n])});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("with 10 tenants"));
  }
  auto push = Cli({"bundle", "push", std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions"});
  ASSERT_EQ(push.code, 0) << push.err;

  // Kill the third agent: after three missed polls its tenants are unreachable.
  a2->Kill();
  ASSERT_TRUE(WaitFor([&] {
    auto s = Status();
    return s.is_object() && s["counts"].value("unreachable", 0) == 10 &&
           s["counts"].value("drift", 0) == 1;  // the bundle reached the agents
  }, std::chrono::seconds(60))) << Status().dump(2);

  nlohmann::json status = Status();
  EXPECT_EQ(last_code_, 1);
  ASSERT_EQ(status["tenants"].size(), 30u);
  for (const auto& t : status["tenants"]) {
    const Expect& e = expect[t["id"].get<std::string>()];
    EXPECT_EQ(t["state"], e.state) << t.dump();
    if (e.behind < 0) {
      EXPECT_TRUE(t["behind"].is_null()) << t.dump();
    } else {
      EXPECT_EQ(t["behind"], e.behind) << t.dump();
    }
  }
  EXPECT_EQ(status["summary"],
            "30 tenants \u00b7 12 at head 9c0d1e2f \u00b7 5 lagging \u00b7 1 unknown-revision "
            "\u00b7 1 dirty \u00b7 1 drift \u00b7 10 unreachable");

  // --lagging lists exactly the tenants that are not current.
  nlohmann::json lagging = Status({"--lagging"});
  std::set<std::string> not_current, listed;
  for (const auto& [id, e] : expect) {
    if (e.state != "current") not_current.insert(id);
  }
  for (const auto& t : lagging["tenants"]) listed.insert(t["id"].get<std::string>());
  EXPECT_EQ(listed, not_current);

  // A selector narrows it; all selected current means exit 0.
  nlohmann::json canary = Status({"--selector", "canary=true"});
  EXPECT_EQ(canary["tenants"].size(), 1u);
  EXPECT_EQ(last_code_, 0);

  // /metrics agrees (its counts are refreshed after every poll).
  httplib::Client http("127.0.0.1", http_port_);
  std::string body;
  EXPECT_TRUE(WaitFor([&] {
    auto got = http.Get("/metrics");
    body = got ? got->body : "";
    return absl::StrContains(body, "fleet_tenants{state=\"unreachable\"} 10\n");
  }, std::chrono::seconds(60))) << body;
  EXPECT_THAT(body, HasSubstr("fleet_tenants{state=\"current\"} 12\n"));
  EXPECT_THAT(body, HasSubstr("fleet_tenants{state=\"lagging\"} 5\n"));
  EXPECT_THAT(body, HasSubstr("fleet_tenants{state=\"unreachable\"} 10\n"));
  EXPECT_THAT(body, HasSubstr("fleet_agents_up 2\n"));
  EXPECT_THAT(body, HasSubstr("fleet_inventory_tenants 30\n"));
  EXPECT_THAT(body, HasSubstr(absl::StrCat("fleet_build_info{version=\"", proto::kVersion,
                                          "\"} 1\n")));
  auto health = http.Get("/healthz");
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, absl::StrCat("ok: fleet-controller ", proto::kVersion, "\n"));
  // Which build each agent runs, as it said at its last answer.
  auto agents = nlohmann::json::parse(Cli({"agents", "list", "-o", "json"}).out);
  ASSERT_FALSE(agents.empty());
  for (const auto& a : agents) {
    if (a["state"] == "up") {
      EXPECT_EQ(a["version"], proto::kVersion) << a.dump();
    }
  }
  EXPECT_THAT(Cli({"agents", "list"}).out, HasSubstr(absl::StrCat("up     ", proto::kVersion)));

  // The table shape a person reads.
  auto table = Cli({"status", "--lagging"});
  EXPECT_THAT(table.out, HasSubstr("TENANT     AGENT"));
  EXPECT_THAT(table.out, HasSubstr("tenant-19  127.0.0.1:"));

  // The restarted agent is reachable again at the next poll.
  a2 = StartAgent(2, {tenants.begin() + 20, tenants.end()}, agent_ports_[2]);
  ASSERT_TRUE(WaitFor([&] {
    auto s = Status();
    return s.is_object() && s["counts"].value("unreachable", 0) == 0;
  }, std::chrono::seconds(60))) << Status().dump(2);
  EXPECT_EQ(Status()["counts"]["lagging"], 15);
}

}  // namespace
}  // namespace fleet
