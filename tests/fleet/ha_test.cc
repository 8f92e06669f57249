// Controllers sharing a PostgreSQL inventory (issue 20), as operators run
// them: real processes, one leading, the others standing by; the leader
// killed mid-wave, and a leader stopped (SIGSTOP) across a takeover.
#include <httplib.h>
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::fleet::testing::Process;
using ::fleet::testing::Query;
using ::fleet::testing::ReadWhole;
using ::fleet::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kHead = "9c0d1e2f3041";
const std::string kNext = "aa00bb11cc22";

class HighAvailabilityTest : public fleet::testing::FleetHarness {
 protected:
  // A controller on the shared inventory; its gRPC port is written to
  // `name`.port once it leads.
  Process* Controller(const std::string& name) {
    const std::string port_file = absl::StrCat(dir_.path(), "/", name, ".port");
    processes_[name] = std::make_unique<Process>(std::vector<std::string>{
        FLEET_CONTROLLER_PATH, "--insecure", "--db", inventory_, "--listen", "127.0.0.1:0",
        "--http", "127.0.0.1:0", "--poll-interval", "300ms", "--agent-timeout", "15s", "--port-file",
        port_file});
    return processes_[name].get();
  }
  // The address of controller `name` (its port file is written once it
  // serves, leading or standing by).
  std::string Address(const std::string& name) {
    std::istringstream in(ReadWhole(absl::StrCat(dir_.path(), "/", name, ".port")));
    int port = 0;
    in >> port;
    return port > 0 ? absl::StrCat("127.0.0.1:", port) : "";
  }
  // GET `path` from controller `name`'s HTTP port: "STATUS BODY".
  std::string Http(const std::string& name, const std::string& path) {
    std::istringstream in(ReadWhole(absl::StrCat(dir_.path(), "/", name, ".port")));
    int grpc = 0, http = 0;
    in >> grpc >> http;
    httplib::Client client("127.0.0.1", http);
    auto res = client.Get(path);
    return res ? absl::StrCat(res->status, " ", res->body) : "unreachable";
  }
  // Its address once it says it leads ("" before).
  std::string Leading(const std::string& name) {
    auto it = processes_.find(name);
    if (it == processes_.end() || it->second->Err().find("leading inventory") == std::string::npos) {
      return "";
    }
    return Address(name);
  }
  // Waits until one of `names` leads; points fleetctl at it; returns its name.
  std::string WaitForLeader(const std::vector<std::string>& names,
                            std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::string leader;
    EXPECT_TRUE(WaitFor(
        [&] {
          for (const auto& n : names) {
            if (!Leading(n).empty()) leader = n;
          }
          return !leader.empty();
        },
        timeout));
    if (!leader.empty()) controller_ = Leading(leader);
    return leader;
  }

  std::string inventory_;
  std::map<std::string, std::unique_ptr<Process>> processes_;
};

