// Issue acceptance: 30 tenant databases behind 3 real fleet-agent
// processes and a real fleet-controller, at every state fleetctl status
// knows; one agent killed and restarted.
#include <httplib.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/migrator.h"
#include "migrations/script_directory.h"
#include "nlohmann/json.hpp"
#include "tests/cli/cli_test_util.h"
#include "tests/testing/postgres.h"
#include "tests/testing/process.h"

namespace fleet {
namespace {

using ::fleet::testing::Exec;
using ::fleet::testing::Process;
using ::fleet::testing::RunCli;
using ::fleet::testing::TempDir;
using ::fleet::testing::WaitFor;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Expect {
  std::string state;
  int behind;  // -1: null in JSON
};

class FleetStatusTest : public fleet::testing::PostgresTest {
 protected:
  std::unique_ptr<const migrations::RevisionGraph> SupportDesk() {
    auto g = migrations::LoadRevisionGraph(migrations::DefaultFileSystem(),
                                           std::string(FLEET_SOURCE_DIR) +
                                               "/examples/support-desk/versions");
    EXPECT_TRUE(g.ok());
    return *std::move(g);
  }

  void Upgrade(const migrations::RevisionGraph& g, const std::string& dsn,
               const std::vector<std::string>& targets) {
    migrations::MigratorOptions o;
    o.dsn = dsn;
    o.actor = "test";
    for (const auto& t : targets) {
      auto r = migrations::Migrator(g, o).Upgrade(t);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }

  // Starts an agent serving `ids` from its config file; returns its port.
  std::unique_ptr<Process> StartAgent(const TempDir& dir, int n, const std::vector<std::string>& ids,
                                      int port = 0) {
    std::string config = absl::StrCat("listen = \"127.0.0.1:0\"\nversions_cache = \"", dir.path(),
                                      "/cache", n, "\"\n");
    for (const auto& id : ids) {
      absl::StrAppend(&config, "[[tenants]]\nid = \"", id, "\"\ndsn_env = \"FLEET_T_",
                      id.substr(7), "\"\nlabels = { agent = \"", n, "\"",
                      id == "tenant-00" ? ", canary = \"true\"" : "", " }\n");
    }
    std::string path = absl::StrCat(dir.path(), "/agent", n, ".toml");
    std::ofstream(path) << config;
    std::string port_file = absl::StrCat(dir.path(), "/agent", n, ".port");
    std::remove(port_file.c_str());
    auto p = std::make_unique<Process>(std::vector<std::string>{
        FLEET_AGENT_PATH, "--config", path, "--listen", absl::StrCat("127.0.0.1:", port),
        "--port-file", port_file});
    EXPECT_TRUE(WaitFor([&] { return !ReadFile(port_file).empty(); })) << p->Err();
    ports_[n] = std::stoi(ReadFile(port_file));
    return p;
  }

  nlohmann::json Status(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"status", "-o", "json", "--controller", controller_};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = RunCli(args);
    last_code_ = r.code;
    EXPECT_TRUE(r.code == 0 || r.code == 1) << r.err;
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  std::map<int, int> ports_;
  std::string controller_;
  int last_code_ = -1;
};

TEST_F(FleetStatusTest, ThirtyTenantsThreeAgentsEveryState) {
  auto g = SupportDesk();
  std::vector<std::string> ids;
  std::map<std::string, Expect> expect;
  for (int i = 0; i < 30; ++i) {
    std::string id = absl::StrFormat("tenant-%02d", i);
    ids.push_back(id);
    std::string db = NewDatabase();
    setenv(absl::StrCat("FLEET_T_", id.substr(7)).c_str(), DsnFor(db).c_str(), 1);
    std::string dsn = DsnFor(db);
    if (i < 12) {  // at head
      Upgrade(*g, dsn, {"heads"});
      expect[id] = {"current", 0};
    } else if (i < 14) {  // behind by 1: both branches, not the merge
      Upgrade(*g, dsn, {"6f708192a3b4", "8b9c0d1e2f30"});
      expect[id] = {"lagging", 1};
    } else if (i < 16) {  // behind by 5
      Upgrade(*g, dsn, {"4d5e6f708192"});
      expect[id] = {"lagging", 5};
    } else if (i == 16) {  // the reporting branch only
      Upgrade(*g, dsn, {"8b9c0d1e2f30"});  // reporting@head would be the merge
      expect[id] = {"lagging", 6};
    } else if (i == 17) {  // dirty: a non-transactional step stopped part-way
      Upgrade(*g, dsn, {"heads"});
      Exec(dsn, "INSERT INTO fleet_migration_log (revision, direction, started_at, outcome, "
                "error) VALUES ('9c0d1e2f3041', 'upgrade', now(), 'dirty', 'in progress')");
      expect[id] = {"dirty", 0};
    } else if (i == 18) {  // drift: the script changed since it ran
      Upgrade(*g, dsn, {"heads"});
      Exec(dsn, "UPDATE fleet_migration_log SET checksum = repeat('0', 64) WHERE revision = "
                "'3c4d5e6f7081'");
      expect[id] = {"drift", 0};
    } else if (i == 19) {  // a revision the bundle does not know
      Exec(dsn, "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); "
                "INSERT INTO alembic_version VALUES ('0123456789ff')");
      expect[id] = {"unknown-revision", -1};
    } else {  // the agent that will be killed
      Upgrade(*g, dsn, {"4d5e6f708192"});
      expect[id] = {"unreachable", 5};
    }
  }
  TempDir dir;
  auto a0 = StartAgent(dir, 0, std::vector<std::string>(ids.begin(), ids.begin() + 10));
  auto a1 = StartAgent(dir, 1, std::vector<std::string>(ids.begin() + 10, ids.begin() + 20));
  auto a2 = StartAgent(dir, 2, std::vector<std::string>(ids.begin() + 20, ids.end()));
  std::string port_file = dir.path() + "/controller.port";
  Process controller({FLEET_CONTROLLER_PATH, "--db", dir.path() + "/fleet.sqlite", "--listen",
                      "127.0.0.1:0", "--http", "127.0.0.1:0", "--poll-interval", "300ms",
                      "--agent-timeout", "5s", "--port-file", port_file});
  ASSERT_TRUE(WaitFor([&] { return !ReadFile(port_file).empty(); })) << controller.Err();
  int grpc_port = 0, http_port = 0;
  std::istringstream(ReadFile(port_file)) >> grpc_port >> http_port;
  controller_ = absl::StrCat("127.0.0.1:", grpc_port);

  for (int n = 0; n < 3; ++n) {
    auto r = RunCli({"agents", "add", absl::StrCat("127.0.0.1:", ports_[n]), "--controller",
                     controller_});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("with 10 tenants"));
  }
  auto push = RunCli({"bundle", "push", std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions",
                      "--controller", controller_});
  ASSERT_EQ(push.code, 0) << push.err;

