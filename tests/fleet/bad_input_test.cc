// Every call of both services, and the CLI, fed empty, oversized and
// malformed input: one clear error each, no crash, nothing changed.
#include <grpcpp/grpcpp.h>

#include "agent/agent_service.h"
#include "controller/agent_client.h"
#include "controller/controller_service.h"
#include "controller/fleet_view.h"
#include "controller/inventory.h"
#include "controller/poller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/bundle.h"
#include "proto/convert.h"
#include "tests/cli/cli_test_util.h"
#include "tests/testing/postgres.h"
#include "tests/testing/push.h"

namespace fleet {
namespace {

using ::fleet::testing::Query;
using ::fleet::testing::RunCli;
using ::fleet::testing::TempDir;
using ::testing::HasSubstr;

const std::string kHuge(10 << 20, 'x');  // 10 MB
const std::vector<std::string> kBadIds = {"", "a'b", "a;DROP TABLE x", "\"quoted\"", "sp ace",
                                          "-leading", kHuge};

fleet::v1::Bundle ExampleBundle() {
  auto files = migrations::ReadBundleFiles(migrations::DefaultFileSystem(),
                                           std::string(FLEET_SOURCE_DIR) +
                                               "/examples/support-desk/versions");
  EXPECT_TRUE(files.ok());
  return proto::BundleToProto(migrations::BundleDigest(*files), *files);
}

// A real gRPC server on a loopback port.
template <typename Service>
struct Served {
  explicit Served(Service& service) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.SetMaxReceiveMessageSize(64 << 20);
    b.RegisterService(&service);
    server = b.BuildAndStart();
  }
  ~Served() { server->Shutdown(); }
  std::shared_ptr<grpc::Channel> Channel() {
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(64 << 20);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials(), args);
  }
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return c;
}

class AgentBadInputTest : public fleet::testing::PostgresTest {};

