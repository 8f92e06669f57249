#include "controller/rollout_runner.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/rollout_plan.h"
#include "controller/rollout_runner_internal.h"
#include "proto/states.h"
#include "serving/log.h"

namespace fleet::controller {
namespace {

namespace v1 = fleet::v1;
using proto::StateName;
using runner_internal::Audited;
using runner_internal::Heads;
using runner_internal::OnWorkers;
using runner_internal::Sorted;

}  // namespace

RolloutRunner::RolloutRunner(Inventory& inventory, AgentClient& agents, BundleGraphs& graphs,
                             Clock& clock, Options options)
    : inventory_(inventory),
      agents_(agents),
      graphs_(graphs),
      clock_(clock),
      options_(std::move(options)) {}

RolloutRunner::~RolloutRunner() { Stop(); }

void RolloutRunner::Stop() {
  std::map<std::string, std::thread> drivers;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    drivers.swap(drivers_);
  }
  changed_.SignalAll();
  clock_.Wake();
  for (auto& [id, t] : drivers) {
    if (t.joinable()) t.join();
  }
}

void RolloutRunner::Wake() {
  ++generation_;
  clock_.Wake();
}

bool RolloutRunner::WaitUntilIdle(const std::string& id, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (running_.count(id) != 0) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) return running_.count(id) == 0;  // timed out
  }
  return true;
}

std::string RolloutRunner::Stalled(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = stalled_.find(id);
  return it == stalled_.end() ? "" : it->second;
}

absl::Status RolloutRunner::ResumeAll() {
  auto rollouts = inventory_.ListActiveRollouts();
  if (!rollouts.ok()) {
    spdlog::error("event=resume-failed error=\"{}\"", rollouts.status().message());
    return rollouts.status();
  }
  for (const auto& r : *rollouts) {
    if (!proto::IsDriven(r.state)) continue;
    spdlog::info("rollout={} event=resume state={} wave={}", r.id, StateName(r.state), r.wave);
    Drive(r.id);
  }
  return absl::OkStatus();
}

void RolloutRunner::Drive(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  stalled_.erase(id);
  if (running_.count(id)) {
    // The live driver may be on its way out after reading an old state.
    again_.insert(id);
    return;
  }
  // Reap drivers that ended (their threads hold stacks until joined).
  for (auto it = drivers_.begin(); it != drivers_.end();) {
    if (!running_.count(it->first) && it->second.joinable()) {
      it->second.join();
      it = drivers_.erase(it);
    } else {
      ++it;
    }
  }
  running_.insert(id);
  drivers_[id] = std::thread([this, id] {
    for (;;) {
      Run(id);
      absl::MutexLock l(&mu_);
      if (stopping_ || !again_.erase(id)) {
        running_.erase(id);
        break;
      }
    }
    changed_.SignalAll();
  });
}

bool RolloutRunner::Sleep(absl::Duration d) {
  return clock_.SleepUntil(clock_.Now() + d, [this] { return stopping_.load(); });
}

void RolloutRunner::AtPoint(std::string_view point, const std::string& id) {
  if (options_.at_point) options_.at_point(point, id);
}

bool RolloutRunner::RecordTenant(Driven& d, const RolloutTenantRecord& done,
                                 v1::RolloutTenantState from, bool record_heads,
                                 AuditEntry audit) {
  TenantStepWrite record;
  record.step = done;
  record.from = from;
  record.record_heads = record_heads;
  record.audit = std::move(audit);
  if (absl::Status s = inventory_.WriteTenantStep(record); !s.ok()) {
    Stall(d.id, s);
    return false;
  }
  return true;
}

void RolloutRunner::Stall(const std::string& id, const absl::Status& why) {
  std::string reason = absl::StrCat("the controller stopped driving this rollout: ", why.message(),
                                    "; 'fleetctl rollout resume ", id,
                                    "' (or a controller restart) drives it again");
  spdlog::error("rollout={} event=stalled error=\"{}\"", id, why.message());
  absl::MutexLock lock(&mu_);
  stalled_[id] = std::move(reason);
}

