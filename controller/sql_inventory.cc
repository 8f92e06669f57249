#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "controller/inventory.h"
#include "controller/sql_db.h"
#include "controller/sql_inventory_internal.h"
#include "migrations/dsn.h"
#include "migrations/status_macros.h"
#include "nlohmann/json.hpp"
#include "proto/states.h"

namespace fleet::controller {
namespace sql_inventory_internal {

// States are stored by name (proto/states.h): readable with sqlite3, and
// the same strings the inventory always held.
std::string Name(fleet::v1::RolloutState s) { return proto::StateName(s); }
std::string Name(fleet::v1::RolloutTenantState s) { return proto::StateName(s); }

absl::StatusOr<fleet::v1::RolloutState> RolloutStateOf(const std::string& name) {
  if (auto s = proto::RolloutStateFromName(name)) return *s;
  return absl::DataLossError(absl::StrCat("inventory: unknown rollout state '", name, "'"));
}

absl::StatusOr<fleet::v1::RolloutTenantState> TenantStateOf(const std::string& name) {
  if (auto s = proto::RolloutTenantStateFromName(name)) return *s;
  return absl::DataLossError(absl::StrCat("inventory: unknown rollout tenant state '", name, "'"));
}

// "<column> IN ('pending', ...)": the active states, from the one list.
std::string ActiveStatesWhere(const char* column) {
  std::vector<std::string> names;
  for (auto s : proto::kRolloutStates) {
    if (proto::IsActive(s)) names.push_back(absl::StrCat("'", proto::StateName(s), "'"));
  }
  return absl::StrCat(column, " IN (", absl::StrJoin(names, ", "), ")");
}

std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

nlohmann::json Parse(const std::string& text, nlohmann::json fallback) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? fallback : j;
}

void SqlInventory::Lead(int64_t epoch) {
  absl::MutexLock lock(&mu_);
  epoch_ = epoch;
}

absl::Status SqlInventory::AddAgent(const AgentRecord& a) {
  absl::MutexLock lock(&mu_);
  return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    Stmt s(*db_,
           "INSERT INTO agents (address, state, last_seen, missed_polls, last_error, "
           "added_at) VALUES (?, ?, ?, ?, ?, ?)");
    s.Bind(a.address)
        .Bind(a.state)
        .Bind(a.last_seen)
        .Bind(int64_t{a.missed_polls})
        .Bind(a.last_error)
        .Bind(Now());
    int rc = s.Step();
    if (rc == kConstraint) {
      return absl::AlreadyExistsError(absl::StrCat("agent ", a.address, " is already enrolled"));
    }
    return rc == kDone ? absl::OkStatus() : s.Error(rc);
  });
}

absl::StatusOr<int> SqlInventory::RemoveAgent(const std::string& address) {
  absl::MutexLock lock(&mu_);
  int removed = 0;
  RETURN_IF_ERROR(Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    int64_t tenants = 0;
    {
      Stmt c(*db_, "SELECT count(*) FROM tenants WHERE agent = ?");
      c.Bind(address);
      if (c.Step() == kRow) tenants = c.Int(0);
    }
    Stmt s(*db_, "DELETE FROM agents WHERE address = ?");
    s.Bind(address);
    RETURN_IF_ERROR(s.Run());
    if (s.changes() == 0) return absl::NotFoundError(absl::StrCat("no agent ", address));
    removed = static_cast<int>(tenants);
    return absl::OkStatus();
  }));
  return removed;
}

absl::StatusOr<std::vector<AgentRecord>> SqlInventory::ListAgents() {
  absl::MutexLock lock(&mu_);
  Stmt s(*db_,
         "SELECT address, state, last_seen, missed_polls, last_error, version FROM agents "
         "ORDER BY address");
  std::vector<AgentRecord> out;
  int rc;
  while ((rc = s.Step()) == kRow) {
    out.push_back(
        {s.Text(0), s.Text(1), s.Text(2), static_cast<int>(s.Int(3)), s.Text(4), s.Text(5)});
  }
  if (rc != kDone) return s.Error(rc);
  return out;
}

