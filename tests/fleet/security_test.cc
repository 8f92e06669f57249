// Transport security and operator authentication, end to end with real
// processes: plaintext only with --insecure on loopback, roles on the
// controller's API, and certificates rotated with SIGHUP.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <filesystem>
#include <sqlite3.h>

#include "fleet/v1/agent.grpc.pb.h"
#include "fleet/v1/controller.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/script.h"
#include "proto/transport.h"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::fleet::testing::Process;
using ::fleet::testing::ReadWhole;
using ::fleet::testing::Result;
using ::fleet::testing::RunCli;
using ::fleet::testing::WaitFor;
using ::testing::HasSubstr;

TEST(TransportTest, LoopbackAddresses) {
  for (const char* a : {"127.0.0.1:7070", "127.1.2.3:1", "localhost:7070", "LOCALHOST:1",
                        "[::1]:7070", "::1", "[::ffff:127.0.0.1]:9", "unix:/run/fleet.sock",
                        "unix:///run/fleet.sock", "unix-abstract:fleet", "ipv4:127.0.0.1:5",
                        "ipv4:127.0.0.1:5,127.0.0.2:6", "ipv6:[::1]:5,[::ffff:127.0.0.9]:6",
                        "ipv6:::1", "dns:localhost:5", "dns:///localhost:5",
                        "dns:///[::1]:5", "dns://8.8.8.8/127.0.0.1:5"}) {
    EXPECT_TRUE(proto::IsLoopbackAddress(a)) << a;
  }
  // Every spelling gRPC reads as "somewhere else" is refused: a list with
  // one outside address, a wildcard, a DNS server of one's choosing, other
  // resolvers.
  for (const char* a : {"0.0.0.0:7070", "[::]:7070", "10.0.0.1:7070", "db1:7070",
                        "128.0.0.1:1", "localhost.example.com:1", "[2001:db8::1]:7070", "",
                        "ipv6:[::1]:1,[::ffff:0.0.0.0]:7080", "ipv4:127.0.0.1:1,10.0.0.1:2",
                        "ipv4:0.0.0.0:1", "ipv6:[::ffff:10.0.0.1]:1", "ipv4:", "ipv4:127.0.0.1:1,",
                        "dns://8.8.8.8/localhost:5", "dns://8.8.8.8/db1:5", "dns:db1:5",
                        "dns:127.0.0.1:1,10.0.0.1:1", "xds:///fleet", "google-c2p:///x",
                        "localhost:1,10.0.0.1:1"}) {
    EXPECT_FALSE(proto::IsLoopbackAddress(a)) << a;
  }
  EXPECT_TRUE(proto::CheckPlaintext("x", "127.0.0.1:1", true).ok());
  EXPECT_THAT(std::string(proto::CheckPlaintext("x", "127.0.0.1:1", false).message()),
              HasSubstr("no TLS configured"));
  EXPECT_THAT(std::string(proto::CheckPlaintext("x", "0.0.0.0:1", true).message()),
              HasSubstr("--insecure allows plaintext only on loopback"));
}

TEST(TransportTest, TlsFilesAreCheckedAndNamed) {
  testing::TempDir dir;
  std::string certs = dir.path() + "/certs";
  ASSERT_TRUE(fleet::testing::MakeDevCertificates(certs));
  auto ok = proto::ReadTlsFiles({certs + "/agent-0.crt", certs + "/agent-0.key", certs + "/ca.crt"});
  EXPECT_TRUE(ok.ok()) << ok.status();
  auto mismatched = proto::ReadTlsFiles({certs + "/agent-0.crt", certs + "/operator.key", ""});
  EXPECT_THAT(std::string(mismatched.status().message()),
              HasSubstr("private key " + certs + "/operator.key does not belong to certificate"));
  EXPECT_THAT(std::string(mismatched.status().message()), ::testing::Not(HasSubstr("BEGIN")));
  auto missing = proto::ReadTlsFiles({certs + "/nope.crt", "", ""});
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("cannot read certificate"));
  auto not_pem = proto::ReadTlsFiles({"", "", certs + "/agent-0.key"});
  EXPECT_THAT(std::string(not_pem.status().message()), HasSubstr("holds no PEM certificate"));
}