RolloutRunner::Outcome RolloutRunner::Move(Driven& d, const RolloutRecord& r, RolloutEvent event,
                                           RolloutTransition t) {
  auto to = NextState(r.state, event);
  if (!to.ok()) {
    // The runner asked for a move its own table refuses: a bug, not a race.
    Stall(d.id, absl::InternalError(absl::StrCat("rollout ", d.id, " ", to.status().message())));
    return Outcome::kStalled;
  }
  t.id = d.id;
  t.from = r.state;
  t.to = *to;
  absl::Status s = inventory_.TransitionRollout(t);
  if (absl::IsAborted(s)) {
    spdlog::info("rollout={} event=moved-meanwhile wanted=\"{}\" detail=\"{}\"", d.id,
                 EventName(event), s.message());
    return Outcome::kReread;
  }
  if (!s.ok()) {
    Stall(d.id, s);
    return Outcome::kStalled;
  }
  spdlog::info("rollout={} event=\"{}\" from={} to={} wave={}", d.id, EventName(event),
               StateName(r.state), StateName(*to), t.wave.value_or(r.wave));
  return Outcome::kReread;
}

void RolloutRunner::Run(const std::string& id) {
  Driven d;
  d.id = id;
  absl::Status loaded = [&]() -> absl::Status {
    auto r = inventory_.GetRollout(id);
    if (!r.ok()) return r.status();
    d.bundle_digest = r->bundle_digest;
    d.actor = r->actor;
    auto parsed = google::protobuf::util::JsonStringToMessage(r->spec_json, &d.spec);
    if (!parsed.ok()) {
      return absl::DataLossError(absl::StrCat("its spec does not parse: ", parsed.ToString()));
    }
    auto graph = graphs_.Get(r->bundle_digest);
    if (!graph.ok()) return graph.status();
    d.graph = *graph;
    return absl::OkStatus();
  }();
  if (!loaded.ok()) {
    Stall(id, loaded);
    return;
  }
  while (!stopping_) {
    auto r = inventory_.GetRollout(id);
    if (!r.ok()) {
      Stall(id, r.status());
      return;
    }
    Outcome next = Outcome::kDone;
    switch (r->state) {
      case v1::ROLLOUT_PENDING:
        next = Move(d, *r, RolloutEvent::kStart,
                    Audited(AuditEntry{"", "controller", "rollout running", id, "", ""}));
        if (next == Outcome::kReread) AtPoint("rollout-started", id);
        break;
      case v1::ROLLOUT_RUNNING:
        next = StepRunning(d, *r);
        break;
      case v1::ROLLOUT_ROLLING_BACK:
        next = RunRollback(d, *r);
        break;
      default:  // paused, halted, aborted, finished: nothing to drive
        return;
    }
    if (next != Outcome::kReread) return;
  }
}

RolloutRunner::Outcome RolloutRunner::StepRunning(Driven& d, RolloutRecord& r) {
  if (r.wave >= r.waves) {
    RolloutTransition t = Audited(AuditEntry{"", "controller", "rollout succeeded", d.id, "", ""});
    t.reason = "every wave reached its target";
    Outcome o = Move(d, r, RolloutEvent::kLastWaveDone, std::move(t));
    if (o == Outcome::kReread) AtPoint("finished", d.id);
    return o;
  }
  if (r.bake_until.empty()) {
    switch (RunWave(d, r)) {
      case WaveResult::kStalled: return Outcome::kStalled;
      case WaveResult::kInterrupted: return Outcome::kReread;
      case WaveResult::kFailed: {
        // Counted again from the inventory: the same after a restart.
        auto all = inventory_.ListRolloutTenants(d.id);
        if (!all.ok()) {
          Stall(d.id, all.status());
          return Outcome::kStalled;
        }
        int failed = 0, size = 0;
        for (const auto& t : *all) {
          if (t.wave != r.wave) continue;
          ++size;
          failed += t.state == v1::TENANT_FAILED;
        }
        return FailWave(d, r,
                        absl::StrCat("wave ", r.wave, " failed: ", failed, " of ", size,
                                     " tenants failed (max-failures ", d.spec.max_failures(), ")"));
      }
      case WaveResult::kDone:
        break;
    }
    AtPoint("wave-done", d.id);
    if (d.spec.bake_seconds() > 0) {
      std::string until = Clock::Format(clock_.Now() + absl::Seconds(d.spec.bake_seconds()));
      // A restarted controller bakes only what is left.
      RolloutTransition t;
      t.from_wave = r.wave;
      t.bake_until = until;
      Outcome o = Move(d, r, RolloutEvent::kBakeStarted, std::move(t));
      if (o != Outcome::kReread) return o;
      AtPoint("bake-started", d.id);
      return Outcome::kReread;  // the next pass bakes, from what was written
    }
  } else {
    std::string reason;
    switch (Bake(d, r, &reason)) {
      case WaveResult::kStalled: return Outcome::kStalled;
      case WaveResult::kInterrupted: return Outcome::kReread;
      case WaveResult::kFailed: return FailWave(d, r, reason);
      case WaveResult::kDone: break;
    }
  }
  const bool gate = PausesAfter(d.spec, r.wave, r.waves);
  RolloutTransition t;
  t.from_wave = r.wave;
  t.wave = r.wave + 1;
  t.bake_until = "";
  if (gate) {
    t.reason = absl::StrCat("gate after wave ", r.wave, ": run 'fleetctl rollout resume ", d.id,
                            "' to go on");
  }
  Outcome o = Move(d, r, gate ? RolloutEvent::kGateReached : RolloutEvent::kWaveDone, t);
  if (o == Outcome::kReread) AtPoint("wave-advanced", d.id);
  return o;
}

