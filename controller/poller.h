// Poller: asks every enrolled agent for its tenants on an interval, all
// agents in parallel, each call with a deadline, and records the answers in
// the inventory. An agent that misses `missed_before_down` polls in a row is
// marked down and its tenants unreachable; its next answer brings them back.
//
// The newest bundle follows the agents: each is sent it once, and again
// when it says it lacks it or answers with a new instance id (it restarted,
// perhaps with an empty cache).
//
// Threads: Start() runs a background thread; PollAll() may also be called
// from any thread (status --refresh); polls of one agent are serialized.
#ifndef FLEET_CONTROLLER_POLLER_H_
#define FLEET_CONTROLLER_POLLER_H_

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/agent_client.h"
#include "controller/clock.h"
#include "controller/inventory.h"
#include "controller/metrics.h"

namespace fleet::controller {

class Poller {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(15);
    int missed_before_down = 3;
    // Called after every PollAll that could read the inventory (the fleet
    // view and the metrics are refreshed there).
    std::function<void()> after_poll;
  };
  // Everything borrowed must outlive the poller.
  Poller(Inventory& inventory, AgentClient& client, Metrics& metrics, Clock& clock,
         Options options);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void Start();
  void Stop();
  // Polls every agent now and waits for all of them. The error: the
  // inventory could not be read (an agent that fails is recorded as such).
  absl::Status PollAll() ABSL_LOCKS_EXCLUDED(mu_, poll_mu_);
  // Polls one agent; the status says why it could not be reached.
  absl::Status PollAgent(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_, poll_mu_);

 private:
  Inventory& inventory_;
  AgentClient& client_;
  Metrics& metrics_;
  Clock& clock_;
  const Options options_;
  absl::Mutex mu_;
  std::atomic<bool> stop_{false};
  std::set<std::pair<std::string, std::string>> has_bundle_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> instance_of_ ABSL_GUARDED_BY(mu_);  // address -> id
  // Serializes polls so two never race on one agent's rows. It guards rows
  // of the inventory, not members, so nothing here names it.
  absl::Mutex poll_mu_;
  std::thread thread_;
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_POLLER_H_
