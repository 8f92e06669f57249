// RolloutRunner's rollback: every tenant a failed or aborted rollout moved
// is taken back to where it started, each checked against a fresh read.
#include "absl/strings/str_cat.h"
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

RolloutRunner::Outcome RolloutRunner::RunRollback(Driven& d, const RolloutRecord& r) {
  auto all = inventory_.ListRolloutTenants(r.id);
  if (!all.ok()) {
    Stall(d.id, all.status());
    return Outcome::kStalled;
  }
  std::vector<RolloutTenantRecord> todo;
  for (const auto& t : *all) {
    if (t.state == v1::TENANT_ROLLING_BACK) todo.push_back(t);
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> stalled{false};
  auto worker = [&] {
    for (size_t i = next++; i < todo.size() && !stalled; i = next++) {
      if (stopping_) return;
      RolloutTenantRecord t = todo[i];
      spdlog::info("rollout={} tenant={} agent={} event=rollback-started to={}", d.id, t.tenant_id,
                   t.agent, Heads(t.start_heads));
      absl::Status outcome;
      absl::StatusOr<TenantRecord> now = agents_.GetTenant(t.agent, t.tenant_id, "");
      // Down to exactly the heads it started from, every branch included.
      if (!now.ok() || Sorted(now->heads) != Sorted(t.start_heads)) {
        auto migrated =
            MigrateTenant(d, t, absl::StrCat("=", absl::StrJoin(t.start_heads, ",")), false);
        outcome = migrated.status();
        if (migrated.ok()) {
          // The heads the agent read back after its last commit.
          now = TenantRecord{};
          now->heads = *std::move(migrated);
        } else {
          now = agents_.GetTenant(t.agent, t.tenant_id, "");  // where it was left
        }
      }
      if (stopping_) return;  // a restarted controller picks this tenant up again
      if (outcome.ok() && now.ok() && Sorted(now->heads) != Sorted(t.start_heads)) {
        outcome =
            absl::InternalError(absl::StrCat("tenant ", t.tenant_id, " is at ", Heads(now->heads),
                                             " after the rollback, not ", Heads(t.start_heads)));
      } else if (outcome.ok() && !now.ok()) {
        outcome = now.status();
      }
      AtPoint("rollback-tenant-migrated", d.id);
      RolloutTenantRecord done = t;
      if (now.ok()) done.heads = now->heads;
      done.state = outcome.ok() ? v1::TENANT_ROLLED_BACK : v1::TENANT_ROLLBACK_FAILED;
      // Keep why the tenant failed; add why its rollback failed.
      if (!outcome.ok()) {
        done.error =
            absl::StrCat(t.error.empty() ? "" : t.error + "; ", "rollback: ", outcome.message());
      }
      done.finished_at = clock_.NowText();
      AuditEntry audit{
          "",
          r.actor,
          absl::StrCat("downgrade ", StateName(done.state)),
          d.id,
          t.tenant_id,
          absl::StrCat("-> ", Heads(t.start_heads), done.error.empty() ? "" : ": " + done.error)};
      if (!RecordTenant(d, done, v1::TENANT_ROLLING_BACK, now.ok(), std::move(audit))) {
        stalled = true;
        return;
      }
      if (outcome.ok()) {
        spdlog::info("rollout={} tenant={} event=rolled-back heads={}", d.id, t.tenant_id,
                     Heads(done.heads));
      } else {
        spdlog::error("rollout={} tenant={} event=rollback-failed error=\"{}\"", d.id, t.tenant_id,
                      done.error);
      }
      AtPoint("rollback-tenant-recorded", d.id);
    }
  };
  OnWorkers(d.spec.parallel(), todo.size(), worker);
  if (stalled) return Outcome::kStalled;
  if (stopping_) return Outcome::kDone;
  // The end is counted from the inventory, so a restart counts the same.
  auto after = inventory_.ListRolloutTenants(r.id);
  if (!after.ok()) {
    Stall(d.id, after.status());
    return Outcome::kStalled;
  }
  std::vector<std::string> failed;
  int rolled_back = 0;
  for (const auto& t : *after) {
    if (t.state == v1::TENANT_ROLLBACK_FAILED) failed.push_back(t.tenant_id);
    if (t.state == v1::TENANT_ROLLBACK_FAILED || t.state == v1::TENANT_ROLLED_BACK) ++rolled_back;
    if (t.state == v1::TENANT_ROLLING_BACK) return Outcome::kReread;  // not all done: again
  }
  std::string halted_reason = r.reason;
  std::string reason;
  if (failed.empty()) {
    reason = absl::StrCat(halted_reason, halted_reason.empty() ? "" : "; ", rolled_back,
                          " tenants rolled back to their starting revisions");
  } else {
    reason = absl::StrCat(halted_reason, halted_reason.empty() ? "" : "; ",
                          "rollback failed for tenants ", absl::StrJoin(failed, ", "),
                          ": they need a person");
  }
  RolloutEvent event = failed.empty() ? RolloutEvent::kRollbackDone : RolloutEvent::kRollbackFailed;
  RolloutTransition t = Audited(
      AuditEntry{"", "controller",
                 absl::StrCat("rollout ", failed.empty() ? "rolled_back" : "rollback_failed"), d.id,
                 "", reason});
  t.reason = reason;
  Outcome o = Move(d, r, event, std::move(t));
  if (o == Outcome::kReread) AtPoint("finished", d.id);
  return o;
}

}  // namespace fleet::controller
