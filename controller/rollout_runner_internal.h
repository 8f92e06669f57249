// What rollout_runner.cc and rollout_rollback.cc share: the rollout a
// runner thread drives and small helpers for messages. Private to the runner.
#ifndef FLEET_CONTROLLER_ROLLOUT_RUNNER_INTERNAL_H_
#define FLEET_CONTROLLER_ROLLOUT_RUNNER_INTERNAL_H_

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "controller/rollout_runner.h"

namespace fleet::controller {

struct RolloutRunner::Driven {
  std::string id;
  std::string bundle_digest;
  std::string actor;
  fleet::v1::RolloutSpec spec;
  std::shared_ptr<const migrations::RevisionGraph> graph;
};

namespace runner_internal {

inline std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline std::string Heads(const std::vector<std::string>& heads) {
  return heads.empty() ? "base" : absl::StrJoin(heads, ",");
}

// A transition that writes `audit` with it.
inline RolloutTransition Audited(AuditEntry audit) {
  RolloutTransition t;
  t.audit = std::move(audit);
  return t;
}

// Runs `worker` on as many threads as `parallel` allows and `tasks` need,
// and waits for them all; each worker takes tasks until none is left.
inline void OnWorkers(int parallel, size_t tasks, const std::function<void()>& worker) {
  std::vector<std::thread> threads;
  for (int w = 0; w < parallel && static_cast<size_t>(w) < tasks; ++w) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
}

}  // namespace runner_internal
}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_ROLLOUT_RUNNER_INTERNAL_H_
