// The rollout core under interleavings, in milliseconds: the real service,
// runner, poller and SQLite inventory, with the shared fakes for the agents
// (block inside Migrate, fail, be unreachable, lose the cache) and the
// clock (bakes and backoffs move only when the test says). Each race of the
// issue — pause while the last tenant of a wave migrates, abort during a
// bake, rollback during a halt, a failed inventory write — is a sequence.
#include <grpcpp/grpcpp.h>

#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controller/agent_client.h"
#include "controller/auth.h"
#include "controller/controller_service.h"
#include "controller/metrics.h"
#include "controller/poller.h"
#include "controller/rollout_plan.h"
#include "controller/rollout_runner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/bundle.h"
#include "proto/convert.h"
#include "proto/states.h"
#include "tests/testing/fake_agent_client.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/faulty_inventory.h"
#include "tests/testing/push.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait.h"

namespace fleet::controller {
namespace {

namespace v1 = fleet::v1;
using ::fleet::testing::FakeAgentClient;
using ::fleet::testing::FakeClock;
using ::fleet::testing::FaultyInventory;
using ::fleet::testing::ScriptText;
using ::fleet::testing::TempDir;
using ::fleet::testing::WaitFor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// `agents`, following bundles kept in `inventory` (as the controller's main does).
AgentClient& FollowingBundles(AgentClient& agents, Inventory& inventory) {
  agents.FollowBundles(inventory);
  return agents;
}

constexpr char kAgent[] = "127.0.0.1:1";

class RunnerTest : public ::testing::Test {
 protected:
  RunnerTest() {
    RolloutRunner::Options options;
    options.retry_backoff = absl::Seconds(1);
    options.recheck = absl::Hours(1);  // bakes wake on the clock or an action only
    options.metrics = &metrics_;
    options.at_point = [this](std::string_view point, const std::string&) {
      std::function<void()> hook;
      {
        std::lock_guard<std::mutex> lock(mu_);
        points_.emplace_back(point);
        if (auto it = at_.find(std::string(point)); it != at_.end()) {
          hook = std::move(it->second);
          at_.erase(it);
        }
      }
      if (hook) hook();
    };
    runner_ = std::make_unique<RolloutRunner>(inventory_, agents_, graphs_, clock_, options);
    service_ = std::make_unique<ControllerServiceImpl>(inventory_, agents_, poller_, graphs_,
                                                       *runner_, auth_);
    grpc::ServerBuilder builder;
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = v1::ControllerService::NewStub(server_->InProcessChannel({}));
  }
  ~RunnerTest() override {
    runner_->Stop();
    server_->Shutdown();
  }

  // Revisions a <- b <- c; tenants t0..t(n-1) at `heads` on one agent.
  void SetUpFleet(int tenants, std::vector<std::string> heads = {"a"}) {
    TempDir versions;
    versions.Write("a_a.sql", ScriptText("a", "", "SELECT 1;", "SELECT 1;"));
    versions.Write("b_b.sql", ScriptText("b", "a", "SELECT 2;", "SELECT 2;"));
    versions.Write("c_c.sql", ScriptText("c", "b", "SELECT 3;", "SELECT 3;"));
    auto files = migrations::ReadBundleFiles(migrations::DefaultFileSystem(), versions.path());
    ASSERT_TRUE(files.ok()) << files.status();
    v1::PushBundleResponse pushed;
    grpc::ClientContext push_ctx;
    ASSERT_TRUE(fleet::testing::PushPieces(
                    *stub_, &push_ctx,
                    proto::BundlePieces(migrations::BundleDigest(*files), *files, 64), &pushed)
                    .ok());
    digest_ = pushed.bundle().digest();
    for (int i = 0; i < tenants; ++i) fake_.AddTenant(kAgent, absl::StrCat("t", i), heads);
    v1::AddAgentRequest add;
    add.set_address(kAgent);
    v1::AddAgentResponse added;
    grpc::Status s = Call(&v1::ControllerService::Stub::AddAgent, add, &added);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (v1::ControllerService::Stub::*method)(grpc::ClientContext*,
                                                                         const Req&, Resp*),
                    const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ((*stub_).*method)(&ctx, req, resp);
  }

