// fleet-controller: the inventory, agent polling, the ControllerService and
// the HTTP endpoints. Only flag parsing and wiring here.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>
#include <tuple>

#include <grpcpp/grpcpp.h>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "controller/agent_client.h"
#include "controller/auth.h"
#include "controller/clock.h"
#include "controller/controller_service.h"
#include "controller/dashboard.h"
#include "controller/fleet_view.h"
#include "controller/http_endpoints.h"
#include "controller/inventory.h"
#include "controller/inventory_lock.h"
#include "controller/metrics.h"
#include "controller/poller.h"
#include "controller/rollout_runner.h"
#include "controller/leadership.h"
#include "controller/security.h"
#include "migrations/dsn.h"
#include "migrations/file_system.h"
#include "proto/transport.h"
#include "proto/version.h"
#include "serving/log.h"
#include "serving/serving.h"

namespace {

// The largest request message: one piece of a pushed bundle holds at most
// one script of migrations::kMaxScriptBytes beyond its 2 MiB.
constexpr int kMaxRequestBytes = 8 << 20;

// FLEET_CRASH_AT=POINT[:N] (tests only): the process exits at once, with
// code 86, the N-th time (default the first) a rollout reaches POINT, one
// of fleet::controller::kRolloutPoints. Unset: nothing happens.
std::function<void(std::string_view, const std::string&)> CrashPointFromEnvironment() {
  const char* spec = std::getenv("FLEET_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return nullptr;
  std::string point = spec;
  int n = 1;
  if (size_t colon = point.find(':'); colon != std::string::npos) {
    if (!absl::SimpleAtoi(point.substr(colon + 1), &n) || n < 1) n = 1;
    point.resize(colon);
  }
  auto seen = std::make_shared<std::atomic<int>>(0);
  return [point, n, seen](std::string_view at, const std::string& rollout) {
    if (at != point || ++*seen != n) return;
    spdlog::critical("rollout={} event=crash-point point={} (FLEET_CRASH_AT)", rollout, at);
    std::_Exit(86);
  };
}

}  // namespace

int main(int argc, char** argv) {
  // It holds TLS keys and the tokens' hashes: no core file may carry them.
  fleet::serving::ProtectProcess();
  CLI::App app{"fleet-controller: the fleet's inventory (SQLite, or PostgreSQL shared by several "
               "controllers, one leading), agent polling, and the API "
               "fleetctl talks to.",
               "fleet-controller"};
  app.set_version_flag("--version", std::string("fleet-controller ") + fleet::proto::kVersion);
  std::string db = "fleet.sqlite", listen = "127.0.0.1:7080", http = "127.0.0.1:7081",
              poll = "15s", agent_timeout = "10s", port_file;
  app.add_option("--db", db,
                 "The inventory: a SQLite file (created when missing), or a PostgreSQL "
                 "database (postgresql://... or host=... dbname=...; the password by reference: "
                 "~/.pgpass, PGPASSFILE) that several controllers share, one leading")
      ->capture_default_str();
  std::string advertise, leader_timeout_text = "10s";
  app.add_option("--advertise", advertise,
                 "With a PostgreSQL inventory: the gRPC address others reach this controller "
                 "at, recorded while it leads (default: --listen)");
  app.add_option("--leader-timeout", leader_timeout_text,
                 "With a PostgreSQL inventory: how long a leader may stop answering (stopped, "
                 "cut off) before its lock session ends and a standby takes over (1s to 10m)")
      ->capture_default_str();
  app.add_option("--listen", listen, "gRPC address (port 0 picks one)")->capture_default_str();
  app.add_option("--http", http, "HTTP address for the dashboard (/), its API (/api/v1/), /healthz and /metrics (empty: off)")
      ->capture_default_str();
  app.add_option("--poll-interval", poll, "How often to poll every agent")->capture_default_str();
  app.add_option("--agent-timeout", agent_timeout, "Deadline of each call to an agent")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "Write \"<grpc port> <http port>\" to this file");
  std::string api_cert, api_key, api_client_ca, auth_path;
  app.add_option("--tls-cert", api_cert, "Certificate fleetctl sees (TLS for the gRPC API)")
      ->group("Security");
  app.add_option("--tls-key", api_key, "Its private key")->group("Security");
  app.add_option("--tls-client-ca", api_client_ca,
                 "CA that signs operators' client certificates (optional: tokens work without)")
      ->group("Security");
  app.add_option("--auth", auth_path,
                 "auth.toml: the tokens (by SHA-256) and client certificates allowed to call, "
                 "each a viewer or an operator")
      ->group("Security");
  std::string tls_cert, tls_key, tls_ca;
  app.add_option("--agent-tls-cert", tls_cert,
                 "Controller certificate for mutual TLS with agents (its CN is what agents allow)")
      ->group("Security");
  app.add_option("--agent-tls-key", tls_key, "Its private key")->group("Security");
  app.add_option("--agent-tls-ca", tls_ca, "The fleet CA that signs agents' certificates")
      ->group("Security");
  bool http_tls = false;
  app.add_flag("--http-tls", http_tls,
               "Serve --http over HTTPS with --tls-cert and --tls-key (the dashboard's cookies "
               "are then Secure); read at start, not on SIGHUP")
      ->group("Security");
  bool insecure = false;
  app.add_flag("--insecure", insecure,
               "Plaintext where no certificates are given: the API only on a loopback --listen, "
               "agents only on loopback addresses (development and tests)")
      ->group("Security");
  app.footer(
      "TLS is the default: the API needs --tls-cert, --tls-key and --auth; agents need "
      "--agent-tls-cert, --agent-tls-key and --agent-tls-ca (deploy/certs/dev-ca.sh makes a "
      "development set).\nSIGHUP re-reads every certificate, key and CA file and the --auth file; "
      "connections made afterwards use them, and a file that does not check out keeps the old one.");
  std::string migrate_from, migrate_to;
  CLI::App* migrate = app.add_subcommand(
      "migrate-inventory",
      "Copy a SQLite inventory into a PostgreSQL one (empty, or new) so that several "
      "controllers can share it; the controller on the SQLite file must be stopped");
  migrate->add_option("--from", migrate_from, "The SQLite inventory file")->required();
  migrate->add_option("--to", migrate_to,
                      "The PostgreSQL inventory: postgresql://... or host=... dbname=... (the "
                      "password by reference: ~/.pgpass, PGPASSFILE)")
      ->required();
  CLI11_PARSE(app, argc, argv);
  if (*migrate) {
    if (!fleet::controller::IsPostgresInventory(migrate_to)) {
      std::cerr << "fleet-controller: --to takes a PostgreSQL connection string or "
                   "postgresql:// URL\n";
      return 2;
    }
    // No controller may write the file while it is copied.
    auto held = fleet::controller::InventoryLock::Acquire(migrate_from, "fleet-controller migrate-inventory");
    if (!held.ok()) {
      std::cerr << "fleet-controller: " << held.status().message() << "\n";
      return 1;
    }
    auto copied = fleet::controller::MigrateInventory(migrate_from, migrate_to);
    if (!copied.ok()) {
      std::cerr << "fleet-controller: " << copied.status().message() << "\n";
      return 1;
    }
    std::cout << "Copied " << *copied << " from " << migrate_from << " to "
              << fleet::migrations::ConnectionName(migrate_to) << "\n";
    return 0;
  }
  if (http_tls && (api_cert.empty() || api_key.empty())) {
    std::cerr << "fleet-controller: --http-tls serves the certificate of --tls-cert and --tls-key; "
                 "give both\n";
    return 2;
  }
  absl::Duration poll_interval, timeout, leader_timeout;
  if (!absl::ParseDuration(leader_timeout_text, &leader_timeout) ||
      leader_timeout < absl::Seconds(1) || leader_timeout > absl::Minutes(10)) {
    std::cerr << "fleet-controller: --leader-timeout takes a duration from 1s to 10m such as 10s, "
                 "not '" << leader_timeout_text << "'\n";
    return 2;
  }
  for (auto [flag, text, out] : {std::tuple{"--poll-interval", &poll, &poll_interval},
                                 std::tuple{"--agent-timeout", &agent_timeout, &timeout}}) {
    // Finite, positive, and at most a day: "inf", "-5s" and "0s" are refused.
    if (!absl::ParseDuration(*text, out) || *out <= absl::ZeroDuration() ||
        *out > absl::Hours(24)) {
      std::cerr << "fleet-controller: " << flag << " takes a duration from 1ms to 24h such as "
                << "15s, 500ms or 2m, not '" << *text << "'\n";
      return 2;
    }
  }
  // Blocked before anything can start a thread (gRPC starts its own when
  // credentials are made), so that every thread inherits the mask and only
  // WaitForStop takes these signals.
  sigset_t signals = fleet::serving::BlockSignals({SIGINT, SIGTERM, SIGHUP});
  const pthread_t main_thread = pthread_self();
  fleet::serving::InitLogging("fleet-controller");