absl::Status SqlInventory::UpdateAgent(const AgentRecord& a) {
  absl::MutexLock lock(&mu_);
  return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    Stmt s(*db_,
           "UPDATE agents SET state = ?, last_seen = ?, missed_polls = ?, last_error = ?, "
           "version = ? WHERE address = ?");
    s.Bind(a.state)
        .Bind(a.last_seen)
        .Bind(int64_t{a.missed_polls})
        .Bind(a.last_error)
        .Bind(a.version)
        .Bind(a.address);
    return s.Run();
  });
}

absl::Status SqlInventory::ReplaceAgentTenants(const std::string& address,
                                               const std::vector<TenantRecord>& tenants) {
  absl::MutexLock lock(&mu_);
  return InTransaction(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ReplaceLocked(address, tenants); });
}

absl::Status SqlInventory::SetAgentTenantsReachable(const std::string& address, bool reachable) {
  absl::MutexLock lock(&mu_);
  return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    Stmt s(*db_, "UPDATE tenants SET reachable = ? WHERE agent = ?");
    s.Bind(int64_t{reachable}).Bind(address);
    return s.Run();
  });
}

absl::StatusOr<std::vector<TenantRecord>> SqlInventory::ListTenants() {
  absl::MutexLock lock(&mu_);
  return QueryTenants("", "");
}

absl::StatusOr<TenantRecord> SqlInventory::GetTenant(const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::vector<TenantRecord> t, QueryTenants("WHERE id = ?", id));
  if (t.empty()) return absl::NotFoundError(absl::StrCat("no tenant '", id.substr(0, 128), "'"));
  return t.front();
}

absl::Status SqlInventory::SetTenantLabels(const std::string& id,
                                           const std::map<std::string, std::string>& labels) {
  absl::MutexLock lock(&mu_);
  return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<TenantRecord> t, QueryTenants("WHERE id = ?", id));
    if (t.empty()) return absl::NotFoundError(absl::StrCat("no tenant '", id.substr(0, 128), "'"));
    // Operator labels overlay the agent's: a value sets, an absent key that
    // the agent reports is recorded as removed (null).
    nlohmann::json ops = nlohmann::json::object();
    Stmt get(*db_, "SELECT agent_labels FROM tenants WHERE id = ?");
    get.Bind(id);
    nlohmann::json agent_labels = get.Step() == kRow ? Parse(get.Text(0), nlohmann::json::object())
                                                     : nlohmann::json::object();
    for (const auto& [k, v] : labels) {
      if (!agent_labels.contains(k) || agent_labels[k] != v) ops[k] = v;
    }
    for (const auto& [k, v] : agent_labels.items()) {
      if (!labels.count(k)) ops[k] = nullptr;
    }
    Stmt s(*db_, "UPDATE tenants SET operator_labels = ? WHERE id = ?");
    s.Bind(ops.dump()).Bind(id);
    return s.Run();
  });
}

absl::Status SqlInventory::RemoveTenant(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    Stmt s(*db_, "DELETE FROM tenants WHERE id = ?");
    s.Bind(id);
    RETURN_IF_ERROR(s.Run());
    if (s.changes() == 0)
      return absl::NotFoundError(absl::StrCat("no tenant '", id.substr(0, 128), "'"));
    return absl::OkStatus();
  });
}