  // Starts a rollout to `target` with `canary` and `waves`; its id.
  std::string Start(const std::string& target, v1::RolloutSpec spec = {}) {
    spec.set_target(target);
    if (spec.canary().empty()) spec.set_canary("1");
    if (spec.waves().empty()) spec.set_waves("100%");
    if (spec.parallel() == 0) spec.set_parallel(1);
    v1::Rollout r;
    grpc::Status s = Call(&v1::ControllerService::Stub::StartRollout, spec, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r.id();
  }

  grpc::Status Act(const std::string& id, const std::string& action, v1::Rollout* out = nullptr) {
    v1::RolloutActionRequest req;
    req.set_id(id);
    req.set_action(action);
    v1::Rollout r;
    grpc::Status s = Call(&v1::ControllerService::Stub::RolloutAction, req, out ? out : &r);
    return s;
  }

  v1::Rollout Get(const std::string& id) {
    v1::GetRolloutRequest req;
    req.set_id(id);
    v1::Rollout r;
    grpc::Status s = Call(&v1::ControllerService::Stub::GetRollout, req, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return r;
  }

  // Waits until rollout `id` is in `state` and its driver has stopped.
  v1::Rollout WaitUntil(const std::string& id, v1::RolloutState state) {
    EXPECT_TRUE(WaitFor([&] { return Get(id).state() == state; }, std::chrono::seconds(10)))
        << "rollout never reached " << proto::StateName(state) << ": "
        << Get(id).DebugString();
    EXPECT_TRUE(runner_->WaitUntilIdle(id, absl::Seconds(10)));
    return Get(id);
  }

  std::map<std::string, v1::RolloutTenantState> TenantStates(const v1::Rollout& r) {
    std::map<std::string, v1::RolloutTenantState> out;
    for (const auto& t : r.tenants()) out[t.id()] = t.state();
    return out;
  }

  // Runs `hook` the first time a rollout reaches `point`, on its thread.
  void At(const std::string& point, std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    at_[point] = std::move(hook);
  }
  std::vector<std::string> Points() {
    std::lock_guard<std::mutex> lock(mu_);
    return points_;
  }

  FaultyInventory inventory_;
  FakeAgentClient fake_;
  AgentClient& agents_ = FollowingBundles(fake_, inventory_);
  FakeClock clock_;
  Metrics metrics_;
  BundleGraphs graphs_{inventory_};
  Poller poller_{inventory_, agents_, metrics_, clock_, {absl::Hours(1), 3, nullptr}};
  Authorizer auth_{std::nullopt};
  std::unique_ptr<RolloutRunner> runner_;
  std::unique_ptr<ControllerServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ControllerService::Stub> stub_;
  std::string digest_;
  std::mutex mu_;
  std::vector<std::string> points_;                       // GUARDED_BY(mu_)
  std::map<std::string, std::function<void()>> at_;       // GUARDED_BY(mu_)
};

TEST_F(RunnerTest, PauseWhileTheLastTenantOfAWaveMigratesHoldsEveryOtherTenant) {
  SetUpFleet(4);
  fake_.Block("t0");  // the canary: the last (only) tenant of wave 0
  std::string id = Start("c");
  ASSERT_TRUE(fake_.WaitUntilBlocked("t0"));
  v1::Rollout paused;
  ASSERT_TRUE(Act(id, "pause", &paused).ok());
  EXPECT_EQ(paused.state(), v1::ROLLOUT_PAUSED);
  fake_.Release("t0");
  // The in-flight tenant finishes; the runner's advance is refused and it
  // obeys: nobody else starts and the rollout stays paused.
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_PAUSED);
  EXPECT_EQ(r.reason().substr(0, 9), "paused by");
  EXPECT_EQ(r.wave(), 0);
  EXPECT_THAT(fake_.Started(), ElementsAre("t0"));
  EXPECT_EQ(TenantStates(r), (std::map<std::string, v1::RolloutTenantState>{
                                 {"t0", v1::TENANT_SUCCEEDED},
                                 {"t1", v1::TENANT_PENDING},
                                 {"t2", v1::TENANT_PENDING},
                                 {"t3", v1::TENANT_PENDING}}));
  EXPECT_THAT(fake_.HeadsOf("t1"), ElementsAre("a"));
  EXPECT_THAT(r.stalled(), IsEmpty());
  // Resume: the rest goes, each tenant once.
  ASSERT_TRUE(Act(id, "resume").ok());
  r = WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
  EXPECT_THAT(fake_.Started(), ElementsAre("t0", "t1", "t2", "t3"));
  for (int i = 0; i < 4; ++i) EXPECT_THAT(fake_.HeadsOf(absl::StrCat("t", i)), ElementsAre("c"));
}

TEST_F(RunnerTest, PauseLandingBetweenTheRunnersReadAndItsWriteWins) {
  SetUpFleet(3);
  std::string id;
  // The operator's pause is written after the runner decided to start t1
  // and before it writes so: its write is refused.
  At("tenant-recorded", [&] {
    inventory_.Before("WriteTenantStep", [&] {
      // From the inventory: the runner can get here before Start has
      // returned the id to this thread.
      auto all = inventory_.real().ListRollouts();
      EXPECT_TRUE(all.ok() && all->size() == 1);
      if (all.ok() && all->size() == 1) {
        EXPECT_TRUE(Act(all->front().id, "pause").ok());
      }
      return false;
    });
  });
  id = Start("c");
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_PAUSED);
  EXPECT_THAT(fake_.Started(), ElementsAre("t0"));
  EXPECT_EQ(TenantStates(r)["t1"], v1::TENANT_PENDING);
}

TEST_F(RunnerTest, AbortWhileTheCanaryMigratesStopsForGood) {
  SetUpFleet(5);
  fake_.Block("t0");
  std::string id = Start("b");
  ASSERT_TRUE(fake_.WaitUntilBlocked("t0"));
  ASSERT_TRUE(Act(id, "abort").ok());
  fake_.Release("t0");
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_ABORTED);
  EXPECT_THAT(r.reason(), HasSubstr("nothing rolled back"));
  EXPECT_THAT(fake_.Started(), ElementsAre("t0"));
  EXPECT_EQ(TenantStates(r)["t0"], v1::TENANT_SUCCEEDED);  // its outcome is still recorded
  // An aborted rollout cannot be resumed, and says why.
  grpc::Status resume = Act(id, "resume");
  EXPECT_EQ(resume.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(resume.error_message(), HasSubstr("is aborted; resume applies to a paused rollout"));
}

TEST_F(RunnerTest, AbortDuringABakeEndsItWithoutWaitingForTheClock) {
  SetUpFleet(3);
  v1::RolloutSpec spec;
  spec.set_bake_seconds(600);
  std::string id = Start("b", spec);
  ASSERT_TRUE(clock_.WaitForSleep(1));  // the canary's bake
  EXPECT_THAT(Points(), ::testing::Contains("bake-started"));
  ASSERT_TRUE(Act(id, "abort").ok());
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_ABORTED);
  EXPECT_THAT(fake_.Started(), ElementsAre("t0"));
  EXPECT_EQ(fake_.CallsTo("Verify"), 0);  // the bake never ended
}

TEST_F(RunnerTest, BakeEndsOnTheClockAndChecksTheWaveAgain) {
  SetUpFleet(3);
  v1::RolloutSpec spec;
  spec.set_bake_seconds(600);
  std::string id = Start("b", spec);
  ASSERT_TRUE(clock_.WaitForSleep(1));
  EXPECT_EQ(Get(id).state(), v1::ROLLOUT_RUNNING);
  EXPECT_THAT(fake_.Started(), ElementsAre("t0"));
  clock_.Advance(absl::Seconds(601));
  ASSERT_TRUE(clock_.WaitForSleep(2));  // wave 1's bake
  EXPECT_EQ(fake_.CallsTo("Verify"), 1);
  clock_.Advance(absl::Seconds(601));
  WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
  EXPECT_EQ(fake_.CallsTo("Verify"), 3);
}

TEST_F(RunnerTest, VerifyFailingAfterTheBakeRollsTheWaveBack) {
  SetUpFleet(2);
  v1::RolloutSpec spec;
  spec.set_bake_seconds(60);
  std::string id = Start("b", spec);
  ASSERT_TRUE(clock_.WaitForSleep(1));
  fake_.SetVerifyFailures("t0", {"revision b: its migrate:verify query returned false"});
  clock_.Advance(absl::Seconds(61));
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_ROLLED_BACK);
  EXPECT_THAT(r.reason(), HasSubstr("wave 0 failed its bake: 1 of 1 tenants failed"));
  EXPECT_THAT(r.tenants(0).error(), HasSubstr("after the bake: revision b"));
  EXPECT_THAT(fake_.HeadsOf("t0"), ElementsAre("a"));
  EXPECT_THAT(fake_.Started(), ElementsAre("t0"));
}