TEST_F(AgentBadInputTest, EveryCallRefusesBadInputAndTouchesNothing) {
  TempDir cache;
  agent::AgentConfig config;
  config.versions_cache = cache.path();
  config.tenants.push_back({"acme", Dsn(), "dsn", "", "alembic_version", {}});
  agent::AgentServiceImpl service(config, migrations::DefaultFileSystem());
  Served<agent::AgentServiceImpl> served(service);
  auto stub = fleet::v1::AgentService::NewStub(served.Channel());
  auto code = [](const grpc::Status& s) { return s.error_code(); };

  for (const std::string& id : kBadIds) {
    fleet::v1::GetTenantRequest req;
    req.set_tenant_id(id);
    fleet::v1::TenantState resp;
    grpc::Status s = stub->GetTenant(Ctx().get(), req, &resp);
    EXPECT_EQ(code(s), grpc::StatusCode::INVALID_ARGUMENT) << id.substr(0, 20) << s.error_message();
  }
  {
    fleet::v1::GetTenantRequest req;
    req.set_tenant_id("nobody");
    fleet::v1::TenantState resp;
    grpc::Status s = stub->GetTenant(Ctx().get(), req, &resp);
    EXPECT_EQ(code(s), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(s.error_message(), HasSubstr("serves no tenant 'nobody'"));
  }
  for (const std::string& digest : {std::string("xyz"), kHuge, std::string(64, 'Z')}) {
    fleet::v1::ListTenantsRequest req;
    req.set_bundle_digest(digest);
    fleet::v1::ListTenantsResponse resp;
    EXPECT_EQ(code(stub->ListTenants(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  fleet::v1::Bundle good = ExampleBundle();
  {
    fleet::v1::PutBundleRequest req;
    fleet::v1::PutBundleResponse resp;
    *req.mutable_bundle() = good;
    req.mutable_bundle()->set_digest(std::string(64, 'a'));
    grpc::Status s = stub->PutBundle(Ctx().get(), req, &resp);
    EXPECT_EQ(code(s), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("bundle digest mismatch"));
    *req.mutable_bundle() = good;
    req.mutable_bundle()->mutable_files(0)->set_content("-- revision: changed\n-- migrate:upgrade\n");
    s = stub->PutBundle(Ctx().get(), req, &resp);
    EXPECT_THAT(s.error_message(), HasSubstr("checksum mismatch"));
    *req.mutable_bundle() = good;
    req.mutable_bundle()->mutable_files(0)->set_filename("../../etc/evil.sql");
    s = stub->PutBundle(Ctx().get(), req, &resp);
    EXPECT_EQ(code(s), grpc::StatusCode::INVALID_ARGUMENT);
    req.mutable_bundle()->clear_files();
    EXPECT_EQ(code(stub->PutBundle(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  auto migrate = [&](const fleet::v1::MigrateRequest& req) {
    auto ctx = Ctx();
    auto reader = stub->Migrate(ctx.get(), req);
    fleet::v1::MigrateEvent ev;
    while (reader->Read(&ev)) {
    }
    return reader->Finish();
  };
  fleet::v1::MigrateRequest base;
  base.set_tenant_id("acme");
  base.set_target("heads");
  base.set_direction(fleet::v1::MigrateRequest::UPGRADE);
  base.set_bundle_digest(good.digest());
  {
    auto r = base;
    r.set_tenant_id("nobody");
    EXPECT_EQ(code(migrate(r)), grpc::StatusCode::NOT_FOUND);
    for (const std::string& target : {std::string(), kHuge, std::string("a\nb")}) {
      r = base;
      r.set_target(target);
      EXPECT_EQ(code(migrate(r)), grpc::StatusCode::INVALID_ARGUMENT);
    }
    r = base;
    r.set_direction(fleet::v1::MigrateRequest::DIRECTION_UNSPECIFIED);
    EXPECT_EQ(code(migrate(r)), grpc::StatusCode::INVALID_ARGUMENT);
    r = base;
    r.clear_bundle_digest();
    EXPECT_EQ(code(migrate(r)), grpc::StatusCode::INVALID_ARGUMENT);
    r = base;  // the digest of a bundle this agent never received
    EXPECT_EQ(code(migrate(r)), grpc::StatusCode::NOT_FOUND);
    r = base;
    r.set_rollout_id(kHuge);
    EXPECT_EQ(code(migrate(r)), grpc::StatusCode::INVALID_ARGUMENT);
    r = base;  // an unknown target, with the scripts: refused by the engine
    *r.mutable_bundle() = good;
    r.set_target("zzzzzzzz");
    grpc::Status s = migrate(r);
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(s.error_message(), HasSubstr("Can't locate revision identified by 'zzzzzzzz'"));
  }
  {
    fleet::v1::StampRequest req;
    req.set_tenant_id("acme");
    req.set_bundle_digest(good.digest());
    fleet::v1::StampResponse resp;
    EXPECT_EQ(code(stub->Stamp(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    for (int i = 0; i < 65; ++i) req.add_revisions("heads");
    EXPECT_EQ(code(stub->Stamp(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    fleet::v1::VerifyRequest req;
    req.set_tenant_id("acme");
    fleet::v1::VerifyResponse resp;
    EXPECT_EQ(code(stub->Verify(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (const std::string& id : kBadIds) {
    fleet::v1::DiffTenantRequest req;
    req.set_tenant_id(id);
    fleet::v1::DiffTenantResponse resp;
    EXPECT_EQ(code(stub->DiffTenant(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (const std::string& against : {kHuge, std::string("a\nb")}) {
    fleet::v1::DiffTenantRequest req;
    req.set_tenant_id("acme");
    req.set_bundle_digest(good.digest());
    req.set_against(against);
    fleet::v1::DiffTenantResponse resp;
    EXPECT_EQ(code(stub->DiffTenant(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    fleet::v1::DiffTenantRequest req;  // no bundle
    req.set_tenant_id("acme");
    fleet::v1::DiffTenantResponse resp;
    EXPECT_EQ(code(stub->DiffTenant(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Nothing reached the database: no version table was ever created.
  EXPECT_EQ(Query(Dsn(), "SELECT to_regclass('alembic_version') IS NULL")[0][0], "t");
}

TEST(ControllerBadInputTest, EveryCallRefusesBadInputAndChangesNothing) {
  TempDir dir;
  auto inventory = controller::OpenSqliteInventory(dir.path() + "/fleet.sqlite");
  ASSERT_TRUE(inventory.ok()) << inventory.status();
  controller::GrpcAgentClient agents(absl::Seconds(2));
  controller::Metrics metrics;
  controller::BundleGraphs graphs(**inventory);
  controller::RealClock clock;
  controller::Poller poller(**inventory, agents, metrics, clock, {});
  controller::RolloutRunner runner(**inventory, agents, graphs, clock, {});
  controller::Authorizer nobody_checked(std::nullopt);
  controller::ControllerServiceImpl service(**inventory, agents, poller, graphs, runner,
                                            nobody_checked);
  Served<controller::ControllerServiceImpl> served(service);
  auto stub = fleet::v1::ControllerService::NewStub(served.Channel());
  auto code = [](const grpc::Status& s) { return s.error_code(); };

  for (const std::string& address : {std::string(), std::string("no-port"), std::string("a'b;c:1"),
                                     std::string("host :1"),
                                     std::string("127.0.0.1:1,10.0.0.1:2"), kHuge}) {
    fleet::v1::AddAgentRequest req;
    req.set_address(address);
    fleet::v1::AddAgentResponse resp;
    EXPECT_EQ(code(stub->AddAgent(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT)
        << address.substr(0, 20);
  }
  {
    fleet::v1::AddAgentRequest req;
    req.set_address("127.0.0.1:1");  // nobody listens there
    fleet::v1::AddAgentResponse resp;
    grpc::Status s = stub->AddAgent(Ctx().get(), req, &resp);
    EXPECT_EQ(code(s), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(s.error_message(), HasSubstr("cannot enrol 127.0.0.1:1"));
    fleet::v1::RemoveAgentRequest rm;
    rm.set_address("127.0.0.1:1");
    fleet::v1::RemoveAgentResponse rm_resp;
    EXPECT_EQ(code(stub->RemoveAgent(Ctx().get(), rm, &rm_resp)), grpc::StatusCode::NOT_FOUND);
  }
  for (const std::string& id : kBadIds) {
    fleet::v1::LabelTenantRequest req;
    req.set_tenant_id(id);
    (*req.mutable_set())["k"] = "v";
    fleet::v1::LabelTenantResponse resp;
    EXPECT_EQ(code(stub->LabelTenant(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    fleet::v1::RemoveTenantRequest rm;
    rm.set_tenant_id(id);
    fleet::v1::RemoveTenantResponse rm_resp;
    EXPECT_EQ(code(stub->RemoveTenant(Ctx().get(), rm, &rm_resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    fleet::v1::LabelTenantRequest req;
    req.set_tenant_id("nobody");
    (*req.mutable_set())["k"] = kHuge;
    fleet::v1::LabelTenantResponse resp;
    EXPECT_EQ(code(stub->LabelTenant(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    req.clear_set();
    (*req.mutable_set())["k"] = "v";
    EXPECT_EQ(code(stub->LabelTenant(Ctx().get(), req, &resp)), grpc::StatusCode::NOT_FOUND);
    req.clear_set();
    EXPECT_EQ(code(stub->LabelTenant(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    fleet::v1::Bundle bundle = ExampleBundle();
    bundle.set_digest(std::string(64, 'b'));
    fleet::v1::PushBundleResponse resp;
    grpc::Status s = fleet::testing::PushPieces(*stub, Ctx().get(), {bundle}, &resp);
    EXPECT_EQ(code(s), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("bundle digest mismatch"));
    bundle.set_digest(kHuge);
    EXPECT_EQ(code(fleet::testing::PushPieces(*stub, Ctx().get(), {bundle}, &resp)),
              grpc::StatusCode::INVALID_ARGUMENT);
    // Pieces that disagree on the digest.
    fleet::v1::Bundle other = ExampleBundle();
    other.set_digest(std::string(64, 'c'));
    s = fleet::testing::PushPieces(*stub, Ctx().get(), {ExampleBundle(), other}, &resp);
    EXPECT_EQ(code(s), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("every piece of a pushed bundle names one digest"));
  }
  for (const std::string& id : kBadIds) {
    fleet::v1::TenantDiffRequest req;
    req.set_tenant_id(id);
    fleet::v1::TenantDiffResponse resp;
    EXPECT_EQ(code(stub->TenantDiff(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    fleet::v1::TenantDiffRequest req;
    req.set_tenant_id("acme");
    req.set_against(kHuge);
    fleet::v1::TenantDiffResponse resp;
    EXPECT_EQ(code(stub->TenantDiff(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  for (const std::string& d : {std::string("zz"), std::string("zzzzzzzzzz"), kHuge}) {
    fleet::v1::GetBundleRequest req;
    req.set_digest(d);
    fleet::v1::GetBundleResponse resp;
    EXPECT_EQ(code(stub->GetBundle(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    fleet::v1::GetBundleRequest req;
    req.set_digest("0123456789abcdef");
    fleet::v1::GetBundleResponse resp;
    EXPECT_EQ(code(stub->GetBundle(Ctx().get(), req, &resp)), grpc::StatusCode::NOT_FOUND);
  }
  {
    fleet::v1::StatusRequest req;
    (*req.mutable_selector()->mutable_match_labels())["bad key"] = "v";
    fleet::v1::StatusResponse resp;
    EXPECT_EQ(code(stub->Status(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
    req.mutable_selector()->clear_match_labels();
    req.mutable_selector()->add_ids("a'b");
    EXPECT_EQ(code(stub->Status(Ctx().get(), req, &resp)), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // The inventory is as empty as it started.
  EXPECT_TRUE((*inventory)->ListAgents()->empty());
  EXPECT_TRUE((*inventory)->ListTenants()->empty());
  EXPECT_TRUE((*inventory)->ListBundles()->empty());
}

TEST(FleetCliBadInputTest, UsageErrorsAndAnUnreachableController) {
  unsetenv("FLEET_CONTROLLER");
  auto none = RunCli({"status"});
  EXPECT_EQ(none.code, cli::kExitUsage);
  EXPECT_THAT(none.err, HasSubstr("no controller given: pass --controller HOST:PORT or set "
                                  "FLEET_CONTROLLER"));
  const std::string c = "127.0.0.1:1";
  EXPECT_EQ(RunCli({"status", "--controller", c, "--selector", "novalue"}).code, cli::kExitUsage);
  EXPECT_EQ(RunCli({"status", "--controller", c, "--sort", "colour"}).code, cli::kExitUsage);
  EXPECT_EQ(RunCli({"agents", "add", "a'b;c", "--controller", c}).code, cli::kExitUsage);
  EXPECT_EQ(RunCli({"agents", "frob", "--controller", c}).code, cli::kExitUsage);
  EXPECT_EQ(RunCli({"tenants", "label", "acme", "nonsense", "--controller", c}).code, cli::kExitUsage);
  EXPECT_EQ(RunCli({"tenants", "remove", "a'b", "--controller", c}).code, cli::kExitUsage);
  auto down = RunCli({"status", "--controller", c, "--timeout", "2"});
  EXPECT_EQ(down.code, cli::kExitFailed);
  EXPECT_THAT(down.err, HasSubstr("(controller 127.0.0.1:1, TLS)"));
}

}  // namespace
}  // namespace fleet
