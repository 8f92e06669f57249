#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrations/dsn.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "controller/inventory.h"
#include "controller/sql_db.h"
#include "migrations/status_macros.h"
#include "nlohmann/json.hpp"
#include "proto/states.h"

namespace fleet::controller {
namespace {

constexpr int kSchemaVersion = 5;

constexpr char kSchemaV1[] = R"sql(
CREATE TABLE agents (
  address TEXT PRIMARY KEY,
  state TEXT NOT NULL DEFAULT 'up',
  last_seen TEXT NOT NULL DEFAULT '',
  missed_polls INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  added_at TEXT NOT NULL
);
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL REFERENCES agents(address) ON DELETE CASCADE,
  agent_labels TEXT NOT NULL DEFAULT '{}',
  operator_labels TEXT NOT NULL DEFAULT '{}',
  heads TEXT NOT NULL DEFAULT '[]',
  dirty INTEGER NOT NULL DEFAULT 0,
  dirty_revision TEXT NOT NULL DEFAULT '',
  drifted TEXT NOT NULL DEFAULT '[]',
  reachable INTEGER NOT NULL DEFAULT 1,
  last_seen TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tenants_agent ON tenants(agent);
CREATE TABLE bundles (
  digest TEXT PRIMARY KEY,
  pushed_at TEXT NOT NULL,
  seq INTEGER NOT NULL,
  heads TEXT NOT NULL,
  revisions INTEGER NOT NULL
);
CREATE TABLE bundle_files (
  digest TEXT NOT NULL REFERENCES bundles(digest) ON DELETE CASCADE,
  filename TEXT NOT NULL,
  checksum TEXT NOT NULL,
  content BLOB NOT NULL,
  PRIMARY KEY (digest, filename)
);
)sql";

constexpr char kSchemaV2[] = R"sql(
CREATE TABLE rollouts (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  spec TEXT NOT NULL,
  bundle_digest TEXT NOT NULL,
  target TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  wave INTEGER NOT NULL DEFAULT 0,
  waves INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  bake_until TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE rollout_tenants (
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  tenant_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  wave INTEGER NOT NULL,
  state TEXT NOT NULL,
  start_heads TEXT NOT NULL,
  heads TEXT NOT NULL DEFAULT '[]',
  error TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL DEFAULT '',
  finished_at TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (rollout_id, tenant_id)
);
CREATE INDEX rollout_tenants_tenant ON rollout_tenants(tenant_id);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  rollout_id TEXT NOT NULL DEFAULT '',
  tenant_id TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT ''
);
)sql";

// Each tenant's rehearsal is kept with the rollout it preceded.
constexpr char kSchemaV3[] = R"sql(
ALTER TABLE rollout_tenants ADD COLUMN rehearsal TEXT NOT NULL DEFAULT '';
)sql";

// Which build each agent runs, as it last said.
constexpr char kSchemaV4[] = R"sql(
ALTER TABLE agents ADD COLUMN version TEXT NOT NULL DEFAULT '';
)sql";

// A batched revision's progress per tenant of a rollout.
constexpr char kSchemaV5[] = R"sql(
ALTER TABLE rollout_tenants ADD COLUMN progress TEXT NOT NULL DEFAULT '';
)sql";

// The PostgreSQL inventory's own versioned schema (shared by several
// controllers; see issue 20): the SQLite schema's tables with PostgreSQL's
// types, and the leader row that fences a deposed leader's writes.
constexpr int kPostgresSchemaVersion = 1;
constexpr char kPostgresSchemaV1[] = R"sql(
CREATE TABLE agents (
  address TEXT PRIMARY KEY,
  state TEXT NOT NULL DEFAULT 'up',
  last_seen TEXT NOT NULL DEFAULT '',
  missed_polls INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  added_at TEXT NOT NULL,
  version TEXT NOT NULL DEFAULT ''
);
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL REFERENCES agents(address) ON DELETE CASCADE,
  agent_labels TEXT NOT NULL DEFAULT '{}',
  operator_labels TEXT NOT NULL DEFAULT '{}',
  heads TEXT NOT NULL DEFAULT '[]',
  dirty INTEGER NOT NULL DEFAULT 0,
  dirty_revision TEXT NOT NULL DEFAULT '',
  drifted TEXT NOT NULL DEFAULT '[]',
  reachable INTEGER NOT NULL DEFAULT 1,
  last_seen TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tenants_agent ON tenants(agent);