TEST_F(RunnerTest, RollbackDuringAHaltMovesTheWaveBack) {
  SetUpFleet(3);
  fake_.FailUpgrade("t1", absl::InternalError("duplicate key value violates unique constraint"));
  v1::RolloutSpec spec;
  spec.set_on_failure("halt");
  std::string id = Start("c", spec);
  v1::Rollout halted = WaitUntil(id, v1::ROLLOUT_HALTED);
  EXPECT_THAT(halted.reason(), HasSubstr("wave 1 failed: 1 of 2 tenants failed"));
  // Halted means stopped: t2 (same wave, parallel 1) did not start after t1 failed.
  EXPECT_THAT(fake_.Started(), ElementsAre("t0", "t1"));
  ASSERT_TRUE(Act(id, "rollback").ok());
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_ROLLED_BACK);
  EXPECT_THAT(fake_.HeadsOf("t0"), ElementsAre("a"));
  EXPECT_THAT(fake_.HeadsOf("t1"), ElementsAre("a"));
  EXPECT_EQ(TenantStates(r)["t2"], v1::TENANT_PENDING);
  EXPECT_THAT(r.reason(), HasSubstr("2 tenants rolled back"));
}

// One call per tenant: the heads the agent read back after its last commit
// come with the migration's reply, and a success is checked against the
// plan with them — never a success reply alone, never a second read.
TEST_F(RunnerTest, ASuccessIsCheckedAgainstTheHeadsTheAgentReadBack) {
  SetUpFleet(3);
  fake_.MisreportHeads("t1", {"b"});
  v1::RolloutSpec spec;
  spec.set_on_failure("halt");
  std::string id = Start("c", spec);
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_HALTED);
  EXPECT_EQ(TenantStates(r)["t0"], v1::TENANT_SUCCEEDED);
  EXPECT_EQ(TenantStates(r)["t1"], v1::TENANT_FAILED);
  for (const auto& t : r.tenants()) {
    if (t.id() == "t1") {
      EXPECT_THAT(t.error(), HasSubstr("reported success but tenant t1 is at b, not c"));
      EXPECT_THAT(t.heads(), ElementsAre("b"));
    }
  }
  EXPECT_EQ(fake_.CallsTo("GetTenant"), 0);
  EXPECT_EQ(fake_.CallsTo("Migrate"), 2);
}

