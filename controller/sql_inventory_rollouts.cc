// SqlInventory's rollouts: creating one with its tenants, reading them,
// compare-and-set transitions of a rollout and steps of its tenants, and a
// batched revision's progress (controller/sql_inventory_internal.h).
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/sql_inventory_internal.h"
#include "migrations/status_macros.h"
#include "proto/states.h"

namespace fleet::controller::sql_inventory_internal {

absl::Status SqlInventory::CreateRollout(const RolloutRecord& r,
                                         const std::vector<RolloutTenantRecord>& tenants,
                                         const std::optional<AuditEntry>& audit) {
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    std::vector<std::string> ids;
    for (const auto& t : tenants) ids.push_back(t.tenant_id);
    ASSIGN_OR_RETURN(auto busy, BusyTenants(ids, r.id));
    if (!busy.empty()) {
      return absl::AlreadyExistsError(absl::StrCat("tenant ", busy.front().first,
                                                   " is in active rollout ", busy.front().second));
    }
    std::string now = Now();
    Stmt ins(*db_,
             "INSERT INTO rollouts (id, state, spec, bundle_digest, target, actor, wave, "
             "waves, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    ins.Bind(r.id)
        .Bind(Name(r.state))
        .Bind(r.spec_json)
        .Bind(r.bundle_digest)
        .Bind(r.target)
        .Bind(r.actor)
        .Bind(int64_t{r.wave})
        .Bind(int64_t{r.waves})
        .Bind(r.reason)
        .Bind(now)
        .Bind(now);
    RETURN_IF_ERROR(ins.Run());
    for (const auto& t : tenants) {
      Stmt it(*db_,
              "INSERT INTO rollout_tenants (rollout_id, tenant_id, agent, wave, state, "
              "start_heads, rehearsal) VALUES (?, ?, ?, ?, ?, ?, ?)");
      it.Bind(r.id)
          .Bind(t.tenant_id)
          .Bind(t.agent)
          .Bind(int64_t{t.wave})
          .Bind(Name(t.state))
          .Bind(nlohmann::json(t.start_heads).dump())
          .Bind(t.rehearsal_json);
      RETURN_IF_ERROR(it.Run());
    }
    if (audit) RETURN_IF_ERROR(InsertAudit(*audit));
    return absl::OkStatus();
  });
}

absl::StatusOr<RolloutRecord> SqlInventory::GetRollout(const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::vector<RolloutRecord> r, QueryRollouts("WHERE id = ?", id));
  if (r.empty()) return absl::NotFoundError(absl::StrCat("no rollout '", id.substr(0, 64), "'"));
  return r.front();
}

absl::StatusOr<std::vector<RolloutRecord>> SqlInventory::ListRollouts() {
  absl::MutexLock lock(&mu_);
  return QueryRollouts("", "");
}

absl::StatusOr<std::vector<RolloutRecord>> SqlInventory::ListActiveRollouts() {
  absl::MutexLock lock(&mu_);
  return QueryRollouts(absl::StrCat("WHERE ", ActiveStatesWhere()).c_str(), "");
}

