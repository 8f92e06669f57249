// fleet-agent: its config file, and its service over a real loopback gRPC
// server and real databases.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "agent/agent_config.h"
#include "agent/agent_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/bundle.h"
#include "migrations/dsn.h"
#include "migrations/migrator.h"
#include "proto/convert.h"
#include "tests/testing/postgres.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"
#include "tests/testing/temp_dir.h"

namespace fleet::agent {
namespace {

using ::fleet::testing::Exec;
using ::fleet::testing::Query;
using ::fleet::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const char* FakeEnv(const char* name) {
  if (std::string(name) == "ACME_DSN") return "host=db1 dbname=acme password=from-env";
  return nullptr;
}

TEST(AgentConfigTest, ParsesTenantsByReference) {
  auto c = ParseAgentConfig("agent.toml", R"(
listen = "0.0.0.0:7070"
versions_cache = "/var/lib/fleet"
lock_timeout = "500ms"
max_concurrent_migrations = 8
[[tenants]]
id = "acme"
dsn_env = "ACME_DSN"
labels = { tier = "gold" }
[[tenants]]
id = "globex"
service = "globex"
schema = "tenant_globex"
[[tenants]]
id = "initech"
dsn = "host=db2 dbname=initech user=app"
passfile = "/etc/fleet/pgpass"
)",
                            FakeEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:7070");
  EXPECT_EQ(c->lock_timeout, absl::Milliseconds(500));
  EXPECT_EQ(c->max_concurrent_migrations, 8);
  ASSERT_EQ(c->tenants.size(), 3u);
  EXPECT_EQ(c->tenants[0].dsn, "host=db1 dbname=acme password=from-env");
  EXPECT_EQ(c->tenants[0].dsn_source, "env ACME_DSN");
  EXPECT_EQ(c->tenants[0].labels.at("tier"), "gold");
  EXPECT_EQ(c->tenants[1].dsn, "service='globex'");
  EXPECT_EQ(c->tenants[1].schema, "tenant_globex");
  EXPECT_EQ(c->tenants[2].dsn, "host=db2 dbname=initech user=app passfile='/etc/fleet/pgpass'");
}

TEST(AgentConfigTest, RefusesLiteralPasswordsAndBadTenants) {
  auto err = [](const std::string& tenants) {
    auto c = ParseAgentConfig("agent.toml", "versions_cache = \"/c\"\n" + tenants, FakeEnv);
    EXPECT_FALSE(c.ok());
    return c.ok() ? std::string() : std::string(c.status().message());
  };
  EXPECT_THAT(err("[[tenants]]\nid = \"a\"\ndsn = \"host=h password=hunter2\"\n"),
              HasSubstr("agent.toml: tenant a: dsn holds a literal password"));
  // Misspelt keys are refused, not ignored.
  EXPECT_THAT(err("lock_timout = \"5s\"\n[[tenants]]\nid = \"a\"\ndsn_env = \"ACME_DSN\"\n"),
              HasSubstr("agent.toml: unknown key 'lock_timout' (known: listen, versions_cache"));
  EXPECT_THAT(err("[[tenants]]\nid = \"a\"\ndsn_env = \"ACME_DSN\"\nlabel = { a = \"b\" }\n"),
              HasSubstr("agent.toml: tenant a: unknown key 'label'"));
  EXPECT_THAT(err("[tls]\ncert = \"c\"\nkey = \"k\"\nca = \"a\"\nallowed = [\"x\"]\n"
                  "[[tenants]]\nid = \"a\"\ndsn_env = \"ACME_DSN\"\n"),
              HasSubstr("agent.toml: [tls]: unknown key 'allowed'"));
  EXPECT_THAT(err("[[tenants]]\nid = \"a\"\ndsn = \"postgresql://u:hunter2@h/db\"\n"),
              HasSubstr("or start with --allow-plaintext-password"));
  // libpq's parser decides: '?' and '#' in a URL's password are part of it.
  for (const char* url : {"postgresql://u:hun?ter2@h/db", "postgresql://u:hun#ter2@h/db"}) {
    EXPECT_THAT(err(absl::StrCat("[[tenants]]\nid = \"a\"\ndsn = \"", url, "\"\n")),
                HasSubstr("dsn holds a literal password"))
        << url;
  }
  // A URL libpq would misread is refused without being shown.
  std::string misread = err("[[tenants]]\nid = \"a\"\ndsn = \"postgresql://u:zq/xy@h/db\"\n");
  EXPECT_THAT(misread, HasSubstr("agent.toml: tenant a (dsn): the connection URL holds an '@'"));
  EXPECT_THAT(misread, ::testing::Not(HasSubstr("zq")));
  auto allowed = ParseAgentConfig(
      "agent.toml", "versions_cache = \"/c\"\n[[tenants]]\nid = \"a\"\ndsn = \"host=h password=pw\"\n",
      FakeEnv, /*allow_plaintext_password=*/true);
  EXPECT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_THAT(err("[[tenants]]\nid = \"a\"\ndsn_env = \"NOPE\"\n"),
              HasSubstr("environment variable NOPE is not set"));
  EXPECT_THAT(err("[[tenants]]\nid = \"a'b\"\nservice = \"s\"\n"), HasSubstr("tenant id 'a'b'"));
  EXPECT_THAT(err("[[tenants]]\nid = \"a\"\nservice = \"s\"\n[[tenants]]\nid = \"a\"\nservice = \"s\"\n"),
              HasSubstr("tenant a is listed twice"));
  EXPECT_THAT(err("[[tenants]]\nid = \"a\"\n"), HasSubstr("give exactly one of dsn_env"));
  EXPECT_THAT(err(""), HasSubstr("no [[tenants]]"));
  EXPECT_THAT(err("lock_timeout = \"soon\"\n[[tenants]]\nid = \"a\"\nservice = \"s\"\n"),
              HasSubstr("lock_timeout: expected a duration"));
  auto syntax = ParseAgentConfig("agent.toml", "this is = = not toml", FakeEnv);
  EXPECT_THAT(std::string(syntax.status().message()), HasSubstr("agent.toml:1:"));
}

TEST(AgentConfigTest, APassfileJoinsAUrlAsAQueryParameter) {
  auto c = ParseAgentConfig("agent.toml",
                            "versions_cache = \"/c\"\n[[tenants]]\nid = \"a\"\n"
                            "dsn = \"postgresql://app@db/acme?sslmode=require\"\n"
                            "passfile = \"/etc/fleet/pg pass\"\n",
                            FakeEnv);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tenants[0].dsn,
            "postgresql://app@db/acme?sslmode=require&passfile=%2Fetc%2Ffleet%2Fpg%20pass");
}

TEST(AgentConfigTest, NumbersAreFiniteAndInRangeOrTheKeyIsNamed) {
  const std::string base = "versions_cache = \"/c\"\n";
  for (const char* bad_text :
       {"lock_timeout = nan", "lock_timeout = inf", "lock_timeout = -1", "lock_timeout = \"inf\"",
        "lock_wait = 1e300", "statement_timeout = \"-5s\"", "lock_wait = \"48h\"",
        "retries = 1.5", "retries = -1", "retries = 1000", "retries = \"3\"",
        "max_concurrent_migrations = 0", "max_concurrent_reads = 257",
        "max_concurrent_reads = nan", "max_connections = 0", "max_connections = 5000",
        "connection_idle_timeout = \"0.5s\"", "connection_idle_timeout = nan"}) {
    const std::string bad = bad_text;
    auto c = ParseAgentConfig("agent.toml", base + bad + "\n", FakeEnv);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(c.status())) << bad;
    const std::string key = bad.substr(0, bad.find(' '));
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("agent.toml: " + key)) << bad;
  }
  auto ok = ParseAgentConfig("agent.toml",
                             base + "lock_timeout = 0.5\nretries = 0\nstatement_timeout = \"0s\"\n"
                                    "max_connections = 8\nconnection_idle_timeout = \"5m\"\n"
                                    "[[tenants]]\nid = \"acme\"\ndsn_env = \"ACME_DSN\"\n",
                             FakeEnv);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->lock_timeout, absl::Milliseconds(500));
  EXPECT_EQ(ok->retries, 0);
  EXPECT_EQ(ok->max_connections, 8);
  EXPECT_EQ(ok->connection_idle_timeout, absl::Minutes(5));
}