CREATE TABLE bundles (
  digest TEXT PRIMARY KEY,
  pushed_at TEXT NOT NULL,
  seq BIGINT NOT NULL,
  heads TEXT NOT NULL,
  revisions INTEGER NOT NULL
);
CREATE TABLE bundle_files (
  digest TEXT NOT NULL REFERENCES bundles(digest) ON DELETE CASCADE,
  filename TEXT NOT NULL,
  checksum TEXT NOT NULL,
  content BYTEA NOT NULL,
  PRIMARY KEY (digest, filename)
);
CREATE TABLE rollouts (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  spec TEXT NOT NULL,
  bundle_digest TEXT NOT NULL,
  target TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  wave INTEGER NOT NULL DEFAULT 0,
  waves INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  bake_until TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE rollout_tenants (
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  tenant_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  wave INTEGER NOT NULL,
  state TEXT NOT NULL,
  start_heads TEXT NOT NULL,
  heads TEXT NOT NULL DEFAULT '[]',
  error TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL DEFAULT '',
  finished_at TEXT NOT NULL DEFAULT '',
  rehearsal TEXT NOT NULL DEFAULT '',
  progress TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (rollout_id, tenant_id)
);
CREATE INDEX rollout_tenants_tenant ON rollout_tenants(tenant_id);
CREATE TABLE audit (
  id BIGSERIAL PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  rollout_id TEXT NOT NULL DEFAULT '',
  tenant_id TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE leader (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  epoch BIGINT NOT NULL,
  address TEXT NOT NULL DEFAULT '',
  since TEXT NOT NULL DEFAULT ''
);
INSERT INTO leader (one, epoch) VALUES (1, 0);
)sql";

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
std::string ActiveStatesWhere(const char* column = "state") {
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

class SqlInventory final : public Inventory {
 public:
  SqlInventory(std::unique_ptr<SqlDb> db, std::optional<int64_t> epoch)
      : db_(std::move(db)), epoch_(epoch) {}

  // Creates the schema, or upgrades it one version at a time, in one
  // transaction (on PostgreSQL under a lock, so controllers starting
  // together do it once).
  absl::Status Init() {
    absl::MutexLock lock(&mu_);
    const bool pg = db_->is_postgres();
    const int latest = pg ? kPostgresSchemaVersion : kSchemaVersion;
    const std::vector<const char*> steps =
        pg ? std::vector<const char*>{kPostgresSchemaV1}
           : std::vector<const char*>{kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4, kSchemaV5};
    // The schema is no state: creating it needs no leadership.
    return InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      if (pg) RETURN_IF_ERROR(Exec("SELECT pg_advisory_xact_lock(hashtext('fleet-inventory'))"));
      RETURN_IF_ERROR(Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
      int64_t version = 0;
      {
        Stmt s(*db_, "SELECT coalesce(max(version), 0) FROM schema_version");
        if (s.Step() == kRow) version = s.Int(0);
      }
      if (version > latest) {
        return absl::FailedPreconditionError(absl::StrCat(
            "inventory schema version ", version, " is newer than this controller understands (",
            latest, "); run a newer fleet-controller"));
      }
      for (int v = static_cast<int>(version); v < latest; ++v) {
        RETURN_IF_ERROR(Exec(steps[static_cast<size_t>(v)]));
        RETURN_IF_ERROR(
            Exec(absl::StrCat("INSERT INTO schema_version (version) VALUES (", v + 1, ")").c_str()));
      }
      return absl::OkStatus();
    }, /*check_epoch=*/false);
  }

  // This controller leads now, with `epoch` (LeadInventory).
  void Lead(int64_t epoch) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    epoch_ = epoch;
  }

  absl::Status AddAgent(const AgentRecord& a) override {
    absl::MutexLock lock(&mu_);
    return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      Stmt s(*db_, "INSERT INTO agents (address, state, last_seen, missed_polls, last_error, "
                  "added_at) VALUES (?, ?, ?, ?, ?, ?)");
      s.Bind(a.address).Bind(a.state).Bind(a.last_seen).Bind(int64_t{a.missed_polls})
          .Bind(a.last_error).Bind(Now());
      int rc = s.Step();
      if (rc == kConstraint) {
        return absl::AlreadyExistsError(absl::StrCat("agent ", a.address, " is already enrolled"));
      }
      return rc == kDone ? absl::OkStatus() : s.Error(rc);
    });
  }

  absl::StatusOr<int> RemoveAgent(const std::string& address) override {
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

  absl::StatusOr<std::vector<AgentRecord>> ListAgents() override {
    absl::MutexLock lock(&mu_);
    Stmt s(*db_, "SELECT address, state, last_seen, missed_polls, last_error, version FROM agents "
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

  absl::Status UpdateAgent(const AgentRecord& a) override {
    absl::MutexLock lock(&mu_);
    return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      Stmt s(*db_, "UPDATE agents SET state = ?, last_seen = ?, missed_polls = ?, last_error = ?, "
                  "version = ? WHERE address = ?");
      s.Bind(a.state).Bind(a.last_seen).Bind(int64_t{a.missed_polls}).Bind(a.last_error)
          .Bind(a.version).Bind(a.address);
      return s.Run();
    });
  }

  absl::Status ReplaceAgentTenants(const std::string& address,
                                   const std::vector<TenantRecord>& tenants) override {
    absl::MutexLock lock(&mu_);
    return InTransaction(
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ReplaceLocked(address, tenants); });
  }

  absl::Status SetAgentTenantsReachable(const std::string& address, bool reachable) override {
    absl::MutexLock lock(&mu_);
    return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      Stmt s(*db_, "UPDATE tenants SET reachable = ? WHERE agent = ?");
      s.Bind(int64_t{reachable}).Bind(address);
      return s.Run();
    });
  }

  absl::StatusOr<std::vector<TenantRecord>> ListTenants() override {
    absl::MutexLock lock(&mu_);
    return QueryTenants("", "");
  }

  absl::StatusOr<TenantRecord> GetTenant(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(std::vector<TenantRecord> t, QueryTenants("WHERE id = ?", id));
    if (t.empty()) return absl::NotFoundError(absl::StrCat("no tenant '", id.substr(0, 128), "'"));
    return t.front();
  }

  absl::Status SetTenantLabels(const std::string& id,
                               const std::map<std::string, std::string>& labels) override {
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

  absl::Status RemoveTenant(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      Stmt s(*db_, "DELETE FROM tenants WHERE id = ?");
      s.Bind(id);
      RETURN_IF_ERROR(s.Run());
      if (s.changes() == 0) return absl::NotFoundError(absl::StrCat("no tenant '", id.substr(0, 128), "'"));
      return absl::OkStatus();
    });
  }

  absl::Status PutBundle(const BundleRecord& b) override {
    absl::MutexLock lock(&mu_);
    return InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      int64_t seq = 0;
      {
        Stmt q(*db_, "SELECT coalesce(max(seq), 0) + 1 FROM bundles");
        if (q.Step() == kRow) seq = q.Int(0);
      }
      Stmt up(*db_, "INSERT INTO bundles (digest, pushed_at, seq, heads, revisions) VALUES "
                   "(?, ?, ?, ?, ?) ON CONFLICT(digest) DO UPDATE SET pushed_at = "
                   "excluded.pushed_at, seq = excluded.seq");
      up.Bind(b.digest).Bind(Now()).Bind(seq).Bind(nlohmann::json(b.heads).dump())
          .Bind(int64_t{b.revisions});
      RETURN_IF_ERROR(up.Run());
      for (const auto& f : b.files) {
        Stmt ins(*db_, "INSERT INTO bundle_files (digest, filename, checksum, content) "
                      "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
        ins.Bind(b.digest).Bind(f.filename).Bind(f.checksum).BindBlob(f.content);
        RETURN_IF_ERROR(ins.Run());
      }
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<BundleRecord>> ListBundles() override {
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

  absl::StatusOr<BundleRecord> GetBundle(const std::string& digest) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(std::string full, ResolveDigest(digest));
    return LoadBundle(full, /*with_files=*/true);
  }

  absl::StatusOr<BundleRecord> GetBundleInfo(const std::string& digest) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(std::string full, ResolveDigest(digest));
    return LoadBundle(full, /*with_files=*/false);
  }

  absl::Status CreateRollout(const RolloutRecord& r, const std::vector<RolloutTenantRecord>& tenants,
                             const std::optional<AuditEntry>& audit) override {
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
      Stmt ins(*db_, "INSERT INTO rollouts (id, state, spec, bundle_digest, target, actor, wave, "
                    "waves, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      ins.Bind(r.id).Bind(Name(r.state)).Bind(r.spec_json).Bind(r.bundle_digest).Bind(r.target)
          .Bind(r.actor).Bind(int64_t{r.wave}).Bind(int64_t{r.waves}).Bind(r.reason).Bind(now)
          .Bind(now);
      RETURN_IF_ERROR(ins.Run());
      for (const auto& t : tenants) {
        Stmt it(*db_, "INSERT INTO rollout_tenants (rollout_id, tenant_id, agent, wave, state, "
                     "start_heads, rehearsal) VALUES (?, ?, ?, ?, ?, ?, ?)");
        it.Bind(r.id).Bind(t.tenant_id).Bind(t.agent).Bind(int64_t{t.wave}).Bind(Name(t.state))
            .Bind(nlohmann::json(t.start_heads).dump()).Bind(t.rehearsal_json);
        RETURN_IF_ERROR(it.Run());
      }
      if (audit) RETURN_IF_ERROR(InsertAudit(*audit));
      return absl::OkStatus();
    });
  }

  absl::StatusOr<RolloutRecord> GetRollout(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(std::vector<RolloutRecord> r, QueryRollouts("WHERE id = ?", id));
    if (r.empty()) return absl::NotFoundError(absl::StrCat("no rollout '", id.substr(0, 64), "'"));
    return r.front();
  }

  absl::StatusOr<std::vector<RolloutRecord>> ListRollouts() override {
    absl::MutexLock lock(&mu_);
    return QueryRollouts("", "");
  }

  absl::StatusOr<std::vector<RolloutRecord>> ListActiveRollouts() override {
    absl::MutexLock lock(&mu_);
    return QueryRollouts(absl::StrCat("WHERE ", ActiveStatesWhere()).c_str(), "");
  }

  absl::Status TransitionRollout(const RolloutTransition& t) override {
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
          return absl::FailedPreconditionError(absl::StrCat(
              "tenants ", absl::StrJoin(named, ", "),
              " are in another active rollout; finish or abort it first"));
        }
      }
      Stmt up(*db_, "UPDATE rollouts SET state = ?, reason = coalesce(?, reason), wave = "
                   "coalesce(?, wave), bake_until = coalesce(?, bake_until), updated_at = ? "
                   "WHERE id = ? AND state = ? AND (CAST(? AS INTEGER) IS NULL OR wave = ?)");
      up.Bind(Name(t.to)).BindOptional(t.reason).BindOptional(t.wave).BindOptional(t.bake_until)
          .Bind(Now()).Bind(t.id).Bind(Name(t.from)).BindOptional(t.from_wave)
          .BindOptional(t.from_wave);
      RETURN_IF_ERROR(up.Run());
      if (up.changes() == 0) {
        ASSIGN_OR_RETURN(auto now, QueryRollouts("WHERE id = ?", t.id));
        if (now.empty()) {
          return absl::NotFoundError(absl::StrCat("no rollout '", t.id.substr(0, 64), "'"));
        }
        return absl::AbortedError(absl::StrCat(
            "rollout ", t.id, " moved: it is ", Name(now.front().state), " at wave ",
            now.front().wave, ", not ", Name(t.from),
            t.from_wave ? absl::StrCat(" at wave ", *t.from_wave) : std::string()));
      }
      for (const auto& m : t.tenants) {
        for (auto from : m.from) {
          Stmt mv(*db_, "UPDATE rollout_tenants SET state = ? WHERE rollout_id = ? AND state = ? "
                       "AND (CAST(? AS INTEGER) IS NULL OR wave = ?)");
          mv.Bind(Name(m.to)).Bind(t.id).Bind(Name(from)).BindOptional(m.wave)
              .BindOptional(m.wave);
          RETURN_IF_ERROR(mv.Run());
        }
      }
      if (t.audit) RETURN_IF_ERROR(InsertAudit(*t.audit));
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<RolloutTenantRecord>> ListRolloutTenants(
      const std::string& rollout_id) override {
    absl::MutexLock lock(&mu_);
    Stmt s(*db_, "SELECT rollout_id, tenant_id, agent, wave, state, start_heads, heads, error, "
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

  absl::Status WriteTenantStep(const TenantStepWrite& w) override {
    absl::MutexLock lock(&mu_);
    const RolloutTenantRecord& t = w.step;
    return InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      std::optional<std::string> while_rollout;
      if (w.while_rollout) while_rollout = std::string(Name(*w.while_rollout));
      Stmt s(*db_, "UPDATE rollout_tenants SET state = ?, heads = ?, error = ?, started_at = ?, "
                  "finished_at = ? WHERE rollout_id = ? AND tenant_id = ? AND state = ? AND "
                  "(CAST(? AS TEXT) IS NULL OR (SELECT state FROM rollouts WHERE id = rollout_tenants.rollout_id) = ?)");
      s.Bind(Name(t.state)).Bind(nlohmann::json(t.heads).dump()).Bind(t.error).Bind(t.started_at)
          .Bind(t.finished_at).Bind(t.rollout_id).Bind(t.tenant_id).Bind(Name(w.from))
          .BindOptional(while_rollout).BindOptional(while_rollout);
      RETURN_IF_ERROR(s.Run());
      if (s.changes() == 0) {
        Stmt q(*db_, "SELECT t.state, r.state FROM rollout_tenants t JOIN rollouts r ON r.id = "
                    "t.rollout_id WHERE t.rollout_id = ? AND t.tenant_id = ?");
        q.Bind(t.rollout_id).Bind(t.tenant_id);
        if (q.Step() != kRow) {
          return absl::NotFoundError(absl::StrCat("rollout ", t.rollout_id, " has no tenant ",
                                                  t.tenant_id));
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

  absl::Status WriteTenantProgress(const std::string& rollout_id, const std::string& tenant_id,
                                   const std::string& progress_json) override {
    absl::MutexLock lock(&mu_);
    return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      Stmt s(*db_, "UPDATE rollout_tenants SET progress = ? WHERE rollout_id = ? AND tenant_id = ? "
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

  absl::StatusOr<std::vector<AuditEntry>> TenantAudit(const std::string& tenant_id) override {
    absl::MutexLock lock(&mu_);
    Stmt s(*db_, "SELECT at, actor, action, rollout_id, tenant_id, detail FROM audit WHERE "
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

  absl::Status Audit(const AuditEntry& e) override {
    absl::MutexLock lock(&mu_);
    return Write([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      return InsertAudit(e);
    });
  }

 private:
  // Runs `fn` inside a write transaction (BEGIN IMMEDIATE on SQLite) ...
  // COMMIT; ROLLBACK when it fails.
  // The caller holds mu_, and `fn` runs with it held (each lambda passed
  // here says so, since the analysis does not look through std::function).
  absl::Status InTransaction(const std::function<absl::Status()>& fn, bool check_epoch = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    RETURN_IF_ERROR(Exec(db_->BeginWrite()));
    absl::Status s = check_epoch ? CheckEpoch() : absl::OkStatus();
    if (s.ok()) s = fn();
    if (!s.ok()) {
      absl::Status rolled_back = Exec("ROLLBACK");
      return rolled_back.ok() ? s
                              : absl::Status(s.code(), absl::StrCat(s.message(), "; and ",
                                                                    rolled_back.message()));
    }
    return Exec("COMMIT");
  }

  // A write of its own: alone, or in a transaction that checks the leader
  // epoch first when this controller leads a shared inventory.
  absl::Status Write(const std::function<absl::Status()>& fn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return epoch_ ? InTransaction(fn) : fn();
  }

  // In a write transaction of a fenced inventory: refused unless the leader
  // row still holds this controller's epoch (read FOR SHARE: a takeover's
  // epoch bump waits for this transaction, and every later one sees it).
  absl::Status CheckEpoch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!epoch_) return absl::OkStatus();
    Stmt q(*db_, "SELECT epoch, address FROM leader WHERE one = 1 FOR SHARE");
    if (int rc = q.Step(); rc != kRow) return q.Error(rc);
    if (q.Int(0) == *epoch_) return absl::OkStatus();
    if (*epoch_ == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "this controller is standing by: writes go to the leader",
          q.Text(1).empty() ? std::string() : absl::StrCat(" at ", q.Text(1)),
          " (fleetctl finds it when given every controller: --controller a,b,c)"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "this controller no longer leads the inventory (its epoch ", *epoch_, ", now ", q.Int(0),
        ", led by ", q.Text(1).empty() ? std::string("another controller") : q.Text(1),
        "): the write was refused"));
  }

  absl::Status InsertAudit(const AuditEntry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Stmt s(*db_, "INSERT INTO audit (at, actor, action, rollout_id, tenant_id, detail) VALUES "
                "(?, ?, ?, ?, ?, ?)");
    s.Bind(Now()).Bind(e.actor).Bind(e.action).Bind(e.rollout_id).Bind(e.tenant_id)
        .Bind(e.detail);
    return s.Run();
  }

  // (tenant, rollout) for each of `tenants` held by an active rollout other
  // than `except`.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> BusyTenants(
      const std::vector<std::string>& tenants, const std::string& except)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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

  // Whether transition `t` moves a tenant in `state` at `wave`.
  static bool Moves(const RolloutTransition& t, const std::string& state, int wave) {
    for (const auto& m : t.tenants) {
      if (m.wave && *m.wave != wave) continue;
      for (auto from : m.from) {
        if (Name(from) == state) return true;
      }
    }
    return false;
  }

  absl::StatusOr<std::vector<RolloutRecord>> QueryRollouts(const char* where,
                                                           const std::string& arg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::string sql = absl::StrCat(
        "SELECT id, state, spec, bundle_digest, target, actor, wave, waves, reason, bake_until, "
        "created_at, updated_at FROM rollouts ", where, " ORDER BY created_at DESC, id DESC");
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

  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return db_->Exec(sql); }


  // The one bundle whose digest starts with `digest` (8+ characters).
  absl::StatusOr<std::string> ResolveDigest(const std::string& digest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (digest.size() < 8) {
      return absl::InvalidArgumentError("give at least 8 characters of the bundle digest");
    }
    std::vector<std::string> matches;
    Stmt s(*db_, "SELECT digest FROM bundles WHERE substr(digest, 1, length(CAST(? AS TEXT))) = ? LIMIT 2");
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

  absl::StatusOr<BundleRecord> LoadBundle(const std::string& digest, bool with_files)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
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
    Stmt f(*db_, "SELECT filename, content, checksum FROM bundle_files WHERE digest = ? ORDER BY "
                "filename");
    f.Bind(digest);
    int rc;
    while ((rc = f.Step()) == kRow) b.files.push_back({f.Text(0), f.Blob(1), f.Text(2)});
    if (rc != kDone) return f.Error(rc);
    return b;
  }

  absl::StatusOr<std::vector<TenantRecord>> QueryTenants(const char* where, const std::string& arg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::string sql = absl::StrCat(
        "SELECT id, agent, agent_labels, operator_labels, heads, dirty, dirty_revision, drifted, "
        "reachable, last_seen, error FROM tenants ", where, " ORDER BY id");
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

  absl::Status ReplaceLocked(const std::string& address, const std::vector<TenantRecord>& tenants)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const TenantRecord& t : tenants) {
      Stmt other(*db_, "SELECT agent FROM tenants WHERE id = ? AND agent <> ?");
      other.Bind(t.id).Bind(address);
      if (other.Step() == kRow) {
        return absl::AlreadyExistsError(absl::StrCat("tenant ", t.id, " of agent ", address,
                                                     " is already served by agent ",
                                                     other.Text(0)));
      }
    }
    std::string now = Now();
    std::set<std::string> reported;
    for (const TenantRecord& t : tenants) {
      reported.insert(t.id);
      Stmt s(*db_, "INSERT INTO tenants (id, agent, agent_labels, heads, dirty, dirty_revision, "
                  "drifted, reachable, last_seen, error) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
                  "ON CONFLICT(id) DO UPDATE SET agent_labels = excluded.agent_labels, heads = "
                  "excluded.heads, dirty = excluded.dirty, dirty_revision = "
                  "excluded.dirty_revision, drifted = excluded.drifted, reachable = 1, last_seen "
                  "= excluded.last_seen, error = excluded.error");
      s.Bind(t.id).Bind(address).Bind(nlohmann::json(t.labels).dump())
          .Bind(nlohmann::json(t.heads).dump()).Bind(int64_t{t.dirty}).Bind(t.dirty_revision)
          .Bind(nlohmann::json(t.drifted).dump()).Bind(now).Bind(t.error);
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

  absl::Mutex mu_;
  std::unique_ptr<SqlDb> db_ ABSL_GUARDED_BY(mu_);
  // Set for a shared inventory: every write checks it (0: standing by).
  std::optional<int64_t> epoch_ ABSL_GUARDED_BY(mu_);

};

}  // namespace

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
    return absl::FailedPreconditionError(absl::StrCat(
        "the inventory at ", migrations::ConnectionName(to_postgres),
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
        Stmt write(*to, absl::StrCat("INSERT INTO ", t.name, " (", t.columns, ") VALUES (", marks,
                                     ")"));
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
    return rolled_back.ok() ? s
                            : absl::Status(s.code(), absl::StrCat(s.message(), "; and ",
                                                                  rolled_back.message()));
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