// A batched revision's progress: recorded while the tenant runs (at most
// once a second by the clock, and at the revision's end), shown with the
// rollout, counted in metrics without the rows a resumed run had done.
TEST_F(RunnerTest, BatchProgressIsRecordedWhileATenantRunsAndAtItsEnd) {
  SetUpFleet(2);
  using P = AgentClient::MigrateProgress;
  fake_.SetProgress("t0", {P{"c", 1000, 2, true, 0, false}, P{"c", 1500, 3, true, 500, false},
                           P{"c", 2000, 4, true, 500, false}});
  fake_.Block("t0");
  v1::RolloutSpec spec;
  spec.set_canary("1");
  std::string id = Start("c", spec);
  ASSERT_TRUE(fake_.WaitUntilBlocked("t0"));
  // The clock did not move: the first event is recorded, the next two are
  // within the same second.
  v1::Rollout running = Get(id);
  ASSERT_EQ(running.tenants(0).id(), "t0");
  EXPECT_EQ(running.tenants(0).state(), v1::TENANT_RUNNING);
  EXPECT_EQ(running.tenants(0).progress().rows(), 1000);
  EXPECT_TRUE(running.tenants(0).progress().resumed());
  EXPECT_FALSE(running.tenants(0).progress().done());
  EXPECT_FALSE(running.tenants(1).has_progress());
  fake_.SetProgress("t1", {P{"c", 700, 1, false, 700, false}, P{"c", 700, 2, false, 0, true}});
  fake_.Release("t0");
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
  // t0's last event was not final: what was recorded stays.
  EXPECT_EQ(r.tenants(0).progress().rows(), 1000);
  // t1's final event is recorded whatever the clock says.
  EXPECT_EQ(r.tenants(1).progress().rows(), 700);
  EXPECT_EQ(r.tenants(1).progress().batches(), 2);
  EXPECT_TRUE(r.tenants(1).progress().done());
  const std::string rendered = metrics_.Render({}, 0);
  // t0: 2 batches and 1,000 rows past the resumed 1,000; t1: 2 and 700.
  EXPECT_THAT(rendered, HasSubstr("fleet_batches_total 4\n"));
  EXPECT_THAT(rendered, HasSubstr("fleet_batch_rows_total 1700\n"));
}