class AgentServiceTest : public fleet::testing::PostgresTest {
 protected:
  // Serves `config` on a loopback port; returns a stub for it.
  std::unique_ptr<fleet::v1::AgentService::Stub> Serve(const AgentConfig& config) {
    service_ = std::make_unique<AgentServiceImpl>(config, migrations::DefaultFileSystem());
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    return fleet::v1::AgentService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<AgentServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::ostringstream log_stream_;

  // Sends the support-desk example to the agent behind `stub`; returns it.
  fleet::v1::Bundle PushExample(fleet::v1::AgentService::Stub& stub) {
    fleet::v1::Bundle bundle = Example();
    fleet::v1::PutBundleRequest put;
    *put.mutable_bundle() = bundle;
    fleet::v1::PutBundleResponse put_resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    grpc::Status s = stub.PutBundle(&ctx, put, &put_resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return bundle;
  }

  // `n` tenant databases (this test's and n - 1 more), t0..t(n-1) in
  // `config`; their names.
  std::vector<std::string> TenantDatabases(int n, AgentConfig* config) {
    std::vector<std::string> dbs = {name_};
    for (int i = 1; i < n; ++i) dbs.push_back(NewDatabase());
    for (size_t i = 0; i < dbs.size(); ++i) {
      config->tenants.push_back(
          {absl::StrCat("t", i), DsnFor(dbs[i]), "dsn", "", "alembic_version", {}});
    }
    return dbs;
  }

  fleet::v1::Bundle Example() {
    auto files = migrations::ReadBundleFiles(
        migrations::DefaultFileSystem(),
        std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions");
    return proto::BundleToProto(migrations::BundleDigest(*files), *files);
  }
};

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return c;
}

TEST_F(AgentServiceTest, MigrateStreamsEveryStepAndRepeatsSafely) {
  TempDir cache;
  AgentConfig config;
  config.versions_cache = cache.path();
  config.tenants.push_back({"acme", Dsn(), "dsn", "", "alembic_version", {{"tier", "gold"}}});
  // Two tenants as schemas of one database: read over one connection.
  Exec(Dsn(), "CREATE SCHEMA t_one; CREATE SCHEMA t_two");
  config.tenants.push_back({"one", Dsn(), "dsn", "t_one", "alembic_version", {}});
  config.tenants.push_back({"two", Dsn(), "dsn", "t_two", "alembic_version", {}});
  config.tenants.push_back({"gone", Dsn() + " port=1", "dsn", "", "alembic_version", {}});
  auto stub = Serve(config);

  fleet::v1::Bundle bundle = Example();
  auto migrate = [&](const std::string& tenant, bool with_scripts) {
    fleet::v1::MigrateRequest req;
    req.set_tenant_id(tenant);
    req.set_target("heads");
    req.set_direction(fleet::v1::MigrateRequest::UPGRADE);
    req.set_rollout_id("r-1");
    if (with_scripts) {
      *req.mutable_bundle() = bundle;
    } else {
      req.set_bundle_digest(bundle.digest());
    }
    auto ctx = Ctx();
    auto reader = stub->Migrate(ctx.get(), req);
    std::vector<fleet::v1::MigrateEvent> events;
    fleet::v1::MigrateEvent ev;
    while (reader->Read(&ev)) events.push_back(ev);
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return events;
  };
  auto first = migrate("acme", true);
  ASSERT_EQ(first.size(), 19u);  // started + succeeded for 9 revisions, then DONE
  EXPECT_EQ(first[0].kind(), fleet::v1::MigrateEvent::STARTED);
  EXPECT_EQ(first[0].revision(), "1a2b3c4d5e6f");
  EXPECT_EQ(first[1].kind(), fleet::v1::MigrateEvent::SUCCEEDED);
  EXPECT_EQ(first.back().kind(), fleet::v1::MigrateEvent::DONE);
  EXPECT_THAT(first.back().heads(), ElementsAre("9c0d1e2f3041"));
  EXPECT_EQ(Query(Dsn(), "SELECT DISTINCT rollout_id FROM fleet_migration_log")[0][0], "r-1");
  // Repeating it is safe: the bundle is cached, the tenant answers "nothing to do".
  auto again = migrate("acme", false);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].kind(), fleet::v1::MigrateEvent::NOTHING_TO_DO);
  migrate("one", false);

