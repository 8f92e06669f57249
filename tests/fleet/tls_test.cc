// Mutual TLS between controller and agent: the agent serves only a client
// whose certificate the fleet CA signed and that names an allowed client.
#include <grpcpp/grpcpp.h>

#include "fleet/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::fleet::testing::Process;
using ::fleet::testing::ReadWhole;
using ::fleet::testing::WaitFor;
using ::testing::HasSubstr;

class TlsTest : public fleet::testing::FleetHarness {
 protected:
  std::string MakeCa(const std::string& name) {
    std::string dir = dir_.path() + "/" + name;
    EXPECT_TRUE(fleet::testing::MakeDevCertificates(dir));
    return dir;
  }

  grpc::Status Call(std::shared_ptr<grpc::ChannelCredentials> creds) {
    auto stub = fleet::v1::AgentService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", agent_port_), creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    fleet::v1::ListTenantsRequest req;
    fleet::v1::ListTenantsResponse resp;
    return stub->ListTenants(&ctx, req, &resp);
  }

  std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& root_ca_dir,
                                                const std::string& cert_dir,
                                                const std::string& who) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ReadWhole(root_ca_dir + "/ca.crt");
    if (!who.empty()) {
      o.pem_cert_chain = ReadWhole(cert_dir + "/" + who + ".crt");
      o.pem_private_key = ReadWhole(cert_dir + "/" + who + ".key");
    }
    return grpc::SslCredentials(o);
  }

  int agent_port_ = 0;
};

TEST_F(TlsTest, AgentServesOnlyTheControllerOfItsCa) {
  std::string ca = MakeCa("ca1"), other = MakeCa("ca2");
  setenv("FLEET_TLS_T0", Dsn().c_str(), 1);
  std::string config = absl::StrCat(
      "listen = \"127.0.0.1:0\"\nversions_cache = \"", dir_.path(), "/cache\"\n",
      "[tls]\ncert = \"", ca, "/agent-0.crt\"\nkey = \"", ca, "/agent-0.key\"\nca = \"", ca,
      "/ca.crt\"\nallowed_clients = [\"controller\"]\n",
      "[[tenants]]\nid = \"acme\"\ndsn_env = \"FLEET_TLS_T0\"\n");
  std::ofstream(dir_.path() + "/agent.toml") << config;
  std::string port_file = dir_.path() + "/agent.port";
  Process agent({FLEET_AGENT_PATH, "--config", dir_.path() + "/agent.toml", "--port-file", port_file});
  ASSERT_TRUE(WaitFor([&] { return !ReadWhole(port_file).empty(); })) << agent.Err();
  agent_port_ = std::stoi(ReadWhole(port_file));

  EXPECT_FALSE(Call(grpc::InsecureChannelCredentials()).ok());       // plaintext
  EXPECT_FALSE(Call(Tls(ca, ca, "")).ok());                           // no client certificate
  EXPECT_FALSE(Call(Tls(ca, other, "controller")).ok());              // another CA's certificate
  grpc::Status wrong = Call(Tls(ca, ca, "operator"));                 // the right CA, wrong identity
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(wrong.error_message(), HasSubstr("serves only controller"));
  grpc::Status right = Call(Tls(ca, ca, "controller"));
  EXPECT_TRUE(right.ok()) << right.error_message();

  // A controller with the fleet's certificates enrols it; one from another CA cannot.
  auto enrol = [&](const std::string& certs) {
    std::string cport = dir_.path() + "/c-" + certs.substr(certs.size() - 3) + ".port";
    Process controller({FLEET_CONTROLLER_PATH, "--db", dir_.path() + "/" + certs.substr(certs.size() - 3) + ".sqlite",
                        "--insecure", "--listen", "127.0.0.1:0", "--http", "", "--port-file", cport,
                        "--agent-tls-cert", certs + "/controller.crt", "--agent-tls-key",
                        certs + "/controller.key", "--agent-tls-ca", certs + "/ca.crt"});
    EXPECT_TRUE(WaitFor([&] { return !ReadWhole(cport).empty(); })) << controller.Err();
    int port = 0;
    std::istringstream(ReadWhole(cport)) >> port;
    return fleet::testing::RunCli({"agents", "add", absl::StrCat("127.0.0.1:", agent_port_),
                                   "--controller", absl::StrCat("127.0.0.1:", port), "--insecure"});
  };
  auto ok = enrol(ca);
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("with 1 tenants: acme"));
  auto refused = enrol(other);
  EXPECT_EQ(refused.code, 3);
  EXPECT_THAT(refused.err, HasSubstr("cannot enrol"));
}

}  // namespace
}  // namespace fleet