  // Kill the third agent: after three missed polls its tenants are unreachable.
  a2->Kill();
  ASSERT_TRUE(WaitFor([&] {
    auto s = Status();
    return s.is_object() && s["counts"].value("unreachable", 0) == 10 &&
           s["counts"].value("drift", 0) == 1;  // the bundle reached the agents
  })) << Status().dump(2);

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

  // /metrics agrees.
  httplib::Client http("127.0.0.1", http_port);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("fleet_tenants{state=\"current\"} 12\n"));
  EXPECT_THAT(metrics->body, HasSubstr("fleet_tenants{state=\"lagging\"} 5\n"));
  EXPECT_THAT(metrics->body, HasSubstr("fleet_tenants{state=\"unreachable\"} 10\n"));
  EXPECT_THAT(metrics->body, HasSubstr("fleet_agents_up 2\n"));
  EXPECT_THAT(metrics->body, HasSubstr("fleet_inventory_tenants 30\n"));
  EXPECT_EQ(http.Get("/healthz")->status, 200);

  // The table shape a person reads.
  auto table = RunCli({"status", "--lagging", "--controller", controller_});
  EXPECT_THAT(table.out, HasSubstr("TENANT     AGENT"));
  EXPECT_THAT(table.out, HasSubstr("tenant-19  127.0.0.1:"));

  // The restarted agent is reachable again at the next poll.
  a2 = StartAgent(dir, 2, std::vector<std::string>(ids.begin() + 20, ids.end()), ports_[2]);
  ASSERT_TRUE(WaitFor([&] {
    auto s = Status();
    return s.is_object() && s["counts"].value("unreachable", 0) == 0;
  })) << Status().dump(2);
  EXPECT_EQ(Status()["counts"]["lagging"], 15);
}

}  // namespace
}  // namespace fleet