class SecurityTest : public fleet::testing::FleetHarness {
 protected:
  void SetUp() override {
    FleetHarness::SetUp();
    certs_ = dir_.path() + "/certs";
    Issue();
  }

  // (Re-)issues every leaf certificate under one CA.
  void Issue() { ASSERT_TRUE(fleet::testing::MakeDevCertificates(certs_)); }

  std::string TokenFile(const std::string& name, const std::string& token) {
    std::string path = dir_.path() + "/" + name + ".token";
    std::ofstream(path) << token << "\n";
    return path;
  }

  // A controller serving TLS with --auth; agents over plaintext on loopback.
  std::unique_ptr<Process> StartSecureController(const std::string& auth_toml,
                                                 std::vector<std::string> extra = {}) {
    std::ofstream(dir_.path() + "/auth.toml") << auth_toml;
    std::string port_file = dir_.path() + "/secure.port";
    std::remove(port_file.c_str());
    std::unique_ptr<Process> p;
    if (extra.empty()) extra = {"--insecure"};  // agents in plaintext on loopback
    auto args = std::vector<std::string>{
        FLEET_CONTROLLER_PATH, "--db", dir_.path() + "/secure.sqlite", "--listen", "127.0.0.1:0",
        "--http", "127.0.0.1:0", "--poll-interval", "300ms", "--port-file", port_file,
        "--tls-cert", certs_ + "/controller.crt", "--tls-key", certs_ + "/controller.key",
        "--tls-client-ca", certs_ + "/ca.crt", "--auth", dir_.path() + "/auth.toml"};
    args.insert(args.end(), extra.begin(), extra.end());
    p = std::make_unique<Process>(args);
    EXPECT_TRUE(WaitFor([&] { return !ReadWhole(port_file).empty(); })) << p->Err();
    std::istringstream(ReadWhole(port_file)) >> grpc_port_ >> http_port_;
    controller_ = absl::StrCat("127.0.0.1:", grpc_port_);
    return p;
  }

  // fleetctl against the TLS controller, with `identity` flags.
  Result As(std::vector<std::string> identity, std::vector<std::string> args) {
    args.insert(args.end(), {"--controller", controller_, "--tls-ca", certs_ + "/ca.crt"});
    args.insert(args.end(), identity.begin(), identity.end());
    return RunCli(args);
  }

  // The PEM certificate a fresh TLS connection to `port` is served, or "".
  std::string ServedCertificate(int port, bool controller) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ReadWhole(certs_ + "/ca.crt");
    o.pem_cert_chain = ReadWhole(certs_ + "/controller.crt");
    o.pem_private_key = ReadWhole(certs_ + "/controller.key");
    grpc::ChannelArguments args;
    args.SetInt("fleet.test.fresh", fresh_++);  // a new connection each time
    auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                             grpc::SslCredentials(o), args);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Status s;
    if (controller) {
      ctx.AddMetadata("authorization", "Bearer viewer-token-1");
      fleet::v1::ListAgentsResponse resp;
      s = fleet::v1::ControllerService::NewStub(channel)->ListAgents(&ctx, {}, &resp);
    } else {
      fleet::v1::ListTenantsResponse resp;
      s = fleet::v1::AgentService::NewStub(channel)->ListTenants(&ctx, {}, &resp);
    }
    if (!s.ok()) return "";
    auto auth = ctx.auth_context();
    auto pem = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    return pem.empty() ? "" : std::string(pem[0].data(), pem[0].size());
  }

  std::string AuthToml() {
    return absl::StrCat("[[tokens]]\nname = \"dash\"\nrole = \"viewer\"\nsha256 = \"",
                        migrations::Sha256Hex("viewer-token-1"),
                        "\"\n[[tokens]]\nname = \"ci\"\nrole = \"operator\"\nsha256 = \"",
                        migrations::Sha256Hex("operator-token-1"),
                        "\"\n[[certificates]]\nname = \"operator\"\nrole = \"operator\"\n");
  }

  // An agent serving mutual TLS (agent-0's certificate) for `tenants`
  // (id -> DSN, passed through environment variables).
  std::unique_ptr<Process> StartTlsAgent(const std::map<std::string, std::string>& tenants,
                                         int* port) {
    std::string config = absl::StrCat(
        "listen = \"127.0.0.1:0\"\nversions_cache = \"", dir_.path(), "/tls-cache\"\n[tls]\n",
        "cert = \"", certs_, "/agent-0.crt\"\nkey = \"", certs_, "/agent-0.key\"\nca = \"", certs_,
        "/ca.crt\"\nallowed_clients = [\"controller\"]\n");
    for (const auto& [id, dsn] : tenants) {
      std::string env = absl::StrCat("FLEET_SEC_", env_counter_++);
      setenv(env.c_str(), dsn.c_str(), 1);
      absl::StrAppend(&config, "[[tenants]]\nid = \"", id, "\"\ndsn_env = \"", env, "\"\n");
    }
    std::ofstream(dir_.path() + "/tls-agent.toml") << config;
    std::string port_file = dir_.path() + "/tls-agent.port";
    std::remove(port_file.c_str());
    auto p = std::make_unique<Process>(std::vector<std::string>{
        FLEET_AGENT_PATH, "--config", dir_.path() + "/tls-agent.toml", "--port-file", port_file});
    EXPECT_TRUE(WaitFor([&] { return !ReadWhole(port_file).empty(); })) << p->Err();
    *port = std::stoi(ReadWhole(port_file));
    return p;
  }

  std::string certs_;
  int fresh_ = 0;
};

