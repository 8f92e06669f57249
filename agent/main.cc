// fleet-agent: serves the AgentService for the tenants of one agent.toml.
// Only flag parsing and wiring here; see agent_service.h.
#include <signal.h>

#include <csignal>
#include <iostream>
#include <optional>

#include <grpcpp/grpcpp.h>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "agent/agent_config.h"
#include "agent/agent_service.h"
#include "proto/transport.h"
#include "proto/version.h"
#include "serving/serving.h"

int main(int argc, char** argv) {
  // This process holds database credentials: no core file may carry them.
  fleet::serving::ProtectProcess();
  CLI::App app{"fleet-agent: runs migrations for the tenant databases of one host.\n"
               "Tenants, timeouts and the bundle cache come from the config file.",
               "fleet-agent"};
  app.set_version_flag("--version", std::string("fleet-agent ") + fleet::proto::kVersion);
  std::string config_path, listen, port_file, http;
  app.add_option("--config", config_path, "agent.toml")->required();
  app.add_option("--listen", listen, "Override the listen address (host:port; port 0 picks one)");
  app.add_option("--port-file", port_file, "Write the port actually bound to this file");
  app.add_option("--http", http,
                 "HTTP address for a read-only /healthz (probes; empty: off), e.g. "
                 "127.0.0.1:7071");
  bool allow_plaintext_password = false;
  app.add_flag("--allow-plaintext-password", allow_plaintext_password,
               "Accept a literal password in a tenant's dsn (prefer dsn_env, a service or a "
               "passfile)");
  bool insecure = false;
  app.add_flag("--insecure", insecure,
               "Serve plaintext when agent.toml has no [tls] section; only allowed on a loopback "
               "address (development and tests)");
  app.footer(
      "Without --insecure the agent serves mutual TLS only ([tls] in agent.toml): clients need a "
      "certificate signed by the fleet CA that names one of tls.allowed_clients.\n"
      "SIGHUP re-reads the [tls] certificate, key and CA: connections made afterwards use them.");
  CLI11_PARSE(app, argc, argv);
  fleet::serving::InitLogging("fleet-agent");

  auto text = fleet::migrations::DefaultFileSystem().ReadFile(config_path);
  if (!text.ok()) {
    std::cerr << "fleet-agent: " << text.status().message() << "\n";
    return 2;
  }
  auto config = fleet::agent::ParseAgentConfig(config_path, *text, std::getenv,
                                               allow_plaintext_password);
  if (!config.ok()) {
    std::cerr << "fleet-agent: " << config.status().message() << "\n";
    return 2;
  }
  if (!listen.empty()) config->listen = listen;
  std::string address = config->listen;
  size_t tenants = config->tenants.size();

  sigset_t signals = fleet::serving::BlockSignals({SIGINT, SIGTERM, SIGHUP});

  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::shared_ptr<fleet::proto::ReloadableServerCredentials> tls;
  if (config->tls) {
    auto created = fleet::proto::ReloadableServerCredentials::Create(
        {config->tls->cert, config->tls->key, config->tls->ca},
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    if (!created.ok()) {
      std::cerr << "fleet-agent: [tls] " << created.status().message() << "\n";
      return 2;
    }
    tls = *created;
    credentials = tls;
  } else if (absl::Status s = fleet::proto::CheckPlaintext("fleet-agent", address, insecure);
             !s.ok()) {
    std::cerr << s.message() << " (agent.toml's [tls] section)\n";
    return 2;
  } else {
    credentials = grpc::InsecureServerCredentials();
  }
  fleet::agent::AgentServiceImpl service(*std::move(config),
                                         fleet::migrations::DefaultFileSystem());
  // A bundle of many scripts comes in one PutBundle (the controller is the
  // only caller: mutual TLS is checked before any request is read).
  auto server = fleet::serving::StartGrpcServer(address, credentials, {&service}, 256 << 20,
                                                64 << 20);
  if (!server.ok()) {
    std::cerr << "fleet-agent: " << server.status().message() << "\n";
    return 1;
  }
  // /healthz answers when the gRPC server is up; it shows nothing else.
  fleet::serving::HttpEndpoint web;
  if (!http.empty()) {
    web.server().Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(absl::StrCat("ok: fleet-agent ", fleet::proto::kVersion, " serving ",
                                   tenants, " tenants\n"),
                      "text/plain");
    });
    if (auto bound = web.Start(http); !bound.ok()) {
      std::cerr << "fleet-agent: " << bound.status().message() << "\n";
      return 1;
    }
  }
  if (!port_file.empty()) {
    fleet::serving::WritePortFile(port_file, absl::StrCat(server->port, "\n"));
  }
  std::cerr << "fleet-agent: serving " << tenants << " tenants on port " << server->port
            << std::endl;
  fleet::serving::WaitForStop(signals, [&] {
    if (!tls) {
      std::cerr << "fleet-agent: SIGHUP: no [tls] to reload" << std::endl;
    } else if (absl::Status s = tls->Reload(); !s.ok()) {
      std::cerr << "fleet-agent: SIGHUP: kept the old certificates: " << s.message() << std::endl;
    } else {
      std::cerr << "fleet-agent: SIGHUP: reloaded the [tls] certificate, key and CA" << std::endl;
    }
  });
  std::cerr << "fleet-agent: shutting down" << std::endl;
  server->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return 0;
}
