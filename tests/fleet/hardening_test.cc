// The hardening issue's acceptance, with real processes: a script that
// would escape its transaction is refused at push and at upgrade, naming
// its file and line, before anything runs; an unauthenticated push costs
// the controller no memory; scrapes of /metrics read no script.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/bundle.h"
#include "migrations/script.h"
#include "proto/convert.h"
#include "tests/testing/fleet_harness.h"
#include "tests/testing/push.h"

namespace fleet {
namespace {

using ::fleet::testing::Query;
using ::fleet::testing::ReadWhole;
using ::testing::HasSubstr;

// The largest resident size `pid` reached since the last ResetPeak (kB).
int64_t PeakKb(pid_t pid) {
  std::string status = ReadWhole(absl::StrCat("/proc/", pid, "/status"));
  size_t at = status.find("VmHWM:");
  int64_t kb = -1;
  if (at != std::string::npos) {
    std::string value = status.substr(at + 6, status.find('\n', at) - at - 6);
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(
                                     absl::StripAsciiWhitespace(value), "kB")),
                                 &kb))
        << value;
  }
  return kb;
}

// Resets the peak to the current size (Linux 4.0+).
void ResetPeak(pid_t pid) { std::ofstream(absl::StrCat("/proc/", pid, "/clear_refs")) << "5"; }

class HardeningTest : public fleet::testing::FleetHarness {
 protected:
  // A controller that checks callers: the operator's token is "op-token".
  std::unique_ptr<fleet::testing::Process> StartCheckingController() {
    std::string auth = dir_.path() + "/auth.toml";
    std::ofstream(auth) << "[[tokens]]\nname = \"ci\"\nrole = \"operator\"\nsha256 = \""
                        << migrations::Sha256Hex("op-token") << "\"\n";
    std::string port_file = dir_.path() + "/controller.port";
    std::remove(port_file.c_str());
    auto p = std::make_unique<fleet::testing::Process>(std::vector<std::string>{
        FLEET_CONTROLLER_PATH, "--insecure", "--db", dir_.path() + "/fleet.sqlite", "--listen",
        "127.0.0.1:0", "--http", "127.0.0.1:0", "--poll-interval", "300ms", "--auth", auth,
        "--port-file", port_file});
    EXPECT_TRUE(fleet::testing::WaitFor([&] { return !ReadWhole(port_file).empty(); }))
        << p->Err();
    std::istringstream(ReadWhole(port_file)) >> grpc_port_ >> http_port_;
    controller_ = absl::StrCat("127.0.0.1:", grpc_port_);
    std::ofstream(dir_.path() + "/op.token") << "op-token\n";
    return p;
  }

  // `n` scripts of about `bytes` each: a chain of revisions, mostly comment.
  std::string BigVersions(int n, size_t bytes) {
    std::string dir = dir_.path() + "/big";
    std::filesystem::create_directories(dir);
    std::string filler;
    while (filler.size() + 80 < bytes) filler += "-- " + std::string(76, 'x') + "\n";
    for (int i = 0; i < n; ++i) {
      std::string id = absl::StrFormat("b%011d", i);
      std::string down = i == 0 ? "" : absl::StrFormat("b%011d", i - 1);
      std::ofstream(absl::StrCat(dir, "/", id, "_big.sql"))
          << "-- revision: " << id << "\n-- down_revision: " << down
          << "\n-- migrate:upgrade\nSELECT 1;\n" << filler
          << "-- migrate:downgrade\nSELECT 1;\n";
    }
    return dir;
  }
};

TEST_F(HardeningTest, AScriptThatWouldEscapeItsTransactionIsRefusedBeforeItRuns) {
  std::string versions = dir_.path() + "/escape";
  std::filesystem::create_directories(versions);
  std::ofstream(versions + "/aaaa00000001_escape.sql")
      << "-- revision: aaaa00000001\n-- down_revision:\n-- migrate:upgrade\n"
         "CREATE TABLE escaped (x int);\nCOMMIT;\nSELECT 1/0;\n"
         "-- migrate:downgrade\nDROP TABLE escaped;\n";
  // At upgrade: refused while reading the scripts; the database untouched.
  const std::string dsn = DsnFor(NewDatabase());
  auto upgrade = fleet::testing::RunCli({"upgrade", "heads", "--dir", versions, "--dsn", dsn});
  EXPECT_NE(upgrade.code, 0);
  EXPECT_THAT(upgrade.err, HasSubstr("aaaa00000001_escape.sql:5: COMMIT in the upgrade section"));
  EXPECT_EQ(Query(dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0], "0");
  // At push: the controller parses the bundle and refuses it, naming it.
  auto controller = StartController();
  auto push = Cli({"bundle", "push", versions});
  EXPECT_NE(push.code, 0);
  EXPECT_THAT(push.err, HasSubstr("aaaa00000001_escape.sql:5: COMMIT in the upgrade section"));
  EXPECT_EQ(Cli({"bundle", "list", "-o", "json"}).out.find("aaaa"), std::string::npos);
}