TEST_F(SecurityTest, TheDashboardServesHttpsWithTheControllersCertificateAndSecureCookies) {
  auto controller = StartSecureController(AuthToml(), {"--insecure", "--http-tls"});
  httplib::SSLClient https("127.0.0.1", http_port_);
  https.set_ca_cert_path((certs_ + "/ca.crt").c_str());
  https.enable_server_certificate_verification(false);  // the name is checked by gRPC's tests
  auto health = https.Get("/healthz");
  ASSERT_TRUE(health) << "no HTTPS answer: " << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  auto signed_in = https.Post("/signin", "token=viewer-token-1", "application/x-www-form-urlencoded");
  ASSERT_TRUE(signed_in);
  EXPECT_EQ(signed_in->status, 303);
  EXPECT_THAT(signed_in->get_header_value("Set-Cookie"), HasSubstr("; Secure"));
  EXPECT_THAT(signed_in->get_header_value("Set-Cookie"), ::testing::StartsWith("__Host-"));
  EXPECT_EQ(health->get_header_value("Strict-Transport-Security"), "max-age=31536000");
  // Plain HTTP gets nothing from an HTTPS port.
  httplib::Client plain("127.0.0.1", http_port_);
  plain.set_connection_timeout(2);
  plain.set_read_timeout(2);
  auto nothing = plain.Get("/healthz");
  EXPECT_TRUE(!nothing || nothing->status != 200);
}

