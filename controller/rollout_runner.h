// RolloutRunner: drives rollouts. One driver thread per active rollout runs
// its waves (at most `parallel` tenants at once), checks every tenant's heads
// with its agent after the migrate call, halts a wave whose failures exceed
// the threshold, and rolls back by the on-failure policy.
//
// Every state change is written to the inventory before the action it
// allows, so a controller killed at any moment resumes (ResumeAll) where it
// was: tenants left "running" are migrated again, which is safe because a
// tenant at its target answers "nothing to do"; a bake resumes with the time
// it had left.
//
// Threads: all public methods are thread-safe.
#ifndef FLEET_CONTROLLER_ROLLOUT_RUNNER_H_
#define FLEET_CONTROLLER_ROLLOUT_RUNNER_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controller/agent_client.h"
#include "controller/fleet_view.h"
#include "controller/inventory.h"
#include "fleet/v1/controller.pb.h"
#include "migrations/revision_graph.h"

namespace fleet::controller {

class RolloutRunner {
 public:
  struct Options {
    absl::Duration retry_backoff = absl::Seconds(1);  // for an unreachable agent
  };
  RolloutRunner(Inventory& inventory, AgentClient& agents, BundleGraphs& graphs, Options options);
  ~RolloutRunner();
  RolloutRunner(const RolloutRunner&) = delete;
  RolloutRunner& operator=(const RolloutRunner&) = delete;

  // Starts a driver for every rollout left running or rolling back.
  void ResumeAll();
  // Starts (or restarts) the driver of rollout `id`.
  void Drive(const std::string& id);
  // Stops every driver (in-flight tenants finish first).
  void Stop();
  // Waits up to `timeout` for rollout `id` to have no live driver (its
  // in-flight tenants finished); true when it has none.
  bool WaitUntilIdle(const std::string& id, absl::Duration timeout);

 private:
  enum class WaveResult { kDone, kFailed, kInterrupted };
  void Run(const std::string& id);
  WaveResult RunWave(RolloutRecord& r, const fleet::v1::RolloutSpec& spec,
                     const migrations::RevisionGraph& graph);
  WaveResult Bake(RolloutRecord& r, const fleet::v1::RolloutSpec& spec,
                  const migrations::RevisionGraph& graph);
  void RunRollback(RolloutRecord& r, const fleet::v1::RolloutSpec& spec);
  void Halt(RolloutRecord& r, const fleet::v1::RolloutSpec& spec, const std::string& reason);
  bool StillRunning(const std::string& id, const std::string& state);
  // Sleeps up to `d`; false when the runner stops meanwhile.
  bool Sleep(absl::Duration d);

  Inventory& inventory_;
  AgentClient& agents_;
  BundleGraphs& graphs_;
  const Options options_;
  std::mutex mu_;
  std::map<std::string, std::thread> drivers_;  // GUARDED_BY(mu_)
  std::set<std::string> running_;               // GUARDED_BY(mu_): ids with a live driver
  std::condition_variable changed_;  // a driver ended, or the runner is stopping
  std::atomic<bool> stopping_{false};
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_ROLLOUT_RUNNER_H_