  fleet::v1::ListTenantsRequest list;
  list.set_bundle_digest(bundle.digest());
  fleet::v1::ListTenantsResponse tenants;
  ASSERT_TRUE(stub->ListTenants(Ctx().get(), list, &tenants).ok());
  ASSERT_EQ(tenants.tenants_size(), 4);
  std::map<std::string, fleet::v1::TenantState> by_id;
  for (const auto& t : tenants.tenants()) by_id[t.id()] = t;
  EXPECT_THAT(by_id["acme"].heads(), ElementsAre("9c0d1e2f3041"));
  EXPECT_EQ(by_id["acme"].labels().at("tier"), "gold");
  EXPECT_EQ(by_id["acme"].last_migration().outcome(), "ok");
  EXPECT_THAT(by_id["one"].heads(), ElementsAre("9c0d1e2f3041"));
  EXPECT_TRUE(by_id["two"].heads().empty());
  EXPECT_TRUE(by_id["two"].error().empty());
  EXPECT_THAT(by_id["gone"].error(), HasSubstr("cannot connect"));

  fleet::v1::VerifyRequest verify;
  verify.set_tenant_id("acme");
  verify.set_bundle_digest(bundle.digest());
  fleet::v1::VerifyResponse verified;
  ASSERT_TRUE(stub->Verify(Ctx().get(), verify, &verified).ok());
  EXPECT_TRUE(verified.ok());