TEST_F(RunnerTest, AProgressWriteThatFailsIsLoggedAndTheTenantGoesOn) {
  SetUpFleet(1);
  using P = AgentClient::MigrateProgress;
  fake_.SetProgress("t0", {P{"c", 10, 1, false, 10, false}, P{"c", 10, 2, false, 0, true}});
  inventory_.Fail("WriteTenantProgress", absl::InternalError("disk full"), 2);
  std::string id = Start("c");
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
  EXPECT_EQ(r.tenants(0).state(), v1::TENANT_SUCCEEDED);
  EXPECT_FALSE(r.tenants(0).has_progress());
}

TEST_F(RunnerTest, AFailedWaveIsHaltedAndMarkedForRollbackInOneWrite) {
  SetUpFleet(3);
  fake_.FailUpgrade("t2", absl::InternalError("boom"));
  std::string id;
  std::map<std::string, v1::RolloutTenantState> at_halt;
  v1::RolloutState state_at_halt = v1::ROLLOUT_STATE_UNSPECIFIED;
  At("halted", [&] {
    // What a controller killed right after the halt would restart into.
    // (The rollout is found in the inventory: the runner can get here
    // before Start has returned its id to this thread.)
    auto all = inventory_.real().ListRollouts();
    ASSERT_TRUE(all.ok() && all->size() == 1);
    auto rollout = inventory_.real().GetRollout(all->front().id);
    auto tenants = inventory_.real().ListRolloutTenants(all->front().id);
    ASSERT_TRUE(rollout.ok() && tenants.ok());
    state_at_halt = rollout->state;
    for (const auto& t : *tenants) at_halt[t.tenant_id] = t.state;
  });
  v1::RolloutSpec spec;
  spec.set_parallel(2);
  id = Start("c", spec);
  WaitUntil(id, v1::ROLLOUT_ROLLED_BACK);
  EXPECT_EQ(state_at_halt, v1::ROLLOUT_ROLLING_BACK);
  EXPECT_EQ(at_halt, (std::map<std::string, v1::RolloutTenantState>{
                         {"t0", v1::TENANT_ROLLING_BACK},
                         {"t1", v1::TENANT_ROLLING_BACK},
                         {"t2", v1::TENANT_ROLLING_BACK}}));
  for (int i = 0; i < 3; ++i) EXPECT_THAT(fake_.HeadsOf(absl::StrCat("t", i)), ElementsAre("a"));
}