TEST_F(SecurityTest, PlaintextOnlyWithInsecureAndOnlyOnLoopback) {
  setenv("FLEET_SEC_T0", Dsn().c_str(), 1);
  std::string config = absl::StrCat("listen = \"127.0.0.1:0\"\nversions_cache = \"", dir_.path(),
                                    "/cache\"\n[[tenants]]\nid = \"acme\"\ndsn_env = \"FLEET_SEC_T0\"\n");
  std::ofstream(dir_.path() + "/plain.toml") << config;
  auto refused = [](std::vector<std::string> args) {
    Process p(std::move(args));
    int code = p.WaitExit();
    EXPECT_EQ(code, 2) << p.Err();
    return p.Err();
  };
  std::string agent_toml = dir_.path() + "/plain.toml";
  EXPECT_THAT(refused({FLEET_AGENT_PATH, "--config", agent_toml}),
              HasSubstr("fleet-agent: no TLS configured for 127.0.0.1:0"));
  std::string off_loopback =
      refused({FLEET_AGENT_PATH, "--config", agent_toml, "--insecure", "--listen", "0.0.0.0:0"});
  EXPECT_THAT(off_loopback, HasSubstr("--insecure allows plaintext only on loopback addresses"));
  EXPECT_THAT(off_loopback, HasSubstr("0.0.0.0:0 is not one"));

  std::string db = dir_.path() + "/refused.sqlite";
  std::string auth = dir_.path() + "/auth.toml";
  std::ofstream(auth) << AuthToml();
  EXPECT_THAT(refused({FLEET_CONTROLLER_PATH, "--db", db, "--listen", "127.0.0.1:0"}),
              HasSubstr("fleet-controller: no TLS configured for 127.0.0.1:0"));
  EXPECT_THAT(refused({FLEET_CONTROLLER_PATH, "--db", db, "--insecure", "--listen", "[::]:0"}),
              HasSubstr("[::]:0 is not one"));
  EXPECT_THAT(refused({FLEET_CONTROLLER_PATH, "--db", db, "--listen", "127.0.0.1:0", "--tls-cert",
                       certs_ + "/controller.crt", "--tls-key", certs_ + "/controller.key"}),
              HasSubstr("--tls-cert needs --auth FILE"));
  EXPECT_THAT(refused({FLEET_CONTROLLER_PATH, "--db", db, "--listen", "127.0.0.1:0", "--tls-cert",
                       certs_ + "/controller.crt", "--tls-key", certs_ + "/controller.key",
                       "--auth", auth}),
              HasSubstr("no TLS configured for agents"));
  EXPECT_THAT(refused({FLEET_CONTROLLER_PATH, "--db", db, "--insecure", "--listen", "127.0.0.1:0",
                       "--agent-tls-cert", certs_ + "/controller.crt", "--agent-tls-key",
                       certs_ + "/operator.key", "--agent-tls-ca", certs_ + "/ca.crt"}),
              HasSubstr("does not belong to certificate"));
  // Refused before anything was created.
  EXPECT_TRUE(ReadWhole(db).empty());

  for (const char* target : {"192.0.2.1:7080", "ipv6:[::1]:1,[::ffff:0.0.0.0]:7080",
                             "ipv4:127.0.0.1:1,192.0.2.1:7080", "dns://192.0.2.53/localhost:7080",
                             "xds:///fleet"}) {
    auto cli = RunCli({"status", "--insecure", "--controller", target});
    EXPECT_EQ(cli.code, 2) << target;
    EXPECT_THAT(cli.err, HasSubstr("fleetctl: --insecure allows plaintext only on loopback"))
        << target;
  }

  // An insecure controller calls only loopback agents in plaintext.
  auto controller = StartController();
  auto far = Cli({"agents", "add", "192.0.2.1:7070"});
  EXPECT_EQ(far.code, 3);
  EXPECT_THAT(far.err, HasSubstr("plaintext to agents is allowed only on loopback"));
}

