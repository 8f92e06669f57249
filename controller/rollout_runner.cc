#include "controller/rollout_runner.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/rollout_plan.h"

namespace fleet::controller {
namespace {

std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string Heads(const std::vector<std::string>& heads) {
  return heads.empty() ? "base" : absl::StrJoin(heads, ",");
}

}  // namespace

RolloutRunner::RolloutRunner(Inventory& inventory, AgentClient& agents, BundleGraphs& graphs,
                             Options options)
    : inventory_(inventory), agents_(agents), graphs_(graphs), options_(options) {}

RolloutRunner::~RolloutRunner() { Stop(); }

void RolloutRunner::Stop() {
  std::map<std::string, std::thread> drivers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    drivers.swap(drivers_);
  }
  changed_.notify_all();
  for (auto& [id, t] : drivers) {
    if (t.joinable()) t.join();
  }
}

bool RolloutRunner::WaitUntilIdle(const std::string& id, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, absl::ToChronoSeconds(timeout),
                           [&] { return running_.count(id) == 0; });
}

void RolloutRunner::ResumeAll() {
  auto rollouts = inventory_.ListRollouts();
  if (!rollouts.ok()) return;
  for (const auto& r : *rollouts) {
    if (r.state == "running" || r.state == "rolling_back" || r.state == "pending") Drive(r.id);
  }
}

void RolloutRunner::Drive(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || running_.count(id)) return;
  auto it = drivers_.find(id);
  if (it != drivers_.end() && it->second.joinable()) it->second.join();
  running_.insert(id);
  drivers_[id] = std::thread([this, id] {
    Run(id);
    {
      std::lock_guard<std::mutex> l(mu_);
      running_.erase(id);
    }
    changed_.notify_all();
  });
}

bool RolloutRunner::Sleep(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !changed_.wait_for(lock, absl::ToChronoNanoseconds(d), [&] { return stopping_.load(); });
}

bool RolloutRunner::StillRunning(const std::string& id, const std::string& state) {
  if (stopping_) return false;
  auto r = inventory_.GetRollout(id);
  return r.ok() && r->state == state;
}

void RolloutRunner::Run(const std::string& id) {
  auto loaded = inventory_.GetRollout(id);
  if (!loaded.ok()) return;
  RolloutRecord r = *loaded;
  fleet::v1::RolloutSpec spec;
  if (!google::protobuf::util::JsonStringToMessage(r.spec_json, &spec).ok()) return;
  auto bundle = inventory_.GetBundle(r.bundle_digest);
  if (!bundle.ok()) return;
  auto graph = graphs_.Get(*bundle);
  if (!graph.ok()) return;
  // Every agent of the rollout gets the pinned bundle before anything runs.
  auto tenants = inventory_.ListRolloutTenants(id);
  if (!tenants.ok()) return;
  std::set<std::string> agents;
  for (const auto& t : *tenants) agents.insert(t.agent);
  for (const auto& a : agents) (void)agents_.PutBundle(a, *bundle);

  if (r.state == "pending") {
    r.state = "running";
    (void)inventory_.UpdateRollout(r);
  }
  while (!stopping_) {
    auto current = inventory_.GetRollout(id);
    if (!current.ok()) return;
    r = *current;
    if (r.state == "rolling_back") {
      RunRollback(r, spec);
      return;
    }
    if (r.state != "running") return;  // paused, halted, aborted, finished
    if (r.wave >= r.waves) {
      r.state = "succeeded";
      r.reason = "every wave reached its target";
      (void)inventory_.UpdateRollout(r);
      (void)inventory_.Audit("controller", "rollout succeeded", id, "", "");
      return;
    }
    WaveResult result = r.bake_until.empty() ? RunWave(r, spec, **graph) : WaveResult::kDone;
    if (result == WaveResult::kInterrupted) continue;
    if (result == WaveResult::kDone && spec.bake_seconds() > 0) result = Bake(r, spec, **graph);
    if (result == WaveResult::kInterrupted) continue;
    if (result == WaveResult::kFailed) continue;  // Halt() moved the state on
    r.bake_until.clear();
    bool pause = PausesAfter(spec, r.wave, r.waves);
    r.wave += 1;
    if (pause) {
      r.state = "paused";
      r.reason = absl::StrCat("gate after wave ", r.wave - 1, ": run 'fleetctl rollout resume ", id,
                              "' to go on");
    }
    (void)inventory_.UpdateRollout(r);
  }
}