  // Security settings are checked before anything is opened.
  auto security = fleet::controller::ControllerSecurity::Create(
      {listen, api_cert, api_key, api_client_ca, auth_path, tls_cert, tls_key, tls_ca, insecure});
  if (!security.ok()) {
    std::cerr << "fleet-controller: " << security.status().message() << "\n";
    return 2;
  }

  // One controller writes an inventory at a time. A SQLite file: this one,
  // for as long as the process lives (a lock file). A PostgreSQL inventory:
  // the leader; the others stand by until its session ends, then one takes
  // over with the next epoch, and the inventory refuses the old one's writes.
  const bool shared = fleet::controller::IsPostgresInventory(db);
  const std::string inventory_name =
      shared ? fleet::migrations::ConnectionName(db) : db;  // never the password
  absl::StatusOr<std::unique_ptr<fleet::controller::InventoryLock>> lock;
  if (!shared) {
    lock = fleet::controller::InventoryLock::Acquire(db, "fleet-controller");
    if (!lock.ok()) {
      std::cerr << "fleet-controller: " << lock.status().message() << "\n";
      return 1;
    }
  }
  // A shared inventory opens standing by (epoch 0: it reads, every write is
  // refused naming the leader) until this controller leads.
  auto inventory = shared ? fleet::controller::OpenPostgresInventory(db, 0)
                          : fleet::controller::OpenSqliteInventory(db);
  if (!inventory.ok()) {
    std::cerr << "fleet-controller: " << inventory.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<fleet::controller::Leadership> leadership;
  if (shared) {
    auto opened = fleet::controller::Leadership::Open(
        {db, advertise.empty() ? listen : advertise, leader_timeout});
    if (!opened.ok()) {
      std::cerr << "fleet-controller: " << opened.status().message() << "\n";
      return 1;
    }
    leadership = *std::move(opened);
  }
  // Who leads, as Leader and /healthz say it.
  absl::Mutex role_mu;
  bool leading = !shared;
  int64_t epoch = 0;
  std::string leader_address;
  std::unique_ptr<fleet::controller::GrpcAgentClient> grpc_agents =
      (*security)->NewAgentClient(timeout);
  // Agents that lost their bundle cache are sent the bundle again.
  grpc_agents->FollowBundles(**inventory);
  fleet::controller::AgentClient& agents = *grpc_agents;
  fleet::controller::RealClock clock;
  fleet::controller::Metrics metrics;
  fleet::controller::BundleGraphs graphs(**inventory);
  fleet::controller::Poller::Options poll_options{poll_interval, 3, nullptr};
  poll_options.after_poll = [&] {
    // /metrics serves these counts: a scrape reads no script.
    auto view = fleet::controller::ComputeFleetView(**inventory, graphs, {}, {});
    if (view.ok()) {
      metrics.SetFleet(*view);
    } else {
      spdlog::error("event=fleet-view-failed error=\"{}\"", view.status().message());
    }
  };
  fleet::controller::Poller poller(**inventory, agents, metrics, clock, poll_options);
  fleet::controller::RolloutRunner::Options runner_options;
  runner_options.at_point = CrashPointFromEnvironment();
  runner_options.metrics = &metrics;
  fleet::controller::RolloutRunner runner(**inventory, agents, graphs, clock, runner_options);
  fleet::controller::ControllerServiceImpl service(**inventory, agents, poller, graphs, runner,
                                                   (*security)->authorizer());
  service.SetLeadership([&] {
    absl::MutexLock l(&role_mu);
    fleet::v1::LeaderResponse r;
    r.set_leading(leading);
    r.set_epoch(epoch);
    r.set_leader(leader_address);
    return r;
  });
  // Every request is small: a bundle comes in pieces (PushBundle).
  auto server = fleet::serving::StartGrpcServer(listen, (*security)->api_credentials(),
                                                {&service}, kMaxRequestBytes, 256 << 20);
  if (!server.ok()) {
    std::cerr << "fleet-controller: " << server.status().message() << "\n";
    return 1;
  }
  // The dashboard outlives the HTTP server that calls it (declared first).
  fleet::controller::DashboardOptions dashboard_options;
  dashboard_options.tls = http_tls;
  fleet::controller::Dashboard dashboard(service, (*security)->authorizer(), dashboard_options);
  std::unique_ptr<fleet::serving::HttpEndpoint> web =
      http_tls ? std::make_unique<fleet::serving::HttpEndpoint>(api_cert, api_key)
               : std::make_unique<fleet::serving::HttpEndpoint>();
  int http_port = 0;
  if (!http.empty()) {
    fleet::controller::AddHealthAndMetrics(web->server(), **inventory, metrics, [&] {
      absl::MutexLock l(&role_mu);
      if (!shared) return std::string();
      return leading ? absl::StrCat("leader, epoch ", epoch)
                     : absl::StrCat("standby, leader ",
                                    leader_address.empty() ? std::string("unknown") : leader_address);
    });
    // Sessions and tokens cross the network only over TLS, and nobody is
    // let in unchecked from elsewhere: on another address than loopback
    // the dashboard needs --http-tls and --auth.
    if (fleet::proto::IsLoopbackAddress(http) || (http_tls && !auth_path.empty())) {
      dashboard.Register(web->server());
    } else {
      std::cerr << "fleet-controller: the dashboard is off: --http " << http
                << " is not a loopback address (serve it with --http-tls and --auth)" << std::endl;
    }
    auto bound = web->Start(http);
    if (!bound.ok()) {
      std::cerr << "fleet-controller: " << bound.status().message() << "\n";
      return 1;
    }
    http_port = *bound;
  }
  // What a leader does that a standby does not: poll agents, drive rollouts
  // (those a killed leader left running go on).
  auto lead = [&]() -> absl::Status {
    poller.Start();
    return runner.ResumeAll();
  };
  if (!shared) {
    if (absl::Status s = lead(); !s.ok()) {
      std::cerr << "fleet-controller: cannot resume rollouts: " << s.message() << "\n";
      return 1;
    }
  }
  if (!port_file.empty()) {
    fleet::serving::WritePortFile(port_file, absl::StrCat(server->port, " ", http_port, "\n"));
  }
  std::cerr << "fleet-controller: gRPC on port " << server->port << " ("
            << (*security)->Describe() << "), HTTP on port " << http_port << ", inventory "
            << inventory_name << std::endl;
  // A shared inventory: stand by (serving reads) until this controller
  // leads; then lead until its lock session ends — stopped too long, cut
  // off — and step down (exit 1, to come back as a standby), its writes
  // meanwhile refused by the epoch.
  std::atomic<bool> deposed{false}, stopping{false};
  std::thread leadership_thread;
  if (shared) {
    leadership_thread = std::thread([&] {
      auto led = leadership->WaitToLead(stopping, [&](const std::string& leader) {
        {
          absl::MutexLock l(&role_mu);
          leader_address = leader;
        }
        spdlog::info("event=standing-by leader={}", leader);
        std::cerr << "fleet-controller: standing by: the controller at "
                  << (leader.empty() ? std::string("another address") : leader)
                  << " leads inventory " << inventory_name << std::endl;
      });
      if (!led.ok()) {
        if (!absl::IsCancelled(led.status())) {
          std::cerr << "fleet-controller: " << led.status().message() << std::endl;
          deposed = true;
          pthread_kill(main_thread, SIGTERM);  // to the thread in WaitForStop
        }
        return;
      }
      // Where standbys and fleetctl find the leader: --advertise, else the
      // address it listens on with the port it got.
      std::string where = advertise;
      if (where.empty()) {
        where = absl::StrCat(listen.substr(0, listen.rfind(':')), ":", server->port);
      }
      if (absl::Status s = leadership->Advertise(where, *led); !s.ok()) {
        spdlog::warn("event=advertise-failed error=\"{}\"", s.message());
      }
      {
        absl::MutexLock l(&role_mu);
        leading = true;
        epoch = *led;
        leader_address = where;
      }
      if (absl::Status s = fleet::controller::LeadInventory(**inventory, *led); !s.ok()) {
        std::cerr << "fleet-controller: " << s.message() << std::endl;
      }
      spdlog::info("event=leading epoch={}", *led);
      std::cerr << "fleet-controller: leading inventory " << inventory_name << " (epoch " << *led
                << ")" << std::endl;
      if (absl::Status s = lead(); !s.ok()) {
        std::cerr << "fleet-controller: cannot resume rollouts: " << s.message() << std::endl;
      }
      while (!stopping) {
        if (!leadership->Leading()) {
          deposed = true;
          spdlog::error("event=leadership-lost epoch={}", *led);
          std::cerr << "fleet-controller: lost the leadership of inventory " << inventory_name
                    << " (epoch " << *led << "); stepping down" << std::endl;
          pthread_kill(main_thread, SIGTERM);  // to the thread in WaitForStop
          return;
        }
        for (int i = 0; i < 10 && !stopping; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
    });
  }
  fleet::serving::WaitForStop(signals, [&] {
    for (const std::string& line : (*security)->Reload(*grpc_agents)) {
      std::cerr << "fleet-controller: SIGHUP: " << line << std::endl;
    }
  });
  stopping = true;
  if (leadership_thread.joinable()) leadership_thread.join();
  std::cerr << "fleet-controller: shutting down" << std::endl;
  dashboard.Stop();  // its live views end, so the HTTP server can stop
  web.reset();
  poller.Stop();
  runner.Stop();
  server->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return deposed ? 1 : 0;
}
