// fleet-controller: the inventory, agent polling, the ControllerService and
// the HTTP endpoints. Only flag parsing and wiring here.
#include <signal.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <httplib.h>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "controller/agent_client.h"
#include "controller/controller_service.h"
#include "controller/fleet_view.h"
#include "controller/inventory.h"
#include "controller/metrics.h"
#include "controller/poller.h"
#include "controller/rollout_runner.h"
#include "migrations/file_system.h"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"fleet-controller: the fleet's inventory (SQLite), agent polling, and the API "
               "fleetctl talks to.",
               "fleet-controller"};
  std::string db = "fleet.sqlite", listen = "127.0.0.1:7080", http = "127.0.0.1:7081",
              poll = "15s", agent_timeout = "10s", port_file;
  app.add_option("--db", db, "SQLite inventory file (created when missing)")->capture_default_str();
  app.add_option("--listen", listen, "gRPC address (port 0 picks one)")->capture_default_str();
  app.add_option("--http", http, "HTTP address for /healthz and /metrics (empty: off)")
      ->capture_default_str();
  app.add_option("--poll-interval", poll, "How often to poll every agent")->capture_default_str();
  app.add_option("--agent-timeout", agent_timeout, "Deadline of each call to an agent")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "Write \"<grpc port> <http port>\" to this file");
  std::string tls_cert, tls_key, tls_ca;
  app.add_option("--agent-tls-cert", tls_cert, "Controller certificate for mutual TLS with agents");
  app.add_option("--agent-tls-key", tls_key, "Its private key");
  app.add_option("--agent-tls-ca", tls_ca, "The fleet CA that signs agents' certificates");
  CLI11_PARSE(app, argc, argv);
  absl::Duration poll_interval, timeout;
  if (!absl::ParseDuration(poll, &poll_interval) || !absl::ParseDuration(agent_timeout, &timeout)) {
    std::cerr << "fleet-controller: durations look like 15s, 500ms or 2m\n";
    return 2;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto inventory = fleet::controller::OpenSqliteInventory(db);
  if (!inventory.ok()) {
    std::cerr << "fleet-controller: " << inventory.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<fleet::controller::GrpcAgentClient> agent_client;
  if (!tls_cert.empty() || !tls_key.empty() || !tls_ca.empty()) {
    grpc::SslCredentialsOptions tls;
    auto& fs = fleet::migrations::DefaultFileSystem();
    auto cert = fs.ReadFile(tls_cert), key = fs.ReadFile(tls_key), ca = fs.ReadFile(tls_ca);
    for (const auto* f : {&cert, &key, &ca}) {
      if (!f->ok()) {
        std::cerr << "fleet-controller: agent TLS needs --agent-tls-cert, --agent-tls-key and "
                     "--agent-tls-ca: "
                  << f->status().message() << "\n";
        return 2;
      }
    }
    tls.pem_cert_chain = *cert;
    tls.pem_private_key = *key;
    tls.pem_root_certs = *ca;
    agent_client = std::make_unique<fleet::controller::GrpcAgentClient>(timeout, tls);
  } else {
    agent_client = std::make_unique<fleet::controller::GrpcAgentClient>(timeout);
  }
  fleet::controller::GrpcAgentClient& agents = *agent_client;
  fleet::controller::Metrics metrics;
  fleet::controller::BundleGraphs graphs;
  fleet::controller::Poller poller(**inventory, agents, metrics, {poll_interval, 3});
  fleet::controller::RolloutRunner runner(**inventory, agents, graphs, {});
  fleet::controller::ControllerServiceImpl service(**inventory, agents, poller, graphs, runner);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "fleet-controller: cannot listen on " << listen << "\n";
    return 1;
  }

  httplib::Server web;
  int http_port = 0;
  std::thread web_thread;
  if (!http.empty()) {
    web.Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
      bool ok = (*inventory)->ListAgents().ok();
      res.status = ok ? 200 : 503;
      res.set_content(ok ? "ok\n" : "inventory unreadable\n", "text/plain");
    });
    web.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      auto view = fleet::controller::ComputeFleetView(**inventory, graphs, {}, {});
      auto agent_list = (*inventory)->ListAgents();
      auto bundles = (*inventory)->ListBundles();
      if (!view.ok() || !agent_list.ok() || !bundles.ok()) {
        res.status = 500;
        return;
      }
      res.set_content(metrics.Render(*view, *agent_list, bundles->size()),
                      "text/plain; version=0.0.4");
    });
    size_t colon = http.rfind(':');
    std::string host = http.substr(0, colon);
    int want = std::stoi(http.substr(colon + 1));
    http_port = want == 0 ? web.bind_to_any_port(host) : (web.bind_to_port(host, want) ? want : -1);
    if (http_port <= 0) {
      std::cerr << "fleet-controller: cannot listen on " << http << "\n";
      return 1;
    }
    web_thread = std::thread([&] { web.listen_after_bind(); });
  }
  poller.Start();
  runner.ResumeAll();  // rollouts a killed controller left running go on
  if (!port_file.empty()) {
    std::ofstream(port_file + ".tmp") << port << " " << http_port << "\n";
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  }
  std::cerr << "fleet-controller: gRPC on port " << port << ", HTTP on port " << http_port
            << ", inventory " << db << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  std::cerr << "fleet-controller: shutting down" << std::endl;
  poller.Stop();
  runner.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (web_thread.joinable()) {
    web.stop();
    web_thread.join();
  }
  return 0;
}