TEST_F(RunnerTest, AFailedInventoryWriteStopsTheRolloutAndSaysSo) {
  SetUpFleet(3);
  // The write that records the canary as running fails: nothing may run.
  inventory_.Fail("WriteTenantStep", absl::InternalError("inventory: disk I/O error"));
  std::string id = Start("b");
  ASSERT_TRUE(WaitFor([&] { return !Get(id).stalled().empty(); }, std::chrono::seconds(10)));
  ASSERT_TRUE(runner_->WaitUntilIdle(id, absl::Seconds(10)));
  v1::Rollout r = Get(id);
  EXPECT_EQ(r.state(), v1::ROLLOUT_RUNNING);  // the last state written
  EXPECT_THAT(r.stalled(), HasSubstr("disk I/O error"));
  EXPECT_THAT(r.stalled(), HasSubstr(absl::StrCat("'fleetctl rollout resume ", id, "'")));
  EXPECT_EQ(fake_.CallsTo("Migrate"), 0);
  // resume drives it again.
  ASSERT_TRUE(Act(id, "resume").ok());
  r = WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
  EXPECT_THAT(r.stalled(), IsEmpty());
  EXPECT_THAT(fake_.Started(), ElementsAre("t0", "t1", "t2"));
}

TEST_F(RunnerTest, AnOutcomeThatCannotBeRecordedIsMigratedAgainOnResume) {
  SetUpFleet(2);
  At("tenant-migrated",
     [&] { inventory_.Fail("WriteTenantStep", absl::InternalError("inventory: database is locked")); });
  std::string id = Start("b");
  ASSERT_TRUE(WaitFor([&] { return !Get(id).stalled().empty(); }, std::chrono::seconds(10)));
  ASSERT_TRUE(runner_->WaitUntilIdle(id, absl::Seconds(10)));
  v1::Rollout r = Get(id);
  EXPECT_EQ(TenantStates(r)["t0"], v1::TENANT_RUNNING);  // moved, but not recorded
  EXPECT_THAT(fake_.Started(), ElementsAre("t0"));
  ASSERT_TRUE(Act(id, "resume").ok());
  r = WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
  // t0 was asked again and had nothing to do: still one step from a.
  EXPECT_THAT(fake_.Started(), ElementsAre("t0", "t0", "t1"));
  EXPECT_THAT(fake_.HeadsOf("t0"), ElementsAre("b"));
}

TEST_F(RunnerTest, AnAgentThatLostItsCacheDuringTheBakeIsSentTheBundleAgain) {
  SetUpFleet(2);
  v1::RolloutSpec spec;
  spec.set_bake_seconds(60);
  std::string id = Start("b", spec);
  ASSERT_TRUE(clock_.WaitForSleep(1));
  const int sent_before = fake_.CallsTo("PutBundle");
  fake_.Restart(kAgent);  // a rescheduled pod with an emptyDir cache
  clock_.Advance(absl::Seconds(61));
  ASSERT_TRUE(clock_.WaitForSleep(2));
  clock_.Advance(absl::Seconds(61));
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
  EXPECT_GT(fake_.CallsTo("PutBundle"), sent_before);
  EXPECT_THAT(fake_.HeadsOf("t1"), ElementsAre("b"));
}