RolloutRunner::WaveResult RolloutRunner::RunWave(RolloutRecord& r,
                                                 const fleet::v1::RolloutSpec& spec,
                                                 const migrations::RevisionGraph& graph) {
  auto all = inventory_.ListRolloutTenants(r.id);
  if (!all.ok()) return WaveResult::kInterrupted;
  std::vector<RolloutTenantRecord> wave;
  int wave_size = 0;
  for (auto& t : *all) {
    if (t.wave != r.wave) continue;
    ++wave_size;
    if (t.state == "pending" || t.state == "running") wave.push_back(t);
  }
  const int allowed = AllowedFailures(spec, wave_size);
  std::atomic<int> failures{0};
  for (const auto& t : *all) failures += t.wave == r.wave && t.state == "failed";
  std::atomic<size_t> next{0};
  std::atomic<bool> halt{false};
  auto worker = [&] {
    for (size_t i = next++; i < wave.size(); i = next++) {
      if (halt || !StillRunning(r.id, "running")) {
        halt = true;
        return;
      }
      RolloutTenantRecord t = wave[i];
      t.state = "running";
      t.started_at = Now();
      (void)inventory_.UpdateRolloutTenant(t);
      auto expected = graph.PlanUpgrade(t.start_heads, spec.target());
      absl::Time deadline = absl::Now() + absl::Seconds(spec.tenant_timeout_seconds());
      absl::Status outcome;
      for (;;) {
        AgentClient::MigrateCall call{t.tenant_id, spec.target(), true, r.bundle_digest, r.id,
                                      r.actor, deadline - absl::Now()};
        auto heads = agents_.Migrate(t.agent, call);
        outcome = heads.status();
        // An unreachable agent is retried until the tenant's deadline.
        if (!absl::IsUnavailable(outcome) || absl::Now() + options_.retry_backoff >= deadline ||
            !Sleep(options_.retry_backoff)) {
          break;
        }
      }
      // Never trust a success reply alone: read the heads back. After a
      // failure too, so the log says where the tenant was left.
      bool heads_known = false;
      if (!outcome.ok()) {
        if (auto now = agents_.GetTenant(t.agent, t.tenant_id, ""); now.ok()) {
          t.heads = now->heads;
          heads_known = true;
          (void)inventory_.SetTenantHeads(t.tenant_id, now->heads);
        }
      } else {
        auto now = agents_.GetTenant(t.agent, t.tenant_id, "");
        if (!now.ok()) {
          outcome = now.status();
        } else {
          t.heads = now->heads;
          heads_known = true;
          (void)inventory_.SetTenantHeads(t.tenant_id, now->heads);
          if (!expected.ok() || Sorted(now->heads) != Sorted(expected->end_heads)) {
            outcome = absl::InternalError(absl::StrCat(
                "the agent reported success but tenant ", t.tenant_id, " is at ",
                Heads(now->heads), ", not ",
                expected.ok() ? Heads(expected->end_heads) : std::string("the target")));
          }
        }
      }
      t.finished_at = Now();
      t.state = outcome.ok() ? "succeeded" : "failed";
      t.error = outcome.ok() ? "" : std::string(outcome.message());
      (void)inventory_.UpdateRolloutTenant(t);
      (void)inventory_.Audit(r.actor, absl::StrCat("upgrade ", t.state), r.id, t.tenant_id,
                             absl::StrCat(Heads(t.start_heads), " -> ",
                                          heads_known ? Heads(t.heads) : std::string("?"),
                                          t.error.empty() ? "" : ": " + t.error));
      if (!outcome.ok() && ++failures > allowed) halt = true;  // in-flight tenants finish
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < spec.parallel() && static_cast<size_t>(w) < wave.size(); ++w) {
    workers.emplace_back(worker);
  }
  for (auto& w : workers) w.join();
  if (failures > allowed) {
    Halt(r, spec, absl::StrCat("wave ", r.wave, " failed: ", failures.load(), " of ", wave_size,
                               " tenants failed (max-failures ", spec.max_failures(), ")"));
    return WaveResult::kFailed;
  }
  if (halt) return WaveResult::kInterrupted;  // paused or aborted meanwhile
  return WaveResult::kDone;
}

RolloutRunner::WaveResult RolloutRunner::Bake(RolloutRecord& r, const fleet::v1::RolloutSpec& spec,
                                              const migrations::RevisionGraph& graph) {
  absl::Time until;
  std::string err;
  if (r.bake_until.empty() || !absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", r.bake_until, &until, &err)) {
    until = absl::Now() + absl::Seconds(spec.bake_seconds());
    r.bake_until = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", until, absl::UTCTimeZone());
    (void)inventory_.UpdateRollout(r);  // a restarted controller bakes only what is left
  }
  while (absl::Now() < until) {
    if (!StillRunning(r.id, "running")) return WaveResult::kInterrupted;
    if (!Sleep(std::min(absl::Milliseconds(200), until - absl::Now()))) {
      return WaveResult::kInterrupted;
    }
  }
  // After the bake, every tenant of the wave is read again.
  auto all = inventory_.ListRolloutTenants(r.id);
  if (!all.ok()) return WaveResult::kInterrupted;
  int failures = 0, size = 0;
  for (auto t : *all) {
    if (t.wave != r.wave) continue;
    ++size;
    if (t.state != "succeeded") {
      failures += t.state == "failed";
      continue;
    }
    auto now = agents_.GetTenant(t.agent, t.tenant_id, r.bundle_digest);
    auto expected = graph.PlanUpgrade(t.start_heads, spec.target());
    std::string problem;
    if (!now.ok()) {
      problem = std::string(now.status().message());
    } else if (now->dirty || !now->drifted.empty() || !now->error.empty()) {
      problem = now->dirty ? "dirty" : !now->drifted.empty() ? "drifted" : now->error;
    } else if (!expected.ok() || Sorted(now->heads) != Sorted(expected->end_heads)) {
      problem = absl::StrCat("moved to ", Heads(now->heads), " during the bake");
    } else {
      // The applied revisions' migrate:verify queries, run again.
      auto failures = agents_.Verify(t.agent, t.tenant_id, r.bundle_digest);
      if (!failures.ok()) {
        problem = std::string(failures.status().message());
      } else if (!failures->empty()) {
        problem = absl::StrJoin(*failures, "; ");
      }
    }
    if (!problem.empty()) {
      t.state = "failed";
      t.error = absl::StrCat("after the bake: ", problem);
      (void)inventory_.UpdateRolloutTenant(t);
      ++failures;
    }
  }
  if (failures > AllowedFailures(spec, size)) {
    Halt(r, spec, absl::StrCat("wave ", r.wave, " failed its bake: ", failures, " of ", size,
                               " tenants failed"));
    return WaveResult::kFailed;
  }
  return WaveResult::kDone;
}

void RolloutRunner::Halt(RolloutRecord& r, const fleet::v1::RolloutSpec& spec,
                         const std::string& reason) {
  r.state = "halted";
  r.reason = reason;
  r.bake_until.clear();
  (void)inventory_.UpdateRollout(r);
  (void)inventory_.Audit("controller", "rollout halted", r.id, "", reason);
  if (spec.on_failure() == "halt") return;
  // Mark what to roll back before doing it: a restart finds the same set.
  auto all = inventory_.ListRolloutTenants(r.id);
  if (!all.ok()) return;
  for (auto t : *all) {
    bool moved = t.state == "succeeded" || t.state == "failed" || t.state == "running";
    bool in_scope = spec.on_failure() == "rollback-all" || t.wave == r.wave;
    if (moved && in_scope) {
      t.state = "rolling_back";
      (void)inventory_.UpdateRolloutTenant(t);
    }
  }
  r.state = "rolling_back";
  (void)inventory_.UpdateRollout(r);
}

void RolloutRunner::RunRollback(RolloutRecord& r, const fleet::v1::RolloutSpec& spec) {
  auto all = inventory_.ListRolloutTenants(r.id);
  if (!all.ok()) return;
  std::vector<RolloutTenantRecord> todo;
  for (const auto& t : *all) {
    if (t.state == "rolling_back") todo.push_back(t);
  }
  std::atomic<size_t> next{0};
  std::mutex failed_mu;
  std::vector<std::string> failed;
  auto worker = [&] {
    for (size_t i = next++; i < todo.size(); i = next++) {
      if (stopping_) return;
      RolloutTenantRecord t = todo[i];
      absl::Time deadline = absl::Now() + absl::Seconds(spec.tenant_timeout_seconds());
      absl::Status outcome;
      auto now = agents_.GetTenant(t.agent, t.tenant_id, "");
      // Down to exactly the heads it started from, every branch included.
      std::vector<std::string> targets{absl::StrCat("=", absl::StrJoin(t.start_heads, ","))};
      if (now.ok() && Sorted(now->heads) == Sorted(t.start_heads)) targets.clear();
      for (const std::string& target : targets) {
        for (;;) {
          AgentClient::MigrateCall call{t.tenant_id, target, false, r.bundle_digest, r.id,
                                        r.actor, deadline - absl::Now()};
          outcome = agents_.Migrate(t.agent, call).status();
          if (!absl::IsUnavailable(outcome) || absl::Now() + options_.retry_backoff >= deadline ||
              !Sleep(options_.retry_backoff)) {
            break;
          }
        }
        if (!outcome.ok()) break;
      }
      if (stopping_) return;  // a restarted controller picks this tenant up again
      now = agents_.GetTenant(t.agent, t.tenant_id, "");
      if (outcome.ok() && now.ok() && Sorted(now->heads) != Sorted(t.start_heads)) {
        outcome = absl::InternalError(absl::StrCat("tenant ", t.tenant_id, " is at ",
                                                   Heads(now->heads), " after the rollback, not ",
                                                   Heads(t.start_heads)));
      } else if (outcome.ok() && !now.ok()) {
        outcome = now.status();
      }
      if (now.ok()) {
        t.heads = now->heads;
        (void)inventory_.SetTenantHeads(t.tenant_id, now->heads);
      }
      t.state = outcome.ok() ? "rolled_back" : "rollback_failed";
      // Keep why the tenant failed; add why its rollback failed.
      if (!outcome.ok()) {
        t.error = absl::StrCat(t.error.empty() ? "" : t.error + "; ", "rollback: ",
                               outcome.message());
      }
      t.finished_at = Now();
      (void)inventory_.UpdateRolloutTenant(t);
      (void)inventory_.Audit(r.actor, absl::StrCat("downgrade ", t.state), r.id, t.tenant_id,
                             absl::StrCat("-> ", Heads(t.start_heads),
                                          t.error.empty() ? "" : ": " + t.error));
      if (!outcome.ok()) {
        std::lock_guard<std::mutex> lock(failed_mu);
        failed.push_back(t.tenant_id);
      }
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < spec.parallel() && static_cast<size_t>(w) < todo.size(); ++w) {
    workers.emplace_back(worker);
  }
  for (auto& w : workers) w.join();
  if (stopping_) return;
  std::string halted_reason = r.reason;
  if (failed.empty()) {
    r.state = "rolled_back";
    r.reason = absl::StrCat(halted_reason, halted_reason.empty() ? "" : "; ", todo.size(),
                            " tenants rolled back to their starting revisions");
  } else {
    std::sort(failed.begin(), failed.end());
    r.state = "rollback_failed";
    r.reason = absl::StrCat(halted_reason, halted_reason.empty() ? "" : "; ",
                            "rollback failed for tenants ", absl::StrJoin(failed, ", "),
                            ": they need a person");
  }
  (void)inventory_.UpdateRollout(r);
  (void)inventory_.Audit("controller", absl::StrCat("rollout ", r.state), r.id, "", r.reason);
}

}  // namespace fleet::controller