RolloutRunner::Outcome RolloutRunner::FailWave(Driven& d, const RolloutRecord& r,
                                               const std::string& reason) {
  RolloutTransition t = Audited(AuditEntry{"", "controller", "rollout halted", d.id, "", reason});
  t.from_wave = r.wave;
  t.reason = reason;
  t.bake_until = "";
  RolloutEvent event = RolloutEvent::kWaveFailedHalt;
  if (d.spec.on_failure() != "halt") {
    // Halting and marking what to roll back are one write: a restart finds
    // the rollout rolling back with the same set, never halted half-way.
    event = RolloutEvent::kWaveFailedRollback;
    RolloutTransition::TenantMove move{StatesAccepting(TenantEvent::kMarkRollback), std::nullopt,
                                       v1::TENANT_ROLLING_BACK};
    if (d.spec.on_failure() == "rollback-wave") move.wave = r.wave;
    t.tenants.push_back(std::move(move));
  }
  spdlog::warn("rollout={} event=wave-failed wave={} reason=\"{}\"", d.id, r.wave, reason);
  Outcome o = Move(d, r, event, std::move(t));
  if (o == Outcome::kReread) AtPoint("halted", d.id);
  return o;
}

absl::StatusOr<std::vector<std::string>> RolloutRunner::MigrateTenant(
    Driven& d, const RolloutTenantRecord& t, const std::string& target, bool upgrade) {
  absl::Time deadline = clock_.Now() + absl::Seconds(d.spec.tenant_timeout_seconds());
  // A batched revision's progress: recorded at most once per
  // progress_interval while it runs, and at its end; counted in metrics.
  absl::Time recorded = absl::InfinitePast();
  int64_t counted_rows = 0, counted_batches = 0;
  auto on_progress = [&](const AgentClient::MigrateProgress& p) {
    if (options_.metrics != nullptr) {
      if (p.resumed && counted_batches == 0 && counted_rows == 0) {
        // The stopped run's rows were counted when they were done.
        counted_rows = p.rows;
        counted_batches = p.batches;
      }
      options_.metrics->CountBatches(std::max<int64_t>(0, p.batches - counted_batches),
                                     std::max<int64_t>(0, p.rows - counted_rows));
      counted_rows = std::max(counted_rows, p.rows);
      counted_batches = std::max(counted_batches, p.batches);
    }
    const absl::Time now = clock_.Now();
    if (!p.final && now - recorded < options_.progress_interval) return;
    recorded = now;
    v1::BatchProgress progress;
    progress.set_revision(p.revision);
    progress.set_rows(p.rows);
    progress.set_batches(p.batches);
    progress.set_rows_per_second(p.rows_per_second);
    progress.set_done(p.final);
    progress.set_resumed(p.resumed);
    progress.set_updated_at(clock_.NowText());
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(progress, &json).ok()) return;
    absl::Status s = inventory_.WriteTenantProgress(d.id, t.tenant_id, json);
    if (!s.ok()) {
      // Progress guards nothing: the migration goes on, the miss is said.
      spdlog::warn("rollout={} tenant={} event=progress-not-recorded rows={} error=\"{}\"", d.id,
                   t.tenant_id, p.rows, s.message());
    }
  };
  for (;;) {
    AgentClient::MigrateCall call{t.tenant_id, target,  upgrade, d.bundle_digest,
                                  d.id,        d.actor, deadline - clock_.Now(),
                                  upgrade ? std::function<void(const AgentClient::MigrateProgress&)>(
                                                on_progress)
                                          : nullptr};
    absl::StatusOr<std::vector<std::string>> outcome = agents_.Migrate(t.agent, call);
    // An unreachable agent is retried until the tenant's deadline.
    if (!absl::IsUnavailable(outcome.status()) ||
        clock_.Now() + options_.retry_backoff >= deadline) {
      return outcome;
    }
    spdlog::warn("rollout={} tenant={} agent={} event=agent-unreachable retry_in={}", d.id,
                 t.tenant_id, t.agent, absl::FormatDuration(options_.retry_backoff));
    if (!Sleep(options_.retry_backoff)) return outcome;
  }
}

