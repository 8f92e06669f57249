// FleetHarness: real fleet-agent and fleet-controller processes on loopback
// over databases of the throwaway server, driven with fleetctl in-process.
#ifndef FLEET_TESTS_TESTING_FLEET_HARNESS_H_
#define FLEET_TESTS_TESTING_FLEET_HARNESS_H_

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "migrations/migrator.h"
#include "migrations/script_directory.h"
#include "nlohmann/json.hpp"
#include "tests/cli/cli_test_util.h"
#include "tests/testing/postgres.h"
#include "tests/testing/process.h"

namespace fleet::testing {

// Development certificates (deploy/certs/dev-ca.sh) in `dir`: a CA (kept
// when `dir` has one, so running it again re-issues the leaves), controller,
// operator and `agent` certificates. True when the script succeeded.
inline bool MakeDevCertificates(const std::string& dir, const std::string& agent = "agent-0") {
  std::string cmd = std::string("bash '") + FLEET_SOURCE_DIR + "/deploy/certs/dev-ca.sh' '" + dir +
                    "' " + agent + " >/dev/null";
  return std::system(cmd.c_str()) == 0;
}

class FleetHarness : public PostgresTest {
 protected:
  struct TenantSpec {
    std::string id;
    std::string dsn;
    std::map<std::string, std::string> labels;
  };

  // Starts agent `n` serving `tenants` (their DSNs go through environment
  // variables); `port` 0 picks one. Returns the process.
  std::unique_ptr<Process> StartAgent(int n, const std::vector<TenantSpec>& tenants, int port = 0) {
    std::string config = absl::StrCat("listen = \"127.0.0.1:0\"\nversions_cache = \"", dir_.path(),
                                      "/cache", n, "\"\n");
    for (const auto& t : tenants) {
      std::string env = absl::StrCat("FLEET_T_", env_counter_++);
      setenv(env.c_str(), t.dsn.c_str(), 1);
      absl::StrAppend(&config, "[[tenants]]\nid = \"", t.id, "\"\ndsn_env = \"", env,
                      "\"\nlabels = { agent = \"", n, "\"");
      for (const auto& [k, v] : t.labels) absl::StrAppend(&config, ", ", k, " = \"", v, "\"");
      absl::StrAppend(&config, " }\n");
    }
    std::string path = absl::StrCat(dir_.path(), "/agent", n, ".toml");
    std::ofstream(path) << config;
    std::string port_file = absl::StrCat(dir_.path(), "/agent", n, ".port");
    std::remove(port_file.c_str());
    auto p = std::make_unique<Process>(std::vector<std::string>{
        FLEET_AGENT_PATH, "--insecure", "--config", path, "--listen", absl::StrCat("127.0.0.1:", port),
        "--port-file", port_file});
    EXPECT_TRUE(WaitFor([&] { return !ReadWhole(port_file).empty(); })) << p->Err();
    agent_ports_[n] = std::stoi(ReadWhole(port_file));
    return p;
  }

  // Starts the controller on a fresh (or the same) inventory; `env` adds
  // to its environment (FLEET_CRASH_AT=...).
  std::unique_ptr<Process> StartController(const std::string& poll = "300ms",
                                           std::vector<std::string> env = {},
                                           std::vector<std::string> extra_args = {}) {
    std::string port_file = dir_.path() + "/controller.port";
    std::remove(port_file.c_str());
    std::vector<std::string> args{FLEET_CONTROLLER_PATH, "--insecure", "--db",
                                  dir_.path() + "/fleet.sqlite", "--listen", "127.0.0.1:0",
                                  "--http", "127.0.0.1:0", "--poll-interval", poll,
                                  "--agent-timeout", "15s", "--port-file", port_file};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    auto p = std::make_unique<Process>(std::move(args), std::move(env));
    EXPECT_TRUE(WaitFor([&] { return !ReadWhole(port_file).empty(); })) << p->Err();
    std::istringstream(ReadWhole(port_file)) >> grpc_port_ >> http_port_;
    controller_ = absl::StrCat("127.0.0.1:", grpc_port_);
    return p;
  }

  Result Cli(std::vector<std::string> args) {
    args.push_back("--controller");
    args.push_back(controller_);
    args.push_back("--insecure");
    return RunCli(args);
  }

  void Enrol(int agents, const std::string& versions) {
    for (int n = 0; n < agents; ++n) {
      auto r = Cli({"agents", "add", absl::StrCat("127.0.0.1:", agent_ports_[n])});
      ASSERT_EQ(r.code, 0) << r.err;
    }
    auto push = Cli({"bundle", "push", versions});
    ASSERT_EQ(push.code, 0) << push.err;
  }

  nlohmann::json Rollout(const std::string& id) {
    auto r = Cli({"rollout", "status", id, "-o", "json"});
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  // Waits until rollout `id` reaches `state`; returns its JSON.
  nlohmann::json WaitForRollout(const std::string& id, const std::string& state,
                                std::chrono::seconds timeout = std::chrono::seconds(120)) {
    nlohmann::json last;
    bool ok = WaitFor(
        [&] {
          last = Rollout(id);
          return last.is_object() && last["state"] == state;
        },
        timeout);
    EXPECT_TRUE(ok) << "rollout " << id << " never reached " << state << ": " << last.dump(2);
    return last;
  }

  // Starts a rollout with `flags`; returns its id.
  std::string StartRollout(std::vector<std::string> flags) {
    std::vector<std::string> args{"rollout", "start", "-o", "json"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto r = Cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() ? j["id"].get<std::string>() : "";
  }

  // examples/support-desk/versions plus one revision `name` with `text`,
  // written into this test's directory; returns that directory.
  std::string ExampleVersionsWith(const std::string& name, const std::string& text) {
    std::string dir = dir_.path() + "/versions";
    std::filesystem::create_directories(dir);
    for (const auto& e : std::filesystem::directory_iterator(
             std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions")) {
      std::filesystem::copy(e.path(), dir, std::filesystem::copy_options::overwrite_existing);
    }
    std::ofstream(dir + "/" + name) << text;
    return dir;
  }

  // Upgrades `dsn` with examples/support-desk to each of `targets` in turn.
  void UpgradeExample(const std::string& dsn, const std::vector<std::string>& targets) {
    auto g = migrations::LoadRevisionGraph(
        migrations::DefaultFileSystem(),
        std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions");
    ASSERT_TRUE(g.ok()) << g.status();
    migrations::MigratorOptions o;
    o.dsn = dsn;
    o.actor = "test";
    for (const auto& t : targets) {
      auto r = migrations::Migrator(**g, o).Upgrade(t);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }

  std::vector<std::string> HeadsOf(const std::string& dsn) {
    std::vector<std::string> heads;
    for (auto& row : Query(dsn, "SELECT version_num FROM alembic_version ORDER BY 1")) {
      heads.push_back(row[0]);
    }
    return heads;
  }

  TempDir dir_;
  std::map<int, int> agent_ports_;
  int grpc_port_ = 0, http_port_ = 0;
  std::string controller_;
  int env_counter_ = 0;
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_FLEET_HARNESS_H_