TEST_F(RunnerTest, AnAgentThatLostItsCacheBeforeTheRollbackStillRollsBack) {
  SetUpFleet(3);
  fake_.FailUpgrade("t1", absl::InternalError("boom"));
  At("halted", [&] { fake_.Restart(kAgent); });
  std::string id = Start("c");
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_ROLLED_BACK);
  for (int i = 0; i < 2; ++i) EXPECT_THAT(fake_.HeadsOf(absl::StrCat("t", i)), ElementsAre("a"));
  EXPECT_EQ(TenantStates(r)["t0"], v1::TENANT_ROLLED_BACK);
}

TEST_F(RunnerTest, AnUnreachableAgentIsRetriedOnTheClockNotFailed) {
  SetUpFleet(1);
  fake_.SetUnreachable(kAgent, true);
  v1::RolloutSpec spec;
  spec.set_tenant_timeout_seconds(30);
  std::string id = Start("b", spec);
  ASSERT_TRUE(clock_.WaitForSleep(1));  // a retry backoff
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(clock_.WaitForSleep(2));
  EXPECT_EQ(Get(id).state(), v1::ROLLOUT_RUNNING);
  fake_.SetUnreachable(kAgent, false);
  clock_.Advance(absl::Seconds(1));
  WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
  EXPECT_EQ(fake_.Started().size(), 3u);  // two refused, one that ran
}

TEST_F(RunnerTest, AnAgentUnreachablePastTheDeadlineFailsItsTenant) {
  SetUpFleet(1);
  fake_.SetUnreachable(kAgent, true);
  v1::RolloutSpec spec;
  spec.set_tenant_timeout_seconds(3);
  spec.set_on_failure("halt");
  std::string id = Start("b", spec);
  for (int i = 1; i <= 2; ++i) {
    ASSERT_TRUE(clock_.WaitForSleep(i));
    clock_.Advance(absl::Seconds(1));
  }
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_HALTED);
  EXPECT_THAT(r.tenants(0).error(), HasSubstr("connection refused"));
}

TEST_F(RunnerTest, PauseAndResumeWhileATenantIsInFlightKeepsGoing) {
  SetUpFleet(3);
  fake_.Block("t0");
  std::string id = Start("b");
  ASSERT_TRUE(fake_.WaitUntilBlocked("t0"));
  ASSERT_TRUE(Act(id, "pause").ok());
  ASSERT_TRUE(Act(id, "resume").ok());
  fake_.Release("t0");
  WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
  EXPECT_THAT(fake_.Started(), ElementsAre("t0", "t1", "t2"));
}

TEST_F(RunnerTest, AGateHoldsTheRolloutUntilResume) {
  SetUpFleet(3);
  v1::RolloutSpec spec;
  spec.set_pause_after("canary");
  std::string id = Start("b", spec);
  v1::Rollout r = WaitUntil(id, v1::ROLLOUT_PAUSED);
  EXPECT_THAT(r.reason(), HasSubstr("gate after wave 0"));
  EXPECT_EQ(r.wave(), 1);
  EXPECT_THAT(fake_.Started(), ElementsAre("t0"));
  ASSERT_TRUE(Act(id, "resume").ok());
  WaitUntil(id, v1::ROLLOUT_SUCCEEDED);
}

TEST_F(RunnerTest, RollbackRefusesTenantsInAnotherActiveRolloutNamingThem) {
  SetUpFleet(2);
  std::string first = Start("b");
  WaitUntil(first, v1::ROLLOUT_SUCCEEDED);
  // A second rollout takes t1 further and is still migrating it.
  fake_.Block("t1");
  v1::RolloutSpec spec;
  spec.mutable_selector()->add_ids("t1");
  spec.set_canary("0");
  std::string second = Start("c", spec);
  ASSERT_TRUE(fake_.WaitUntilBlocked("t1"));
  grpc::Status refused = Act(first, "rollback");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr(absl::StrCat("t1 (in rollout ", second, ")")));
  EXPECT_EQ(Get(first).state(), v1::ROLLOUT_SUCCEEDED);
  fake_.Release("t1");
  WaitUntil(second, v1::ROLLOUT_SUCCEEDED);
  // Once the other rollout is over, the rollback goes ahead.
  ASSERT_TRUE(Act(first, "rollback").ok());
  WaitUntil(first, v1::ROLLOUT_ROLLED_BACK);
  EXPECT_THAT(fake_.HeadsOf("t0"), ElementsAre("a"));
}