  fleet::v1::StampRequest stamp;
  stamp.set_tenant_id("two");
  stamp.add_revisions("4d5e6f708192");
  stamp.set_bundle_digest(bundle.digest());
  fleet::v1::StampResponse stamped;
  ASSERT_TRUE(stub->Stamp(Ctx().get(), stamp, &stamped).ok());
  EXPECT_THAT(stamped.heads(), ElementsAre("4d5e6f708192"));
  server_->Shutdown();
}

}  // namespace
}  // namespace fleet::agent

namespace fleet::agent {
namespace {

TEST_F(AgentServiceTest, ACallerThatGoesAwayCancelsItsMigration) {
  TempDir cache, versions;
  std::ofstream(versions.path() + "/a1.sql")
      << fleet::testing::ScriptText("a1", "", "CREATE TABLE first (id int);", "DROP TABLE first;");
  std::ofstream(versions.path() + "/b2.sql")
      << fleet::testing::ScriptText("b2", "a1", "CREATE TABLE second (id int);\nSELECT pg_sleep(60);",
                                    "DROP TABLE second;");
  auto files = migrations::ReadBundleFiles(migrations::DefaultFileSystem(), versions.path());
  ASSERT_TRUE(files.ok()) << files.status();
  fleet::v1::Bundle bundle = proto::BundleToProto(migrations::BundleDigest(*files), *files);
  AgentConfig config;
  config.versions_cache = cache.path();
  config.tenants.push_back({"acme", Dsn(), "dsn", "", "alembic_version", {}});
  auto stub = Serve(config);

  fleet::v1::MigrateRequest req;
  req.set_tenant_id("acme");
  req.set_target("heads");
  req.set_direction(fleet::v1::MigrateRequest::UPGRADE);
  *req.mutable_bundle() = bundle;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
  auto reader = stub->Migrate(&ctx, req);
  fleet::v1::MigrateEvent ev;
  while (reader->Read(&ev)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The sleeping revision is cancelled on the server and rolled back; the
  // first one stays applied.
  EXPECT_TRUE(fleet::testing::WaitFor([&] {
    return Query(Dsn(), "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' "
                        "AND pid <> pg_backend_pid()")[0][0] == "0";
  }, std::chrono::seconds(10)));
  EXPECT_TRUE(fleet::testing::WaitFor([&] {
    return Query(Dsn(), "SELECT string_agg(version_num, ',') FROM alembic_version")[0][0] == "a1";
  }, std::chrono::seconds(10)));
  EXPECT_EQ(Query(Dsn(), "SELECT to_regclass('second') IS NULL")[0][0], "t");
}

// The controller's whole path for a tenant — a poll with the drift check,
// the migration with its read-back, the bake's read and verify, the next
// poll — costs one PostgreSQL session per tenant database, and the heads of
// the final event are the tenant's.
TEST_F(AgentServiceTest, ATenantPolledMigratedAndReadBackCostsOneSession) {
  TempDir cache;
  AgentConfig config;
  config.versions_cache = cache.path();
  std::vector<std::string> dbs = TenantDatabases(6, &config);
  auto stub = Serve(config);
  fleet::v1::Bundle bundle = PushExample(*stub);

  fleet::v1::ListTenantsRequest list;
  list.set_bundle_digest(bundle.digest());
  fleet::v1::ListTenantsResponse listed;
  ASSERT_TRUE(stub->ListTenants(Ctx().get(), list, &listed).ok());
  for (const auto& t : config.tenants) {
    fleet::v1::MigrateRequest req;
    req.set_tenant_id(t.id);
    req.set_target("heads");
    req.set_direction(fleet::v1::MigrateRequest::UPGRADE);
    req.set_bundle_digest(bundle.digest());
    auto ctx = Ctx();
    auto reader = stub->Migrate(ctx.get(), req);
    fleet::v1::MigrateEvent ev, last;
    while (reader->Read(&ev)) last = ev;
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(last.kind(), fleet::v1::MigrateEvent::DONE);
    EXPECT_THAT(last.heads(), ElementsAre("9c0d1e2f3041"));

    fleet::v1::GetTenantRequest get;
    get.set_tenant_id(t.id);
    get.set_bundle_digest(bundle.digest());
    fleet::v1::TenantState state;
    ASSERT_TRUE(stub->GetTenant(Ctx().get(), get, &state).ok());
    EXPECT_THAT(state.heads(), ElementsAre("9c0d1e2f3041"));
    fleet::v1::VerifyRequest verify;
    verify.set_tenant_id(t.id);
    verify.set_bundle_digest(bundle.digest());
    fleet::v1::VerifyResponse verified;
    ASSERT_TRUE(stub->Verify(Ctx().get(), verify, &verified).ok());
    EXPECT_TRUE(verified.ok());
  }
  ASSERT_TRUE(stub->ListTenants(Ctx().get(), list, &listed).ok());
  migrations::ConnectionPoolStats stats = service_->connection_stats();
  EXPECT_EQ(stats.opened, static_cast<int64_t>(dbs.size()));
  EXPECT_EQ(stats.idle, static_cast<int>(dbs.size()));
  server_->Shutdown();
}

// Polls and migrations at once, over more databases than connections: the
// server never sees more sessions of this agent than max_connections, and
// every call still succeeds (callers wait for a free connection).
TEST_F(AgentServiceTest, ThePoolNeverHoldsMoreConnectionsThanItsBudget) {
  TempDir cache;
  AgentConfig config;
  config.versions_cache = cache.path();
  config.max_connections = 2;
  config.max_concurrent_reads = 4;
  std::vector<std::string> dbs = TenantDatabases(6, &config);
  std::string list;
  for (size_t i = 0; i < dbs.size(); ++i) absl::StrAppend(&list, i ? "," : "", "'", dbs[i], "'");
  auto stub = Serve(config);
  fleet::v1::Bundle bundle = PushExample(*stub);

  std::atomic<bool> done{false};
  std::atomic<int> peak{0};
  std::thread sampler([&] {
    pqxx::connection c(admin_);
    const std::string sql =
        absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE datname IN (", list, ")");
    while (!done) {
      pqxx::nontransaction tx(c);
      peak = std::max(peak.load(), tx.exec(sql)[0][0].as<int>());
    }
  });
  std::atomic<int> failed{0};
  std::vector<std::thread> callers;
  for (int p = 0; p < 3; ++p) {
    callers.emplace_back([&] {
      fleet::v1::ListTenantsRequest req;
      req.set_bundle_digest(bundle.digest());
      fleet::v1::ListTenantsResponse resp;
      grpc::Status s = stub->ListTenants(Ctx().get(), req, &resp);
      if (!s.ok()) ++failed;
      for (const auto& t : resp.tenants()) failed += !t.error().empty();
    });
  }
  for (const auto& t : config.tenants) {
    callers.emplace_back([&, id = t.id] {
      fleet::v1::MigrateRequest req;
      req.set_tenant_id(id);
      req.set_target("heads");
      req.set_direction(fleet::v1::MigrateRequest::UPGRADE);
      req.set_bundle_digest(bundle.digest());
      auto ctx = Ctx();
      auto reader = stub->Migrate(ctx.get(), req);
      fleet::v1::MigrateEvent ev;
      while (reader->Read(&ev)) {
      }
      if (!reader->Finish().ok()) ++failed;
    });
  }
  for (auto& c : callers) c.join();
  done = true;
  sampler.join();
  EXPECT_EQ(failed, 0);
  EXPECT_GT(peak, 0);
  // The pool's own count is exact. The server's lags: a session the pool
  // closed to make room (PQfinish does not wait) still shows while its
  // backend exits, so a sample may see up to one more per closed session;
  // once they have exited, no more than the budget is left.
  const auto stats = service_->connection_stats();
  EXPECT_LE(stats.peak_open, 2);
  EXPECT_LE(peak, 2 + stats.closed);
  EXPECT_TRUE(fleet::testing::WaitFor([&] {
    return std::stoi(Query(admin_, absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE "
                                                "datname IN (", list, ")"))[0][0]) <= 2;
  }));
  server_->Shutdown();
}

// A cached bundle that no longer checks out (a crash, a disk error, a hand)
// is removed and reported missing, with the marker that makes the
// controller send it again; the next PutBundle makes the agent whole.
TEST_F(AgentServiceTest, ADamagedCacheEntryIsRemovedAndFetchedAgain) {
  TempDir cache;
  AgentConfig config;
  config.versions_cache = cache.path();
  config.tenants.push_back({"acme", Dsn(), "dsn", "", "alembic_version", {}});
  auto stub = Serve(config);
  fleet::v1::Bundle bundle = Example();
  fleet::v1::PutBundleRequest put;
  *put.mutable_bundle() = bundle;
  fleet::v1::PutBundleResponse put_resp;
  ASSERT_TRUE(stub->PutBundle(Ctx().get(), put, &put_resp).ok());
  // Nothing half-written stays behind: only the published entry.
  std::vector<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(cache.path())) {
    entries.push_back(e.path().filename().string());
  }
  EXPECT_THAT(entries, ElementsAre(bundle.digest()));
  // A restarted agent (empty memory) finds a damaged file in its cache.
  server_->Shutdown();
  std::ofstream(cache.path() + "/" + bundle.digest() + "/" + bundle.files(0).filename(),
                std::ios::app)
      << "-- tampered\n";
  stub = Serve(config);
  fleet::v1::GetTenantRequest get;
  get.set_tenant_id("acme");
  get.set_bundle_digest(bundle.digest());
  fleet::v1::TenantState state;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status missing = stub->GetTenant(&ctx, get, &state);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing.error_message(), HasSubstr("was damaged in this agent's cache and was removed"));
  auto marker = ctx.GetServerTrailingMetadata().find("fleet-bundle-missing");
  ASSERT_NE(marker, ctx.GetServerTrailingMetadata().end());
  EXPECT_EQ(std::string(marker->second.data(), marker->second.size()), bundle.digest());
  EXPECT_FALSE(std::filesystem::exists(cache.path() + "/" + bundle.digest()));
  // Listing says so too, and reports this process's instance id.
  fleet::v1::ListTenantsRequest list;
  list.set_bundle_digest(bundle.digest());
  fleet::v1::ListTenantsResponse listed;
  ASSERT_TRUE(stub->ListTenants(Ctx().get(), list, &listed).ok());
  EXPECT_TRUE(listed.bundle_missing());
  EXPECT_EQ(listed.instance_id().size(), 16u);
  // Sent again, it is whole and used.
  ASSERT_TRUE(stub->PutBundle(Ctx().get(), put, &put_resp).ok());
  ASSERT_TRUE(stub->GetTenant(Ctx().get(), get, &state).ok());
  ASSERT_TRUE(stub->ListTenants(Ctx().get(), list, &listed).ok());
  EXPECT_FALSE(listed.bundle_missing());
}

