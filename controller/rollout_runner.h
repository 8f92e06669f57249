// RolloutRunner: drives rollouts. One driver thread per driven rollout runs
// its waves (at most `parallel` tenants at once), checks every tenant's
// heads with its agent after the migrate call, halts a wave whose failures
// exceed the threshold, and rolls back by the on-failure policy.
//
// The driver obeys the inventory, not its own memory: every move it makes
// is a compare-and-set transition (rollout_state.h) against the state it
// read, and a tenant starts only while its rollout is still running in the
// inventory. When an operator's pause, abort or rollback lands first, the
// driver's write is refused; it re-reads and obeys (in-flight tenants
// finish, no new one starts).
//
// Every move is written before the action it allows, so a controller killed
// at any moment resumes (ResumeAll) where it was: tenants left "running" are
// migrated again, which is safe because a tenant at its target answers
// "nothing to do"; a bake resumes with the time it had left.
//
// A failed inventory write is never ignored: the driver stops driving that
// rollout, logs why, and Stalled() says it (rollout status shows it) until
// Drive() is called again (resume, or a restart).
//
// Threads: all public methods are thread-safe.
#ifndef FLEET_CONTROLLER_ROLLOUT_RUNNER_H_
#define FLEET_CONTROLLER_ROLLOUT_RUNNER_H_

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/agent_client.h"
#include "controller/clock.h"
#include "controller/fleet_view.h"
#include "controller/inventory.h"
#include "controller/metrics.h"
#include "controller/rollout_state.h"
#include "fleet/v1/controller.pb.h"
#include "migrations/revision_graph.h"

namespace fleet::controller {

// The named points of a rollout, in the order a rollout passes them. At
// each, Options::at_point is called: tests crash the controller there
// (FLEET_CRASH_AT) or interleave an operator's action.
inline constexpr std::string_view kRolloutPoints[] = {
    "rollout-started",           // pending -> running written
    "tenant-started",            // a tenant's step written running, before its migrate call
    "tenant-migrated",           // its agent answered and was read back; nothing written yet
    "tenant-recorded",           // its outcome written
    "wave-done",                 // every tenant of a wave finished; nothing written yet
    "bake-started",              // the bake's end time written
    "wave-advanced",             // the next wave (or a gate) written
    "halted",                    // halt, and the tenants to roll back, written
    "rollback-tenant-migrated",  // a tenant moved back and read back; nothing written yet
    "rollback-tenant-recorded",  // its rollback outcome written
    "finished",                  // the final state written
};

class RolloutRunner {
 public:
  struct Options {
    absl::Duration retry_backoff = absl::Seconds(1);  // for an unreachable agent
    absl::Duration recheck = absl::Seconds(1);        // a bake re-reads its rollout this often
    // A batched revision's progress is recorded at most this often per tenant.
    absl::Duration progress_interval = absl::Seconds(1);
    Metrics* metrics = nullptr;  // borrowed; counts batches and rows when set
    // Called at each of kRolloutPoints with the rollout's id, from the
    // driver's threads. Empty: nothing happens.
    std::function<void(std::string_view point, const std::string& rollout_id)> at_point;
  };
  // Everything borrowed must outlive the runner. `agents` should follow
  // bundles (AgentClient::FollowBundles): an agent that lost its cache is then
  // sent the bundle again.
  RolloutRunner(Inventory& inventory, AgentClient& agents, BundleGraphs& graphs, Clock& clock,
                Options options);
  ~RolloutRunner();
  RolloutRunner(const RolloutRunner&) = delete;
  RolloutRunner& operator=(const RolloutRunner&) = delete;

  // Starts a driver for every rollout left pending, running or rolling
  // back. The error (the inventory could not be read) is also logged.
  [[nodiscard]] absl::Status ResumeAll();
  // Starts the driver of rollout `id`; when one is live, it reads the
  // rollout again before it stops. Clears Stalled(id).
  void Drive(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  // Makes every driver that waits (a bake, a retry backoff) read its
  // rollout again now: call it after an operator's action.
  void Wake();
  // Stops every driver (in-flight tenants finish first).
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Waits up to `timeout` for rollout `id` to have no live driver (its
  // in-flight tenants finished); true when it has none.
  bool WaitUntilIdle(const std::string& id, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // Why this runner stopped driving rollout `id` (an inventory write or read
  // failed), or empty.
  std::string Stalled(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // What a driver loads once per rollout.
  struct Driven;
  enum class Outcome { kReread, kDone, kStalled };
  enum class WaveResult { kDone, kFailed, kInterrupted, kStalled };

  void Run(const std::string& id);
  Outcome StepRunning(Driven& d, RolloutRecord& r);
  WaveResult RunWave(Driven& d, const RolloutRecord& r);
  WaveResult Bake(Driven& d, const RolloutRecord& r, std::string* reason);
  Outcome FailWave(Driven& d, const RolloutRecord& r, const std::string& reason);
  Outcome RunRollback(Driven& d, const RolloutRecord& r);
  // Migrates one tenant (upgrade or downgrade) until its deadline, retrying
  // an unreachable agent. Returns the heads its agent read back afterwards.
  absl::StatusOr<std::vector<std::string>> MigrateTenant(Driven& d, const RolloutTenantRecord& t,
                                                         const std::string& target, bool upgrade);
  // Writes `t` as the move of `event` from `r`'s state: kReread when written
  // or when the rollout moved meanwhile (ABORTED); anything else stalls it.
  Outcome Move(Driven& d, const RolloutRecord& r, RolloutEvent event, RolloutTransition t);
  // Records `done`, a tenant's finished upgrade or rollback, against `from`,
  // the state it was read in (compare-and-set); false when the inventory
  // refuses the write, and the rollout is stalled saying why.
  bool RecordTenant(Driven& d, const RolloutTenantRecord& done, fleet::v1::RolloutTenantState from,
                    bool record_heads, AuditEntry audit);
  // Stops driving `id` because of `why`: logged, and kept for Stalled().
  void Stall(const std::string& id, const absl::Status& why) ABSL_LOCKS_EXCLUDED(mu_);
  void AtPoint(std::string_view point, const std::string& id);
  // Sleeps up to `d`; false when the runner stops meanwhile.
  bool Sleep(absl::Duration d);

  Inventory& inventory_;
  AgentClient& agents_;
  BundleGraphs& graphs_;
  Clock& clock_;
  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, std::thread> drivers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> running_ ABSL_GUARDED_BY(mu_);  // ids with a live driver
  std::set<std::string> again_ ABSL_GUARDED_BY(mu_);    // read again before stopping
  std::map<std::string, std::string> stalled_ ABSL_GUARDED_BY(mu_);
  absl::CondVar changed_;  // a driver ended, or the runner is stopping
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> generation_{0};  // bumped by Wake()
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_ROLLOUT_RUNNER_H_