absl::Status SqlInventory::PutBundle(const BundleRecord& b) {
  absl::MutexLock lock(&mu_);
  return InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    int64_t seq = 0;
    {
      Stmt q(*db_, "SELECT coalesce(max(seq), 0) + 1 FROM bundles");
      if (q.Step() == kRow) seq = q.Int(0);
    }
    Stmt up(*db_,
            "INSERT INTO bundles (digest, pushed_at, seq, heads, revisions) VALUES "
            "(?, ?, ?, ?, ?) ON CONFLICT(digest) DO UPDATE SET pushed_at = "
            "excluded.pushed_at, seq = excluded.seq");
    up.Bind(b.digest)
        .Bind(Now())
        .Bind(seq)
        .Bind(nlohmann::json(b.heads).dump())
        .Bind(int64_t{b.revisions});
    RETURN_IF_ERROR(up.Run());
    for (const auto& f : b.files) {
      Stmt ins(*db_,
               "INSERT INTO bundle_files (digest, filename, checksum, content) "
               "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
      ins.Bind(b.digest).Bind(f.filename).Bind(f.checksum).BindBlob(f.content);
      RETURN_IF_ERROR(ins.Run());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<BundleRecord>> SqlInventory::ListBundles() {
  absl::MutexLock lock(&mu_);
  Stmt s(*db_, "SELECT digest, pushed_at, heads, revisions FROM bundles ORDER BY seq DESC");
  std::vector<BundleRecord> out;
  int rc;
  while ((rc = s.Step()) == kRow) {
    BundleRecord b;
    b.digest = s.Text(0);
    b.pushed_at = s.Text(1);
    b.heads = Parse(s.Text(2), nlohmann::json::array()).get<std::vector<std::string>>();
    b.revisions = static_cast<int>(s.Int(3));
    out.push_back(std::move(b));
  }
  if (rc != kDone) return s.Error(rc);
  return out;
}

absl::StatusOr<BundleRecord> SqlInventory::GetBundle(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::string full, ResolveDigest(digest));
  return LoadBundle(full, /*with_files=*/true);
}

absl::StatusOr<BundleRecord> SqlInventory::GetBundleInfo(const std::string& digest) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::string full, ResolveDigest(digest));
  return LoadBundle(full, /*with_files=*/false);
}

absl::StatusOr<std::vector<AuditEntry>> SqlInventory::TenantAudit(const std::string& tenant_id) {
  absl::MutexLock lock(&mu_);
  Stmt s(*db_,
         "SELECT at, actor, action, rollout_id, tenant_id, detail FROM audit WHERE "
         "tenant_id = ? ORDER BY id");
  s.Bind(tenant_id);
  std::vector<AuditEntry> out;
  int rc;
  while ((rc = s.Step()) == kRow) {
    out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5)});
  }
  if (rc != kDone) return s.Error(rc);
  return out;
}

absl::Status SqlInventory::Audit(const AuditEntry& e) {
  absl::MutexLock lock(&mu_);
  return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status { return InsertAudit(e); });
}

absl::Status SqlInventory::InTransaction(const std::function<absl::Status()>& fn,
                                         bool check_epoch) {
  RETURN_IF_ERROR(Exec(db_->BeginWrite()));
  absl::Status s = check_epoch ? CheckEpoch() : absl::OkStatus();
  if (s.ok()) s = fn();
  if (!s.ok()) {
    absl::Status rolled_back = Exec("ROLLBACK");
    return rolled_back.ok()
               ? s
               : absl::Status(s.code(), absl::StrCat(s.message(), "; and ", rolled_back.message()));
  }
  return Exec("COMMIT");
}

absl::Status SqlInventory::Write(const std::function<absl::Status()>& fn) {
  return epoch_ ? InTransaction(fn) : fn();
}

absl::Status SqlInventory::CheckEpoch() {
  if (!epoch_) return absl::OkStatus();
  Stmt q(*db_, "SELECT epoch, address FROM leader WHERE one = 1 FOR SHARE");
  if (int rc = q.Step(); rc != kRow) return q.Error(rc);
  if (q.Int(0) == *epoch_) return absl::OkStatus();
  if (*epoch_ == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("this controller is standing by: writes go to the leader",
                     q.Text(1).empty() ? std::string() : absl::StrCat(" at ", q.Text(1)),
                     " (fleetctl finds it when given every controller: --controller a,b,c)"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "this controller no longer leads the inventory (its epoch ", *epoch_, ", now ", q.Int(0),
      ", led by ", q.Text(1).empty() ? std::string("another controller") : q.Text(1),
      "): the write was refused"));
}