TEST_F(RunnerTest, ResumeAllPicksUpWhatARestartLeft) {
  SetUpFleet(2);
  fake_.Block("t0");
  std::string id = Start("b");
  ASSERT_TRUE(fake_.WaitUntilBlocked("t0"));
  // The controller stops (in-flight tenants finish); a new runner resumes.
  std::thread stop([&] { runner_->Stop(); });
  fake_.Release("t0");
  stop.join();
  RolloutRunner::Options options;
  RolloutRunner again(inventory_, agents_, graphs_, clock_, options);
  ASSERT_TRUE(again.ResumeAll().ok());
  ASSERT_TRUE(WaitFor([&] { return Get(id).state() == v1::ROLLOUT_SUCCEEDED; }));
  ASSERT_TRUE(again.WaitUntilIdle(id, absl::Seconds(10)));
  EXPECT_THAT(fake_.HeadsOf("t1"), ElementsAre("b"));
}

TEST_F(RunnerTest, EveryNamedPointIsPassedInOrder) {
  SetUpFleet(2);
  fake_.FailUpgrade("t1", absl::InternalError("boom"));
  v1::RolloutSpec spec;
  spec.set_bake_seconds(10);
  std::string id = Start("b", spec);
  ASSERT_TRUE(clock_.WaitForSleep(1));
  clock_.Advance(absl::Seconds(11));
  WaitUntil(id, v1::ROLLOUT_ROLLED_BACK);
  EXPECT_THAT(Points(),
              ElementsAre("rollout-started", "tenant-started", "tenant-migrated", "tenant-recorded",
                          "wave-done", "bake-started", "wave-advanced", "tenant-started",
                          "tenant-migrated", "tenant-recorded", "halted",
                          "rollback-tenant-migrated", "rollback-tenant-recorded",
                          "rollback-tenant-migrated", "rollback-tenant-recorded", "finished"));
  for (const auto& p : Points()) {
    EXPECT_NE(std::find(std::begin(kRolloutPoints), std::end(kRolloutPoints), p),
              std::end(kRolloutPoints))
        << p;
  }
}

TEST(RolloutSpecTest, NumbersMustBeFiniteAndInRange) {
  auto refused = [](auto set, const std::string& flag) {
    v1::RolloutSpec spec;
    set(spec);
    auto n = NormalizeSpec(spec);
    EXPECT_FALSE(n.ok()) << spec.DebugString();
    EXPECT_TRUE(absl::IsInvalidArgument(n.status()));
    EXPECT_THAT(n.status().message(), HasSubstr(flag));
  };
  for (const char* bad : {"nan%", "nan", "inf", "-inf%", "1e300", "1e300%", "-1", "101%", "1.5"}) {
    refused([&](v1::RolloutSpec& s) { s.set_canary(bad); }, "--canary");
    refused([&](v1::RolloutSpec& s) { s.set_max_failures(bad); }, "--max-failures");
  }
  for (const char* bad : {"nan%,100%", "inf%", "10%,nan%", "1e300%,100%", "50%,20%"}) {
    refused([&](v1::RolloutSpec& s) { s.set_waves(bad); }, "--waves");
  }
  v1::RolloutSpec ok;
  ok.set_canary("10%");
  ok.set_max_failures("2");
  ok.set_waves("10%,100%");
  EXPECT_TRUE(NormalizeSpec(ok).ok());
}

}  // namespace
}  // namespace fleet::controller