// A password of every printable character, written every way a user may
// write it (key=value, a URL raw, a URL percent-encoded), goes through
// libpq's parser, the agent's config and every agent call that fails on
// its tenant, and none of it comes back: not in a reply, an error or a log
// line. The password's three pieces are searched for separately, so that
// a string cut in the wrong place is caught too.
TEST_F(AgentServiceTest, NoPasswordOfAnyPrintableCharacterLeavesTheAgent) {
  const std::vector<std::string> pieces = {"Qz7", "Kw9", "Vt4"};
  auto password = [&](char c) { return absl::StrCat(pieces[0], std::string(1, c), pieces[1],
                                                    std::string(1, c), pieces[2]); };
  auto percent = [](const std::string& v) {
    std::string out;
    for (unsigned char ch : v) out += absl::StrFormat("%%%02X", ch);
    return out;
  };
  auto toml_string = [](const std::string& v) {
    std::string out = "\"";
    for (char ch : v) {
      if (ch == '"' || ch == '\\') out.push_back('\\');
      out.push_back(ch);
    }
    return out + "\"";
  };
  std::string output;  // everything that left: errors, replies, log lines
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_stream_);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("agent-test", sink));

  TempDir cache;
  std::string toml = absl::StrCat("versions_cache = ", toml_string(cache.path()), "\n");
  int accepted = 0;
  for (char c = 0x20; c < 0x7f; ++c) {
    const std::string pw = password(c);
    std::string kv_value;
    for (char ch : pw) {
      if (ch == '\\' || ch == '\'') kv_value.push_back('\\');
      kv_value.push_back(ch);
    }
    const std::vector<std::string> forms = {
        absl::StrCat("host=127.0.0.1 port=1 user=u dbname=d password='", kv_value, "'"),
        absl::StrCat("postgresql://u:", percent(pw), "@127.0.0.1:1/d"),
        absl::StrCat("postgresql://u:", pw, "@127.0.0.1:1/d")};
    for (size_t f = 0; f < forms.size(); ++f) {
      const std::string& dsn = forms[f];
      const std::string id = absl::StrFormat("t-%02x-%d", c, f);
      std::string one = absl::StrCat("versions_cache = \"/c\"\n[[tenants]]\nid = \"", id,
                                     "\"\ndsn = ", toml_string(dsn), "\n");
      // Refused in a file without the flag, accepted (or refused as
      // unreadable) with it; either way the message keeps the secret.
      auto refused = ParseAgentConfig("agent.toml", one, FakeEnv, false);
      ASSERT_FALSE(refused.ok()) << dsn;
      output += std::string(refused.status().message()) + "\n";
      auto single = ParseAgentConfig("agent.toml", one, FakeEnv, true);
      if (!single.ok()) {
        output += std::string(single.status().message()) + "\n";
        continue;
      }
      EXPECT_EQ(migrations::DsnPassword(dsn), pw) << "form " << f << " of " << c;
      output += migrations::ConnectionName(dsn) + "\n";
      absl::StrAppend(&toml, "[[tenants]]\nid = \"", id, "\"\ndsn = ", toml_string(dsn), "\n");
      ++accepted;
    }
  }
  // Every key=value and percent-encoded form works; raw URLs only where
  // libpq reads them so.
  EXPECT_GE(accepted, 2 * (0x7f - 0x20));
  auto config = ParseAgentConfig("agent.toml", toml, FakeEnv, true);
  ASSERT_TRUE(config.ok()) << config.status();
  auto stub = Serve(*config);
  fleet::v1::Bundle bundle = Example();
  auto record = [&](const grpc::Status& s, const google::protobuf::Message& reply) {
    output += s.error_message() + "\n" + reply.DebugString() + "\n";
  };
  fleet::v1::PutBundleRequest put;
  *put.mutable_bundle() = bundle;
  fleet::v1::PutBundleResponse put_resp;
  ASSERT_TRUE(stub->PutBundle(Ctx().get(), put, &put_resp).ok());
  fleet::v1::ListTenantsRequest list;
  list.set_bundle_digest(bundle.digest());
  fleet::v1::ListTenantsResponse listed;
  record(stub->ListTenants(Ctx().get(), list, &listed), listed);
  for (const auto& t : listed.tenants()) EXPECT_FALSE(t.error().empty()) << t.id();
  for (const auto& t : config->tenants) {
    fleet::v1::GetTenantRequest get;
    get.set_tenant_id(t.id);
    fleet::v1::TenantState state;
    record(stub->GetTenant(Ctx().get(), get, &state), state);
    fleet::v1::MigrateRequest migrate;
    migrate.set_tenant_id(t.id);
    migrate.set_target("heads");
    migrate.set_direction(fleet::v1::MigrateRequest::UPGRADE);
    migrate.set_bundle_digest(bundle.digest());
    auto ctx = Ctx();
    auto reader = stub->Migrate(ctx.get(), migrate);
    fleet::v1::MigrateEvent event;
    while (reader->Read(&event)) output += event.DebugString();
    record(reader->Finish(), event);
    fleet::v1::VerifyRequest verify;
    verify.set_tenant_id(t.id);
    verify.set_bundle_digest(bundle.digest());
    fleet::v1::VerifyResponse verified;
    record(stub->Verify(Ctx().get(), verify, &verified), verified);
    fleet::v1::DiffTenantRequest diff;
    diff.set_tenant_id(t.id);
    diff.set_bundle_digest(bundle.digest());
    fleet::v1::DiffTenantResponse diffed;
    record(stub->DiffTenant(Ctx().get(), diff, &diffed), diffed);
    fleet::v1::StampRequest stamp;
    stamp.set_tenant_id(t.id);
    stamp.add_revisions("heads");
    stamp.set_bundle_digest(bundle.digest());
    fleet::v1::StampResponse stamped;
    record(stub->Stamp(Ctx().get(), stamp, &stamped), stamped);
  }
  spdlog::set_default_logger(previous);
  output += log_stream_.str();
  EXPECT_THAT(output, HasSubstr("cannot connect to u@127.0.0.1:1/d"));  // the calls did fail
  for (const std::string& piece : pieces) {
    size_t at = output.find(piece);
    EXPECT_EQ(at, std::string::npos)
        << piece << " leaked: ..." << output.substr(at == std::string::npos ? 0 : (at > 200 ? at - 200 : 0), 400);
  }
}