TEST_F(SecurityTest, ViewersReadOperatorsActAndEveryCallerIsNamed) {
  std::string tenant = DsnFor(NewDatabase());
  auto agent = StartAgent(0, {{"acme", tenant, {}}});
  auto controller = StartSecureController(AuthToml());
  std::vector<std::string> viewer{"--token-file", TokenFile("viewer", "viewer-token-1")};
  std::vector<std::string> op{"--token-file", TokenFile("operator", "operator-token-1")};
  std::vector<std::string> cert{"--tls-cert", certs_ + "/operator.crt", "--tls-key",
                                certs_ + "/operator.key"};
  std::string agent_address = absl::StrCat("127.0.0.1:", agent_ports_[0]);
  std::string versions = std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions";

  auto nobody = As({}, {"agents", "list"});
  EXPECT_EQ(nobody.code, 3);
  EXPECT_THAT(nobody.err, HasSubstr("needs a caller identity"));
  auto wrong = As({"--token-file", TokenFile("wrong", "guessed")}, {"agents", "list"});
  EXPECT_EQ(wrong.code, 3);
  EXPECT_THAT(wrong.err, HasSubstr("matches no token"));
  EXPECT_THAT(wrong.err, ::testing::Not(HasSubstr("guessed")));
  auto plaintext = RunCli({"agents", "list", "--controller", controller_, "--insecure"});
  EXPECT_EQ(plaintext.code, 3);
  auto unknown_ca = RunCli({"agents", "list", "--controller", controller_, "--token-file",
                            TokenFile("v2", "viewer-token-1")});
  EXPECT_EQ(unknown_ca.code, 3);  // the system's roots do not know the fleet CA

  EXPECT_EQ(As(viewer, {"agents", "list"}).code, 0);
  auto viewer_enrol = As(viewer, {"agents", "add", agent_address});
  EXPECT_EQ(viewer_enrol.code, 3);
  EXPECT_THAT(viewer_enrol.err,
              HasSubstr("dash is a viewer; enrolling an agent needs the operator role"));
  auto enrol = As(op, {"agents", "add", agent_address});
  ASSERT_EQ(enrol.code, 0) << enrol.err;
  ASSERT_EQ(As(viewer, {"bundle", "push", versions}).code, 3);
  auto push = As(op, {"bundle", "push", versions});
  ASSERT_EQ(push.code, 0) << push.err;

  EXPECT_EQ(As(viewer, {"rollout", "plan", "--to", "head"}).code, 0);
  auto viewer_start = As(viewer, {"rollout", "start", "--to", "head"});
  EXPECT_EQ(viewer_start.code, 3);
  EXPECT_THAT(viewer_start.err, HasSubstr("starting a rollout needs the operator role"));
  // A rehearsal takes real locks on tenants: operators only.
  auto viewer_rehearse = As(viewer, {"rollout", "plan", "--to", "head", "--rehearse"});
  EXPECT_EQ(viewer_rehearse.code, 3);
  EXPECT_THAT(viewer_rehearse.err, HasSubstr("rehearsing a rollout needs the operator role"));
  auto start = As(cert, {"rollout", "start", "--to", "head", "-o", "json"});
  ASSERT_EQ(start.code, 0) << start.err;
  std::string id = nlohmann::json::parse(start.out)["id"];
  nlohmann::json rollout;
  ASSERT_TRUE(WaitFor([&] {
    rollout = nlohmann::json::parse(As(viewer, {"rollout", "status", id, "-o", "json"}).out,
                                    nullptr, false);
    return rollout.is_object() && rollout["state"] == "succeeded";
  }, std::chrono::seconds(60))) << rollout.dump(2);
  EXPECT_EQ(HeadsOf(tenant), (std::vector<std::string>{"9c0d1e2f3041"}));

  // Who asked is the proven identity, with the claimed user beside it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_.path() + "/secure.sqlite").c_str(), &db, SQLITE_OPEN_READONLY,
                            nullptr),
            SQLITE_OK);
  std::map<std::string, std::string> actors;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT action, actor FROM audit", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    actors[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] =
        reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_THAT(actors["agent enrolled"], ::testing::StartsWith("ci ("));
  EXPECT_THAT(actors["bundle pushed"], ::testing::StartsWith("ci ("));
  EXPECT_THAT(actors["rollout started"], ::testing::StartsWith("operator ("));
  auto history = As(viewer, {"tenants", "history", "acme", "-o", "json"});
  EXPECT_THAT(history.out, HasSubstr("\"actor\": \"operator ("));

  // Revoking a token takes a SIGHUP, not a restart.
  std::ofstream(dir_.path() + "/auth.toml")
      << absl::StrCat("[[tokens]]\nname = \"ci\"\nrole = \"operator\"\nsha256 = \"",
                      migrations::Sha256Hex("operator-token-1"), "\"\n");
  controller->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return As(viewer, {"agents", "list"}).code == 3; }))
      << controller->Err();
  EXPECT_EQ(As(op, {"agents", "list"}).code, 0);
}

