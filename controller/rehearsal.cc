#include "controller/rehearsal.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "serving/log.h"

namespace fleet::controller {

void RehearsePlan(AgentClient& agents, const std::string& digest, const std::string& target,
                  RolloutPlanResult& plan) {
  std::vector<PlannedTenantInfo*> all;
  for (auto& wave : plan.waves) {
    for (auto& t : wave) all.push_back(&t);
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < all.size(); i = next++) {
      PlannedTenantInfo& t = *all[i];
      auto r = agents.Rehearse(t.tenant.agent, t.tenant.id, digest, target);
      if (r.ok()) {
        t.rehearsal = *std::move(r);
      } else {
        t.rehearsal.set_outcome("error");
        t.rehearsal.set_error(std::string(r.status().message()));
      }
      spdlog::info("tenant={} event=rehearsal outcome={} revision={}", t.tenant.id,
                   t.rehearsal.outcome(), t.rehearsal.revision());
    }
  };
  std::vector<std::thread> workers;
  const size_t n = std::min<size_t>(kRehearsalCalls, all.size());
  for (size_t w = 0; w < n; ++w) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
}

std::vector<std::string> RehearsalFailures(const RolloutPlanResult& plan) {
  std::vector<std::string> out;
  for (const auto& wave : plan.waves) {
    for (const auto& t : wave) {
      const fleet::v1::Rehearsal& r = t.rehearsal;
      if (r.outcome() == "ok") continue;
      if (r.outcome() == "failed") {
        out.push_back(absl::StrCat(t.tenant.id, ": failed at revision ", r.revision(), " (",
                                   r.file(), ":", r.line(), "): ", r.error()));
      } else {
        out.push_back(absl::StrCat(t.tenant.id, ": not rehearsed: ",
                                   r.error().empty() ? "no answer" : r.error()));
      }
    }
  }
  return out;
}

}  // namespace fleet::controller