absl::Status SqlInventory::InsertAudit(const AuditEntry& e) {
  Stmt s(*db_,
         "INSERT INTO audit (at, actor, action, rollout_id, tenant_id, detail) VALUES "
         "(?, ?, ?, ?, ?, ?)");
  s.Bind(Now()).Bind(e.actor).Bind(e.action).Bind(e.rollout_id).Bind(e.tenant_id).Bind(e.detail);
  return s.Run();
}

absl::StatusOr<std::string> SqlInventory::ResolveDigest(const std::string& digest) {
  if (digest.size() < 8) {
    return absl::InvalidArgumentError("give at least 8 characters of the bundle digest");
  }
  std::vector<std::string> matches;
  Stmt s(*db_,
         "SELECT digest FROM bundles WHERE substr(digest, 1, length(CAST(? AS TEXT))) = ? LIMIT 2");
  s.Bind(digest).Bind(digest);
  int rc;
  while ((rc = s.Step()) == kRow) matches.push_back(s.Text(0));
  if (rc != kDone) return s.Error(rc);
  if (matches.empty()) {
    return absl::NotFoundError(absl::StrCat("no bundle ", digest.substr(0, 64)));
  }
  if (matches.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("several bundles start with ", digest));
  }
  return matches.front();
}

absl::StatusOr<BundleRecord> SqlInventory::LoadBundle(const std::string& digest, bool with_files) {
  BundleRecord b;
  {
    Stmt s(*db_, "SELECT digest, pushed_at, heads, revisions FROM bundles WHERE digest = ?");
    s.Bind(digest);
    if (s.Step() != kRow) return absl::NotFoundError(absl::StrCat("no bundle ", digest));
    b.digest = s.Text(0);
    b.pushed_at = s.Text(1);
    b.heads = Parse(s.Text(2), nlohmann::json::array()).get<std::vector<std::string>>();
    b.revisions = static_cast<int>(s.Int(3));
  }
  if (!with_files) return b;
  Stmt f(*db_,
         "SELECT filename, content, checksum FROM bundle_files WHERE digest = ? ORDER BY "
         "filename");
  f.Bind(digest);
  int rc;
  while ((rc = f.Step()) == kRow) b.files.push_back({f.Text(0), f.Blob(1), f.Text(2)});
  if (rc != kDone) return f.Error(rc);
  return b;
}

absl::StatusOr<std::vector<TenantRecord>> SqlInventory::QueryTenants(const char* where,
                                                                     const std::string& arg) {
  std::string sql = absl::StrCat(
      "SELECT id, agent, agent_labels, operator_labels, heads, dirty, dirty_revision, drifted, "
      "reachable, last_seen, error FROM tenants ",
      where, " ORDER BY id");
  Stmt s(*db_, sql.c_str());
  if (*where) s.Bind(arg);
  std::vector<TenantRecord> out;
  int rc;
  while ((rc = s.Step()) == kRow) {
    TenantRecord t;
    t.id = s.Text(0);
    t.agent = s.Text(1);
    nlohmann::json labels = Parse(s.Text(2), nlohmann::json::object());
    const nlohmann::json overrides = Parse(s.Text(3), nlohmann::json::object());
    for (const auto& [k, v] : overrides.items()) {
      if (v.is_null()) {
        labels.erase(k);
      } else {
        labels[k] = v;
      }
    }
    for (const auto& [k, v] : labels.items()) {
      if (v.is_string()) t.labels[k] = v.get<std::string>();
    }
    t.heads = Parse(s.Text(4), nlohmann::json::array()).get<std::vector<std::string>>();
    t.dirty = s.Int(5) != 0;
    t.dirty_revision = s.Text(6);
    t.drifted = Parse(s.Text(7), nlohmann::json::array()).get<std::vector<std::string>>();
    t.reachable = s.Int(8) != 0;
    t.last_seen = s.Text(9);
    t.error = s.Text(10);
    out.push_back(std::move(t));
  }
  if (rc != kDone) return s.Error(rc);
  return out;
}