absl::Status SqlInventory::TransitionRollout(const RolloutTransition& t) {
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    std::vector<std::string> moving;
    if (t.refuse_busy_tenants) {
      Stmt q(*db_, "SELECT tenant_id, state, wave FROM rollout_tenants WHERE rollout_id = ?");
      q.Bind(t.id);
      int rc;
      while ((rc = q.Step()) == kRow) {
        if (Moves(t, q.Text(1), static_cast<int>(q.Int(2)))) moving.push_back(q.Text(0));
      }
      if (rc != kDone) return q.Error(rc);
      ASSIGN_OR_RETURN(auto busy, BusyTenants(moving, t.id));
      if (!busy.empty()) {
        std::vector<std::string> named;
        for (const auto& [tenant, rollout] : busy) {
          named.push_back(absl::StrCat(tenant, " (in rollout ", rollout, ")"));
        }
        return absl::FailedPreconditionError(
            absl::StrCat("tenants ", absl::StrJoin(named, ", "),
                         " are in another active rollout; finish or abort it first"));
      }
    }
    Stmt up(*db_,
            "UPDATE rollouts SET state = ?, reason = coalesce(?, reason), wave = "
            "coalesce(?, wave), bake_until = coalesce(?, bake_until), updated_at = ? "
            "WHERE id = ? AND state = ? AND (CAST(? AS INTEGER) IS NULL OR wave = ?)");
    up.Bind(Name(t.to))
        .BindOptional(t.reason)
        .BindOptional(t.wave)
        .BindOptional(t.bake_until)
        .Bind(Now())
        .Bind(t.id)
        .Bind(Name(t.from))
        .BindOptional(t.from_wave)
        .BindOptional(t.from_wave);
    RETURN_IF_ERROR(up.Run());
    if (up.changes() == 0) {
      ASSIGN_OR_RETURN(auto now, QueryRollouts("WHERE id = ?", t.id));
      if (now.empty()) {
        return absl::NotFoundError(absl::StrCat("no rollout '", t.id.substr(0, 64), "'"));
      }
      return absl::AbortedError(
          absl::StrCat("rollout ", t.id, " moved: it is ", Name(now.front().state), " at wave ",
                       now.front().wave, ", not ", Name(t.from),
                       t.from_wave ? absl::StrCat(" at wave ", *t.from_wave) : std::string()));
    }
    for (const auto& m : t.tenants) {
      for (auto from : m.from) {
        Stmt mv(*db_,
                "UPDATE rollout_tenants SET state = ? WHERE rollout_id = ? AND state = ? "
                "AND (CAST(? AS INTEGER) IS NULL OR wave = ?)");
        mv.Bind(Name(m.to)).Bind(t.id).Bind(Name(from)).BindOptional(m.wave).BindOptional(m.wave);
        RETURN_IF_ERROR(mv.Run());
      }
    }
    if (t.audit) RETURN_IF_ERROR(InsertAudit(*t.audit));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<RolloutTenantRecord>> SqlInventory::ListRolloutTenants(
    const std::string& rollout_id) {
  absl::MutexLock lock(&mu_);
  Stmt s(*db_,
         "SELECT rollout_id, tenant_id, agent, wave, state, start_heads, heads, error, "
         "started_at, finished_at, rehearsal, progress FROM rollout_tenants WHERE rollout_id = ? "
         "ORDER BY wave, tenant_id");
  s.Bind(rollout_id);
  std::vector<RolloutTenantRecord> out;
  int rc;
  while ((rc = s.Step()) == kRow) {
    RolloutTenantRecord t;
    t.rollout_id = s.Text(0);
    t.tenant_id = s.Text(1);
    t.agent = s.Text(2);
    t.wave = static_cast<int>(s.Int(3));
    ASSIGN_OR_RETURN(t.state, TenantStateOf(s.Text(4)));
    t.start_heads = Parse(s.Text(5), nlohmann::json::array()).get<std::vector<std::string>>();
    t.heads = Parse(s.Text(6), nlohmann::json::array()).get<std::vector<std::string>>();
    t.error = s.Text(7);
    t.started_at = s.Text(8);
    t.finished_at = s.Text(9);
    t.rehearsal_json = s.Text(10);
    t.progress_json = s.Text(11);
    out.push_back(std::move(t));
  }
  if (rc != kDone) return s.Error(rc);
  return out;
}

absl::Status SqlInventory::WriteTenantStep(const TenantStepWrite& w) {
  absl::MutexLock lock(&mu_);
  const RolloutTenantRecord& t = w.step;
  return InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    std::optional<std::string> while_rollout;
    if (w.while_rollout) while_rollout = std::string(Name(*w.while_rollout));
    Stmt s(*db_,
           "UPDATE rollout_tenants SET state = ?, heads = ?, error = ?, started_at = ?, "
           "finished_at = ? WHERE rollout_id = ? AND tenant_id = ? AND state = ? AND "
           "(CAST(? AS TEXT) IS NULL OR (SELECT state FROM rollouts WHERE id = "
           "rollout_tenants.rollout_id) = ?)");
    s.Bind(Name(t.state))
        .Bind(nlohmann::json(t.heads).dump())
        .Bind(t.error)
        .Bind(t.started_at)
        .Bind(t.finished_at)
        .Bind(t.rollout_id)
        .Bind(t.tenant_id)
        .Bind(Name(w.from))
        .BindOptional(while_rollout)
        .BindOptional(while_rollout);
    RETURN_IF_ERROR(s.Run());
    if (s.changes() == 0) {
      Stmt q(*db_,
             "SELECT t.state, r.state FROM rollout_tenants t JOIN rollouts r ON r.id = "
             "t.rollout_id WHERE t.rollout_id = ? AND t.tenant_id = ?");
      q.Bind(t.rollout_id).Bind(t.tenant_id);
      if (q.Step() != kRow) {
        return absl::NotFoundError(
            absl::StrCat("rollout ", t.rollout_id, " has no tenant ", t.tenant_id));
      }
      return absl::AbortedError(absl::StrCat(
          "tenant ", t.tenant_id, " of rollout ", t.rollout_id, " moved: it is ", q.Text(0),
          " in a ", q.Text(1), " rollout, not ", Name(w.from),
          while_rollout ? absl::StrCat(" in a ", *while_rollout, " one") : std::string()));
    }
    if (w.record_heads) {
      Stmt h(*db_, "UPDATE tenants SET heads = ?, last_seen = ? WHERE id = ?");
      h.Bind(nlohmann::json(t.heads).dump()).Bind(Now()).Bind(t.tenant_id);
      RETURN_IF_ERROR(h.Run());
    }
    if (w.audit) RETURN_IF_ERROR(InsertAudit(*w.audit));
    return absl::OkStatus();
  });
}