TEST_F(SecurityTest, SighupRotatesCertificatesForNewConnections) {
  setenv("FLEET_SEC_T1", Dsn().c_str(), 1);
  std::ofstream(dir_.path() + "/tls.toml") << absl::StrCat(
      "listen = \"127.0.0.1:0\"\nversions_cache = \"", dir_.path(), "/cache\"\n[tls]\ncert = \"",
      certs_, "/agent-0.crt\"\nkey = \"", certs_, "/agent-0.key\"\nca = \"", certs_,
      "/ca.crt\"\nallowed_clients = [\"controller\"]\n[[tenants]]\nid = \"acme\"\n"
      "dsn_env = \"FLEET_SEC_T1\"\n");
  std::string port_file = dir_.path() + "/tls-agent.port";
  Process agent({FLEET_AGENT_PATH, "--config", dir_.path() + "/tls.toml", "--port-file", port_file});
  ASSERT_TRUE(WaitFor([&] { return !ReadWhole(port_file).empty(); })) << agent.Err();
  int agent_port = std::stoi(ReadWhole(port_file));
  auto controller = StartSecureController(AuthToml());

  std::string old_agent = ReadWhole(certs_ + "/agent-0.crt");
  std::string old_controller = ReadWhole(certs_ + "/controller.crt");
  ASSERT_EQ(ServedCertificate(agent_port, false), old_agent) << agent.Err();
  ASSERT_EQ(ServedCertificate(grpc_port_, true), old_controller) << controller->Err();

  Issue();  // new keys and certificates in the same files
  std::string new_agent = ReadWhole(certs_ + "/agent-0.crt");
  ASSERT_NE(new_agent, old_agent);
  // Until told, the processes keep what they loaded.
  EXPECT_EQ(ServedCertificate(agent_port, false), old_agent);
  agent.Signal(SIGHUP);
  controller->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return ServedCertificate(agent_port, false) == new_agent; }))
      << agent.Err();
  EXPECT_TRUE(WaitFor([&] {
    return ServedCertificate(grpc_port_, true) == ReadWhole(certs_ + "/controller.crt");
  })) << controller->Err();

  // A broken file on SIGHUP keeps the old certificate and says why.
  std::ofstream(certs_ + "/agent-0.key") << "not a key\n";
  agent.Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return agent.Err().find("kept the old certificates") != std::string::npos; }));
  EXPECT_EQ(ServedCertificate(agent_port, false), new_agent);
  EXPECT_THAT(agent.Err(), ::testing::Not(HasSubstr("not a key")));
}