TEST_F(HighAvailabilityTest, TheLeaderKilledMidWaveAStandbyFinishesTheRolloutOnce) {
  inventory_ = DsnFor(NewDatabase());
  std::string versions = ExampleVersionsWith(
      kNext + "_slow.sql", "-- revision: " + kNext + "\n-- down_revision: " + kHead +
                               "\n-- message: slow change\n\n-- migrate:upgrade\n"
                               "SELECT pg_sleep(0.3);\nCREATE TABLE slow_marker (x int);\n\n"
                               "-- migrate:downgrade\nDROP TABLE slow_marker;\n");
  std::vector<TenantSpec> tenants;
  std::vector<std::string> dsns;
  for (int i = 0; i < 8; ++i) {
    std::string dsn = DsnFor(NewDatabase());
    UpgradeExample(dsn, {"heads"});
    dsns.push_back(dsn);
    tenants.push_back({absl::StrFormat("h-%02d", i), dsn, {}});
  }
  auto agent = StartAgent(0, tenants);
  auto& controllers = processes_;
  Controller("a");
  ASSERT_EQ(WaitForLeader({"a"}), "a") << controllers["a"]->Err();
  EXPECT_THAT(controllers["a"]->Err(), HasSubstr("(epoch 1)"));
  for (const std::string n : {"b", "c"}) {
    Controller(n);
    ASSERT_TRUE(WaitFor([&] { return controllers[n]->Err().find("standing by") != std::string::npos; }))
        << controllers[n]->Err();
    EXPECT_THAT(controllers[n]->Err(), HasSubstr("standing by: the controller at " +
                                                 Leading("a") + " leads inventory"));
    EXPECT_TRUE(Leading(n).empty());
    ASSERT_TRUE(WaitFor([&] { return !Address(n).empty(); }));
  }
  // Both are alive; only the leader is ready.
  EXPECT_THAT(Http("a", "/healthz"), HasSubstr("200 ok: fleet-controller "));
  EXPECT_THAT(Http("a", "/healthz"), HasSubstr(" leader, epoch 1\n"));
  EXPECT_EQ(Http("a", "/readyz"), "200 ready\n");
  EXPECT_THAT(Http("b", "/healthz"), HasSubstr(" standby, leader " + Leading("a") + "\n"));
  EXPECT_EQ(Http("b", "/readyz"), "503 standby, leader " + Leading("a") + "\n");
  // A standby answers reads and refuses writes, naming the leader.
  controller_ = Address("b");
  EXPECT_EQ(Cli({"agents", "list"}).code, 0);
  auto refused = Cli({"agents", "remove", "127.0.0.1:1"});
  EXPECT_EQ(refused.code, 3);
  EXPECT_THAT(refused.err, HasSubstr("this controller is standing by: writes go to the leader at " +
                                     Leading("a")));
  // Given every controller, fleetctl talks to the one that leads.
  const std::string all = absl::StrCat(Address("b"), ",", Address("c"), ",", Address("a"));
  controller_ = all;
  auto which = Cli({"agents", "list"});
  EXPECT_EQ(which.code, 0) << which.err;
  Enrol(1, versions);
  std::string id = StartRollout({"--to", kNext, "--canary", "1", "--waves", "50%,100%",
                                 "--parallel", "1"});
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Rollout(id);
        return r.is_object() && r["state"] == "running" && r["counts"].value("succeeded", 0) >= 2;
      },
      std::chrono::seconds(60)))
      << Rollout(id).dump(2);
  controllers["a"]->Signal(SIGKILL);
  controllers["a"]->Wait();
  controller_ = all;  // fleetctl finds whoever answers, then whoever leads
  auto during = Cli({"rollout", "status", id, "-o", "json"});
  EXPECT_EQ(during.code, 0) << during.err;
  const std::string next = WaitForLeader({"b", "c"});
  ASSERT_FALSE(next.empty());
  EXPECT_THAT(controllers[next]->Err(), HasSubstr("(epoch 2)"));
  auto end = WaitForRollout(id, "succeeded");
  EXPECT_EQ(end["counts"]["succeeded"], 8);
  for (const auto& dsn : dsns) {
    EXPECT_THAT(HeadsOf(dsn), ElementsAre(kNext));
    // Each revision applied once per tenant, whoever led.
    EXPECT_EQ(Query(dsn, "SELECT count(*) FROM fleet_migration_log WHERE revision = '" + kNext +
                             "' AND direction = 'upgrade' AND outcome = 'ok'")[0][0],
              "1")
        << dsn;
  }

  // The new leader stopped (not killed) long enough to be replaced: the last
  // standby takes over, and the old leader, continued, steps down.
  const std::string last = next == "b" ? "c" : "b";
  controllers[next]->Signal(SIGSTOP);
  ASSERT_EQ(WaitForLeader({last}, std::chrono::seconds(60)), last) << controllers[last]->Err();
  EXPECT_THAT(controllers[last]->Err(), HasSubstr("(epoch 3)"));
  controllers[next]->Signal(SIGCONT);
  EXPECT_EQ(controllers[next]->WaitExit(std::chrono::seconds(30)), 1) << controllers[next]->Err();
  EXPECT_THAT(controllers[next]->Err(), HasSubstr("lost the leadership of inventory"));
  EXPECT_THAT(controllers[next]->Err(), HasSubstr("(epoch 2); stepping down"));
  // The one leading now answers, and the inventory says who leads.
  auto status = Cli({"rollout", "status", id, "-o", "json"});
  EXPECT_EQ(status.code, 0) << status.err;
  EXPECT_EQ(Query(inventory_, "SELECT epoch, address FROM leader")[0],
            (std::vector<std::string>{"3", Leading(last)}));
  controller_ = all;
  // A write goes to the leader, wherever it is now.
  auto removed = Cli({"agents", "remove", absl::StrCat("127.0.0.1:", agent_ports_[0])});
  EXPECT_EQ(removed.code, 0) << removed.err;
}


TEST_F(HighAvailabilityTest, ASqliteInventoryMovesToPostgresWithItsHistory) {
  std::vector<TenantSpec> tenants;
  for (int i = 0; i < 3; ++i) {
    std::string dsn = DsnFor(NewDatabase());
    UpgradeExample(dsn, {"4d5e6f708192"});
    tenants.push_back({absl::StrFormat("m-%02d", i), dsn, {{"tier", i == 0 ? "gold" : "free"}}});
  }
  auto agent = StartAgent(0, tenants);
  auto sqlite = StartController();
  Enrol(1, std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions");
  ASSERT_EQ(Cli({"tenants", "label", "m-01", "region=eu"}).code, 0);
  std::string id = StartRollout({"--canary", "1", "--waves", "100%"});
  auto before = WaitForRollout(id, "succeeded");
  const std::string history = Cli({"tenants", "history", "m-00"}).out;
  // Copying under a running controller is refused: it holds the file.
  inventory_ = DsnFor(NewDatabase());
  const std::string file = dir_.path() + "/fleet.sqlite";
  Process busy({FLEET_CONTROLLER_PATH, "migrate-inventory", "--from", file, "--to", inventory_});
  EXPECT_EQ(busy.Wait(), 1);
  EXPECT_THAT(busy.Err(), HasSubstr("fleet-controller pid"));
  sqlite->Signal(SIGTERM);
  sqlite->Wait();
  Process copy({FLEET_CONTROLLER_PATH, "migrate-inventory", "--from", file, "--to", inventory_});
  EXPECT_EQ(copy.Wait(), 0) << copy.Err();
  EXPECT_THAT(copy.Out(), HasSubstr("Copied 1 agents, 3 tenants, 1 bundles, 9 bundle_files, "
                                    "1 rollouts, 3 rollout_tenants, "));
  // Once is enough: a second copy into the same inventory is refused.
  Process again({FLEET_CONTROLLER_PATH, "migrate-inventory", "--from", file, "--to", inventory_});
  EXPECT_EQ(again.Wait(), 1);
  EXPECT_THAT(again.Err(), HasSubstr("is not empty (1 agents, 1 bundles, 1 rollouts); nothing "
                                     "was copied"));
  Controller("p");
  ASSERT_EQ(WaitForLeader({"p"}), "p");
  auto after = Rollout(id);
  EXPECT_EQ(after["state"], "succeeded");
  EXPECT_EQ(after["tenants"], before["tenants"]);
  EXPECT_EQ(Cli({"tenants", "history", "m-00"}).out, history);
  auto listed = Cli({"tenants", "list", "-o", "json"});
  EXPECT_THAT(listed.out, HasSubstr("\"region\": \"eu\""));
}

}  // namespace
}  // namespace fleet