absl::Status SqlInventory::ReplaceLocked(const std::string& address,
                                         const std::vector<TenantRecord>& tenants) {
  for (const TenantRecord& t : tenants) {
    Stmt other(*db_, "SELECT agent FROM tenants WHERE id = ? AND agent <> ?");
    other.Bind(t.id).Bind(address);
    if (other.Step() == kRow) {
      return absl::AlreadyExistsError(absl::StrCat("tenant ", t.id, " of agent ", address,
                                                   " is already served by agent ", other.Text(0)));
    }
  }
  std::string now = Now();
  std::set<std::string> reported;
  for (const TenantRecord& t : tenants) {
    reported.insert(t.id);
    Stmt s(*db_,
           "INSERT INTO tenants (id, agent, agent_labels, heads, dirty, dirty_revision, "
           "drifted, reachable, last_seen, error) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
           "ON CONFLICT(id) DO UPDATE SET agent_labels = excluded.agent_labels, heads = "
           "excluded.heads, dirty = excluded.dirty, dirty_revision = "
           "excluded.dirty_revision, drifted = excluded.drifted, reachable = 1, last_seen "
           "= excluded.last_seen, error = excluded.error");
    s.Bind(t.id)
        .Bind(address)
        .Bind(nlohmann::json(t.labels).dump())
        .Bind(nlohmann::json(t.heads).dump())
        .Bind(int64_t{t.dirty})
        .Bind(t.dirty_revision)
        .Bind(nlohmann::json(t.drifted).dump())
        .Bind(now)
        .Bind(t.error);
    RETURN_IF_ERROR(s.Run());
  }
  // The tenants it no longer reports go.
  std::vector<std::string> gone;
  {
    Stmt q(*db_, "SELECT id FROM tenants WHERE agent = ?");
    q.Bind(address);
    int rc;
    while ((rc = q.Step()) == kRow) {
      if (!reported.count(q.Text(0))) gone.push_back(q.Text(0));
    }
    if (rc != kDone) return q.Error(rc);
  }
  for (const std::string& id : gone) {
    Stmt drop(*db_, "DELETE FROM tenants WHERE id = ?");
    drop.Bind(id);
    RETURN_IF_ERROR(drop.Run());
  }
  return absl::OkStatus();
}

}  // namespace sql_inventory_internal

using sql_inventory_internal::SqlInventory;

absl::StatusOr<std::unique_ptr<Inventory>> OpenSqlInventory(std::unique_ptr<SqlDb> db,
                                                            std::optional<int64_t> epoch) {
  auto inv = std::make_unique<SqlInventory>(std::move(db), epoch);
  RETURN_IF_ERROR(inv->Init());
  return std::unique_ptr<Inventory>(std::move(inv));
}

absl::StatusOr<std::unique_ptr<Inventory>> OpenSqliteInventory(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqlDb> db, OpenSqliteDb(path));
  return OpenSqlInventory(std::move(db), std::nullopt);
}

absl::StatusOr<std::unique_ptr<Inventory>> OpenPostgresInventory(const std::string& conninfo,
                                                                 std::optional<int64_t> epoch) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqlDb> db, OpenPostgresDb(conninfo));
  return OpenSqlInventory(std::move(db), epoch);
}