// A hung database holds nobody: a server that accepts the connection and
// never answers is given up after connect_timeout, and a read blocked by a
// lock after read_timeout; each tenant's error says which.
TEST_F(AgentServiceTest, AHungDatabaseIsGivenUpOnNotWaitedForForever) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 16), 0);  // the kernel accepts; nobody ever answers
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int silent_port = ntohs(addr.sin_port);

  ASSERT_TRUE(migrations::Migrator(*migrations::RevisionGraph::Build({}).value(),
                                   [&] {
                                     migrations::MigratorOptions o;
                                     o.dsn = Dsn();
                                     return o;
                                   }())
                  .Stamp({"base"}, true)
                  .ok());
  pqxx::connection holder(Dsn());
  pqxx::work lock(holder);
  lock.exec("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE");

  TempDir cache;
  AgentConfig config;
  config.versions_cache = cache.path();
  config.connect_timeout = absl::Seconds(2);
  config.read_timeout = absl::Seconds(1);
  config.tenants.push_back({"silent",
                            absl::StrCat("host=127.0.0.1 port=", silent_port,
                                         " user=u dbname=d"),
                            "dsn", "", "alembic_version", {}});
  config.tenants.push_back({"locked", Dsn(), "dsn", "", "alembic_version", {}});
  auto stub = Serve(config);
  fleet::v1::ListTenantsResponse listed;
  absl::Time start = absl::Now();
  ASSERT_TRUE(stub->ListTenants(Ctx().get(), {}, &listed).ok());
  // Bounded by the timeouts, with room for a loaded machine; without them
  // this call would not return while the lock is held.
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  ASSERT_EQ(listed.tenants_size(), 2);
  std::map<std::string, std::string> errors;
  for (const auto& t : listed.tenants()) errors[t.id()] = t.error();
  EXPECT_THAT(errors["silent"], HasSubstr("cannot connect to u@127.0.0.1:"));
  EXPECT_THAT(errors["silent"], HasSubstr("timeout expired"));
  EXPECT_THAT(errors["locked"], HasSubstr("statement timeout"));
  lock.abort();
  close(listener);
}

}  // namespace
}  // namespace fleet::agent