absl::Status SqlInventory::WriteTenantProgress(const std::string& rollout_id,
                                               const std::string& tenant_id,
                                               const std::string& progress_json) {
  absl::MutexLock lock(&mu_);
  return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    Stmt s(*db_,
           "UPDATE rollout_tenants SET progress = ? WHERE rollout_id = ? AND tenant_id = ? "
           "AND state = ?");
    s.Bind(progress_json).Bind(rollout_id).Bind(tenant_id).Bind(Name(fleet::v1::TENANT_RUNNING));
    RETURN_IF_ERROR(s.Run());
    if (s.changes() == 0) {
      return absl::AbortedError(absl::StrCat("tenant ", tenant_id, " of rollout ", rollout_id,
                                             " is not running: its progress was not recorded"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> SqlInventory::BusyTenants(
    const std::vector<std::string>& tenants, const std::string& except) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& id : tenants) {
    Stmt busy(*db_, absl::StrCat("SELECT r.id FROM rollout_tenants t JOIN rollouts r ON r.id = "
                                 "t.rollout_id WHERE t.tenant_id = ? AND r.id <> ? AND ",
                                 ActiveStatesWhere("r.state"), " LIMIT 1")
                        .c_str());
    busy.Bind(id).Bind(except);
    int rc = busy.Step();
    if (rc == kRow) {
      out.push_back({id, busy.Text(0)});
    } else if (rc != kDone) {
      return busy.Error(rc);
    }
  }
  return out;
}

bool SqlInventory::Moves(const RolloutTransition& t, const std::string& state, int wave) {
  for (const auto& m : t.tenants) {
    if (m.wave && *m.wave != wave) continue;
    for (auto from : m.from) {
      if (Name(from) == state) return true;
    }
  }
  return false;
}

absl::StatusOr<std::vector<RolloutRecord>> SqlInventory::QueryRollouts(const char* where,
                                                                       const std::string& arg) {
  std::string sql = absl::StrCat(
      "SELECT id, state, spec, bundle_digest, target, actor, wave, waves, reason, bake_until, "
      "created_at, updated_at FROM rollouts ",
      where, " ORDER BY created_at DESC, id DESC");
  Stmt s(*db_, sql.c_str());
  if (sql.find('?') != std::string::npos) s.Bind(arg);
  std::vector<RolloutRecord> out;
  int rc;
  while ((rc = s.Step()) == kRow) {
    RolloutRecord r;
    r.id = s.Text(0);
    ASSIGN_OR_RETURN(r.state, RolloutStateOf(s.Text(1)));
    r.spec_json = s.Text(2);
    r.bundle_digest = s.Text(3);
    r.target = s.Text(4);
    r.actor = s.Text(5);
    r.wave = static_cast<int>(s.Int(6));
    r.waves = static_cast<int>(s.Int(7));
    r.reason = s.Text(8);
    r.bake_until = s.Text(9);
    r.created_at = s.Text(10);
    r.updated_at = s.Text(11);
    out.push_back(std::move(r));
  }
  if (rc != kDone) return s.Error(rc);
  return out;
}

}  // namespace fleet::controller::sql_inventory_internal