absl::StatusOr<std::string> MigrateInventory(const std::string& from_sqlite,
                                             const std::string& to_postgres) {
  // Both opened as inventories first: each schema created or brought up to
  // date by its own rules.
  ASSIGN_OR_RETURN(auto from_inventory, OpenSqliteInventory(from_sqlite));
  ASSIGN_OR_RETURN(auto to_inventory, OpenPostgresInventory(to_postgres));
  ASSIGN_OR_RETURN(auto agents, to_inventory->ListAgents());
  ASSIGN_OR_RETURN(auto bundles, to_inventory->ListBundles());
  ASSIGN_OR_RETURN(auto rollouts, to_inventory->ListRollouts());
  if (!agents.empty() || !bundles.empty() || !rollouts.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the inventory at ", migrations::ConnectionName(to_postgres),
                     " is not empty (", agents.size(), " agents, ", bundles.size(), " bundles, ",
                     rollouts.size(), " rollouts); nothing was copied"));
  }
  from_inventory.reset();
  to_inventory.reset();
  ASSIGN_OR_RETURN(auto from, OpenSqliteDb(from_sqlite));
  ASSIGN_OR_RETURN(auto to, OpenPostgresDb(to_postgres));
  struct Table {
    const char* name;
    const char* columns;
    int blob = -1;  // the column read and written as bytes
  };
  static constexpr Table kTables[] = {
      {"agents", "address, state, last_seen, missed_polls, last_error, added_at, version"},
      {"tenants",
       "id, agent, agent_labels, operator_labels, heads, dirty, dirty_revision, drifted, "
       "reachable, last_seen, error"},
      {"bundles", "digest, pushed_at, seq, heads, revisions"},
      {"bundle_files", "digest, filename, checksum, content", 3},
      {"rollouts",
       "id, state, spec, bundle_digest, target, actor, wave, waves, reason, bake_until, "
       "created_at, updated_at"},
      {"rollout_tenants",
       "rollout_id, tenant_id, agent, wave, state, start_heads, heads, error, started_at, "
       "finished_at, rehearsal, progress"},
      {"audit", "at, actor, action, rollout_id, tenant_id, detail"},
  };
  std::vector<std::string> counts;
  RETURN_IF_ERROR(to->Exec("BEGIN"));
  auto copy = [&]() -> absl::Status {
    for (const Table& t : kTables) {
      const int n = 1 + static_cast<int>(std::count(t.columns, t.columns + strlen(t.columns), ','));
      std::string marks;
      for (int i = 0; i < n; ++i) absl::StrAppend(&marks, i ? ", " : "", "?");
      Stmt read(*from, absl::StrCat("SELECT ", t.columns, " FROM ", t.name,
                                    std::string(t.name) == "audit" ? " ORDER BY id" : ""));
      int rows = 0, rc;
      while ((rc = read.Step()) == kRow) {
        Stmt write(*to,
                   absl::StrCat("INSERT INTO ", t.name, " (", t.columns, ") VALUES (", marks, ")"));
        for (int i = 0; i < n; ++i) {
          if (i == t.blob) {
            write.BindBlob(read.Blob(i));
          } else {
            write.Bind(read.Text(i));
          }
        }
        RETURN_IF_ERROR(write.Run());
        ++rows;
      }
      if (rc != kDone) return read.Error(rc);
      counts.push_back(absl::StrCat(rows, " ", t.name));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = copy(); !s.ok()) {
    absl::Status rolled_back = to->Exec("ROLLBACK");
    return rolled_back.ok()
               ? s
               : absl::Status(s.code(), absl::StrCat(s.message(), "; and ", rolled_back.message()));
  }
  RETURN_IF_ERROR(to->Exec("COMMIT"));
  return absl::StrJoin(counts, ", ");
}

absl::Status LeadInventory(Inventory& inventory, int64_t epoch) {
  auto* sql = dynamic_cast<SqlInventory*>(&inventory);
  if (sql == nullptr) return absl::InvalidArgumentError("not a shared inventory");
  sql->Lead(epoch);
  return absl::OkStatus();
}

bool IsPostgresInventory(const std::string& db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0 ||
         db.find('=') != std::string::npos;
}

}  // namespace fleet::controller