RolloutRunner::WaveResult RolloutRunner::RunWave(Driven& d, const RolloutRecord& r) {
  auto all = inventory_.ListRolloutTenants(r.id);
  if (!all.ok()) {
    Stall(d.id, all.status());
    return WaveResult::kStalled;
  }
  std::vector<RolloutTenantRecord> wave;
  int wave_size = 0;
  int already_failed = 0;
  for (auto& t : *all) {
    if (t.wave != r.wave) continue;
    ++wave_size;
    already_failed += t.state == v1::TENANT_FAILED;
    if (t.state == v1::TENANT_PENDING || t.state == v1::TENANT_RUNNING) wave.push_back(t);
  }
  const int allowed = AllowedFailures(d.spec, wave_size);
  std::atomic<int> failures{already_failed};
  if (failures > allowed) return WaveResult::kFailed;  // failed before a restart
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false}, interrupted{false}, stalled{false};
  auto worker = [&] {
    for (size_t i = next++; i < wave.size() && !stop; i = next++) {
      if (stopping_) {
        interrupted = true;
        return;
      }
      RolloutTenantRecord t = wave[i];
      // Started only while the rollout runs: once a pause or an abort is
      // written, this write is refused and no further tenant starts.
      RolloutTenantRecord started = t;
      started.state = v1::TENANT_RUNNING;
      started.started_at = clock_.NowText();
      started.error.clear();
      TenantStepWrite start;
      start.step = started;
      start.from = t.state;
      start.while_rollout = v1::ROLLOUT_RUNNING;
      absl::Status s = inventory_.WriteTenantStep(start);
      if (absl::IsAborted(s)) {
        spdlog::info("rollout={} tenant={} event=not-started detail=\"{}\"", d.id, t.tenant_id,
                     s.message());
        interrupted = true;
        stop = true;
        return;
      }
      if (!s.ok()) {
        Stall(d.id, s);
        stalled = true;
        stop = true;
        return;
      }
      spdlog::info("rollout={} tenant={} agent={} event=upgrade-started wave={}", d.id,
                   t.tenant_id, t.agent, r.wave);
      AtPoint("tenant-started", d.id);
      t = started;
      auto expected = d.graph->PlanUpgrade(t.start_heads, d.spec.target());
      auto migrated = MigrateTenant(d, t, d.spec.target(), true);
      absl::Status outcome = migrated.status();
      // Never trust a success reply alone: the heads the agent read back
      // after its last commit must be the plan's. After a failure, the
      // tenant is read again, so the log says where it was left.
      bool heads_known = false;
      if (migrated.ok()) {
        t.heads = *migrated;
        heads_known = true;
        if (!expected.ok() || Sorted(t.heads) != Sorted(expected->end_heads)) {
          outcome = absl::InternalError(absl::StrCat(
              "the agent reported success but tenant ", t.tenant_id, " is at ", Heads(t.heads),
              ", not ", expected.ok() ? Heads(expected->end_heads) : std::string("the target")));
        }
      } else if (auto now = agents_.GetTenant(t.agent, t.tenant_id, ""); now.ok()) {
        t.heads = now->heads;
        heads_known = true;
      }
      AtPoint("tenant-migrated", d.id);
      RolloutTenantRecord done = t;
      done.finished_at = clock_.NowText();
      done.state = outcome.ok() ? v1::TENANT_SUCCEEDED : v1::TENANT_FAILED;
      done.error = outcome.ok() ? "" : std::string(outcome.message());
      AuditEntry audit{"", r.actor, absl::StrCat("upgrade ", StateName(done.state)), d.id,
                       t.tenant_id,
                       absl::StrCat(Heads(t.start_heads), " -> ",
                                    heads_known ? Heads(t.heads) : std::string("?"),
                                    done.error.empty() ? "" : ": " + done.error)};
      if (!RecordTenant(d, done, v1::TENANT_RUNNING, heads_known, std::move(audit))) {
        // The tenant stays "running" in the inventory: a resumed driver
        // migrates it again and its agent answers "nothing to do".
        stalled = true;
        stop = true;
        return;
      }
      if (outcome.ok()) {
        spdlog::info("rollout={} tenant={} event=upgrade-succeeded heads={}", d.id, t.tenant_id,
                     Heads(t.heads));
      } else {
        spdlog::warn("rollout={} tenant={} event=upgrade-failed error=\"{}\"", d.id, t.tenant_id,
                     done.error);
      }
      AtPoint("tenant-recorded", d.id);
      if (!outcome.ok() && ++failures > allowed) stop = true;  // in-flight tenants finish
    }
  };
  OnWorkers(d.spec.parallel(), wave.size(), worker);
  if (stalled) return WaveResult::kStalled;
  if (failures > allowed) return WaveResult::kFailed;
  if (interrupted) return WaveResult::kInterrupted;  // paused, aborted or stopping meanwhile
  return WaveResult::kDone;
}