TEST_F(HardeningTest, AnUnauthenticatedPushCostsTheControllerNothing) {
  auto controller = StartCheckingController();
  auto channel = grpc::CreateChannel(controller_, grpc::InsecureChannelCredentials());
  auto stub = fleet::v1::ControllerService::NewStub(channel);
  // 100 MB of scripts, in pieces as fleetctl sends them, without a token.
  std::string versions = BigVersions(25, 4000000);
  auto files = migrations::ReadBundleFiles(migrations::DefaultFileSystem(), versions);
  ASSERT_TRUE(files.ok()) << files.status();
  auto pieces = proto::BundlePieces(migrations::BundleDigest(*files), *files);
  // Settled, then measured from here.
  ASSERT_EQ(Cli({"agents", "list", "--token-file", dir_.path() + "/op.token"}).code, 0);
  ResetPeak(controller->pid());
  const int64_t before = PeakKb(controller->pid());
  ASSERT_GT(before, 0);
  for (int round = 0; round < 3; ++round) {
    grpc::ClientContext ctx;
    fleet::v1::PushBundleResponse resp;
    grpc::Status s = fleet::testing::PushPieces(*stub, &ctx, pieces, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  // The whole bundle as one message, and a 100 MB request to a unary method:
  // refused on the metadata, before the body is read.
  fleet::v1::Bundle whole = proto::BundleToProto(migrations::BundleDigest(*files), *files);
  {
    grpc::ClientContext ctx;
    fleet::v1::PushBundleResponse resp;
    grpc::Status s = fleet::testing::PushPieces(*stub, &ctx, {whole}, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    fleet::v1::StatusRequest req;
    for (int i = 0; i < 25; ++i) req.mutable_selector()->add_ids(std::string(4000000, 'x'));
    fleet::v1::StatusResponse resp;
    grpc::Status s = stub->Status(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  const int64_t grown = PeakKb(controller->pid()) - before;
  EXPECT_LT(grown, 64 * 1024) << "the controller's peak grew by " << grown << " kB";
  // Even an operator's single message is refused past 8 MiB: a bundle comes
  // in pieces.
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer op-token");
  fleet::v1::PushBundleResponse resp;
  grpc::Status s = fleet::testing::PushPieces(*stub, &ctx, {whole}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
}

TEST_F(HardeningTest, ScrapingMetricsReadsNoScript) {
  auto controller = StartCheckingController();
  std::string versions = BigVersions(25, 4000000);
  auto push = Cli({"bundle", "push", versions, "--token-file", dir_.path() + "/op.token",
                   "--timeout", "120"});
  ASSERT_EQ(push.code, 0) << push.err;
  httplib::Client http("127.0.0.1", http_port_);
  ASSERT_TRUE(http.Get("/metrics"));
  ResetPeak(controller->pid());
  const int64_t before = PeakKb(controller->pid());
  std::vector<std::thread> scrapers;
  std::atomic<int> answered{0};
  for (int i = 0; i < 8; ++i) {
    scrapers.emplace_back([&] {
      httplib::Client c("127.0.0.1", http_port_);
      for (int n = 0; n < 5; ++n) {
        auto r = c.Get("/metrics");
        if (r && r->status == 200 &&
            r->body.find("fleet_inventory_bundles 1\n") != std::string::npos) {
          ++answered;
        }
      }
    });
  }
  for (auto& t : scrapers) t.join();
  EXPECT_EQ(answered.load(), 40);
  const int64_t grown = PeakKb(controller->pid()) - before;
  EXPECT_LT(grown, 32 * 1024) << "the controller's peak grew by " << grown << " kB";
}

}  // namespace
}  // namespace fleet