TEST_F(SecurityTest, SighupRotatesTheCertificateTheControllerShowsAgents) {
  int agent_port = 0;
  auto agent = StartTlsAgent({{"acme", DsnFor(NewDatabase())}}, &agent_port);
  // The controller's client certificate for agents, in files of its own.
  std::filesystem::copy_file(certs_ + "/controller.crt", dir_.path() + "/client.crt");
  std::filesystem::copy_file(certs_ + "/controller.key", dir_.path() + "/client.key");
  auto controller = StartSecureController(
      absl::StrCat("[[tokens]]\nname = \"ci\"\nrole = \"operator\"\nsha256 = \"",
                   migrations::Sha256Hex("operator-token-1"), "\"\n"),
      {"--agent-tls-cert", dir_.path() + "/client.crt", "--agent-tls-key",
       dir_.path() + "/client.key", "--agent-tls-ca", certs_ + "/ca.crt"});
  std::vector<std::string> op{"--token-file", TokenFile("op", "operator-token-1")};
  ASSERT_EQ(As(op, {"agents", "add", absl::StrCat("127.0.0.1:", agent_port)}).code, 0);

  // Rotate to a certificate the agent does not serve (it names "operator"):
  // once told, the controller's new connections present it and are refused.
  std::filesystem::copy_file(certs_ + "/operator.crt", dir_.path() + "/client.crt",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(certs_ + "/operator.key", dir_.path() + "/client.key",
                             std::filesystem::copy_options::overwrite_existing);
  // Not yet: until SIGHUP the controller keeps the certificate it loaded.
  (void)As(op, {"status", "--refresh"});
  EXPECT_THAT(As(op, {"agents", "list", "-o", "json"}).out,
              ::testing::Not(HasSubstr("the client certificate names operator")));
  controller->Signal(SIGHUP);
  std::string agents;
  EXPECT_TRUE(WaitFor([&] {
    agents = As(op, {"agents", "list", "-o", "json"}).out;
    return agents.find("the client certificate names operator") != std::string::npos;
  })) << agents << controller->Err();
}

TEST_F(SecurityTest, NoPasswordKeyOrTokenReachesAnyOutput) {
  const std::string password = "Pg-Passw0rd-7f3a";
  const std::string token = "Op-T0ken-91c2";
  // Trust authentication ignores the password, so the tenants still work.
  std::map<std::string, std::string> tenants{
      {"acme", DsnFor(NewDatabase()) + " password=" + password},
      {"globex", DsnFor(NewDatabase()) + " password=" + password},
      {"gone", "host=127.0.0.1 port=1 dbname=gone user=app password=" + password}};
  int agent_port = 0;
  auto agent = StartTlsAgent(tenants, &agent_port);
  auto controller = StartSecureController(
      absl::StrCat("[[tokens]]\nname = \"ci\"\nrole = \"operator\"\nsha256 = \"",
                   migrations::Sha256Hex(token), "\"\n"),
      {"--agent-tls-cert", certs_ + "/controller.crt", "--agent-tls-key",
       certs_ + "/controller.key", "--agent-tls-ca", certs_ + "/ca.crt"});
  std::vector<std::string> op{"--token-file", TokenFile("op", token)};
  std::string transcript;
  auto run = [&](std::vector<std::string> args) {
    Result r = As(op, args);
    absl::StrAppend(&transcript, r.out, r.err);
    return r;
  };
  ASSERT_EQ(run({"agents", "add", absl::StrCat("127.0.0.1:", agent_port)}).code, 0)
      << transcript;
  ASSERT_EQ(run({"bundle", "push", FLEET_SOURCE_DIR "/examples/support-desk/versions"}).code, 0)
      << transcript;
  // Refused: "gone" is unreachable, and the refusal names its (redacted) DSN.
  EXPECT_EQ(run({"rollout", "start", "--to", "head"}).code, 3);
  ASSERT_EQ(run({"tenants", "label", "acme", "ring=a"}).code, 0) << transcript;
  ASSERT_EQ(run({"tenants", "label", "globex", "ring=a"}).code, 0) << transcript;
  auto start = run({"rollout", "start", "--to", "head", "--selector", "ring=a", "-o", "json"});
  ASSERT_EQ(start.code, 0) << start.err;
  std::string id = nlohmann::json::parse(start.out)["id"];
  ASSERT_TRUE(WaitFor([&] {
    auto j = nlohmann::json::parse(As(op, {"rollout", "status", id, "-o", "json"}).out, nullptr,
                                   false);
    return j.is_object() && j["state"] != "running" && j["state"] != "pending";
  }, std::chrono::seconds(90)));
  for (const char* output : {"json", "table"}) {
    for (std::vector<std::string> verb :
         {std::vector<std::string>{"status"}, {"status", "--refresh"}, {"agents", "list"},
          {"tenants", "list"}, {"tenants", "history", "acme"}, {"tenants", "history", "gone"},
          {"bundle", "list"}, {"rollout", "list"}, {"rollout", "status", id},
          {"rollout", "plan", "--to", "head"}}) {
      verb.insert(verb.end(), {"-o", output});
      run(verb);
    }
  }
  httplib::Client http("127.0.0.1", http_port_);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("fleet_tenants"));
  // The failing tenant was shown, its connection named by its fields.
  EXPECT_THAT(transcript, HasSubstr("cannot connect to app@127.0.0.1:1/gone"));

  std::vector<std::pair<std::string, std::string>> places{
      {"fleetctl output", transcript},
      {"/metrics", metrics->body},
      {"controller log", controller->Err() + controller->Out()},
      {"agent log", agent->Err() + agent->Out()},
      {"inventory", ReadWhole(dir_.path() + "/secure.sqlite") +
                        ReadWhole(dir_.path() + "/secure.sqlite-wal")}};
  std::vector<std::string> secrets{password, token};
  for (const char* key : {"/controller.key", "/agent-0.key", "/operator.key", "/ca.key"}) {
    // The body of a PEM key: any line of it would be a leak.
    std::istringstream pem(ReadWhole(certs_ + key));
    for (std::string line; std::getline(pem, line);) {
      if (line.size() > 20 && line.find("-----") == std::string::npos) secrets.push_back(line);
    }
  }
  for (const auto& [where, text] : places) {
    for (const auto& secret : secrets) {
      EXPECT_EQ(text.find(secret), std::string::npos) << where << " holds a secret: " << secret;
    }
  }
}

}  // namespace
}  // namespace fleet