RolloutRunner::WaveResult RolloutRunner::Bake(Driven& d, const RolloutRecord& r,
                                              std::string* reason) {
  absl::Time until;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%dT%H:%M:%SZ", r.bake_until, &until, &err)) until = clock_.Now();
  for (;;) {
    auto current = inventory_.GetRollout(d.id);
    if (!current.ok()) {
      Stall(d.id, current.status());
      return WaveResult::kStalled;
    }
    if (current->state != v1::ROLLOUT_RUNNING || current->wave != r.wave) {
      return WaveResult::kInterrupted;
    }
    absl::Time now = clock_.Now();
    if (now >= until) break;
    const uint64_t seen = generation_;
    clock_.SleepUntil(std::min(until, now + options_.recheck),
                      [&] { return stopping_.load() || generation_ != seen; });
    if (stopping_) return WaveResult::kInterrupted;
  }
  // After the bake, every tenant of the wave is read again.
  auto all = inventory_.ListRolloutTenants(r.id);
  if (!all.ok()) {
    Stall(d.id, all.status());
    return WaveResult::kStalled;
  }
  int failures = 0, size = 0;
  for (auto t : *all) {
    if (t.wave != r.wave) continue;
    ++size;
    if (t.state != v1::TENANT_SUCCEEDED) {
      failures += t.state == v1::TENANT_FAILED;
      continue;
    }
    auto now = agents_.GetTenant(t.agent, t.tenant_id, r.bundle_digest);
    auto expected = d.graph->PlanUpgrade(t.start_heads, d.spec.target());
    std::string problem;
    if (!now.ok()) {
      problem = std::string(now.status().message());
    } else if (now->dirty || !now->drifted.empty() || !now->error.empty()) {
      problem = now->dirty ? "dirty" : !now->drifted.empty() ? "drifted" : now->error;
    } else if (!expected.ok() || Sorted(now->heads) != Sorted(expected->end_heads)) {
      problem = absl::StrCat("moved to ", Heads(now->heads), " during the bake");
    } else {
      // The applied revisions' migrate:verify queries, run again.
      auto verify = agents_.Verify(t.agent, t.tenant_id, r.bundle_digest);
      if (!verify.ok()) {
        problem = std::string(verify.status().message());
      } else if (!verify->empty()) {
        problem = absl::StrJoin(*verify, "; ");
      }
    }
    if (problem.empty()) continue;
    RolloutTenantRecord failed = t;
    failed.state = v1::TENANT_FAILED;
    failed.error = absl::StrCat("after the bake: ", problem);
    TenantStepWrite write;
    write.step = failed;
    write.from = v1::TENANT_SUCCEEDED;
    write.audit = AuditEntry{"", "controller", "bake failed", d.id, t.tenant_id, failed.error};
    absl::Status s = inventory_.WriteTenantStep(write);
    if (!s.ok()) {
      Stall(d.id, s);
      return WaveResult::kStalled;
    }
    spdlog::warn("rollout={} tenant={} event=bake-failed error=\"{}\"", d.id, t.tenant_id,
                 failed.error);
    ++failures;
  }
  if (failures > AllowedFailures(d.spec, size)) {
    *reason = absl::StrCat("wave ", r.wave, " failed its bake: ", failures, " of ", size,
                           " tenants failed");
    return WaveResult::kFailed;
  }
  return WaveResult::kDone;
}

}  // namespace fleet::controller
