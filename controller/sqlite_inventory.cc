#include <sqlite3.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/inventory.h"
#include "migrations/status_macros.h"
#include "nlohmann/json.hpp"

namespace fleet::controller {
namespace {

constexpr int kSchemaVersion = 2;

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

constexpr char kActiveStates[] =
    "('pending', 'running', 'paused', 'halted', 'rolling_back', 'rollback_failed')";

std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

// One prepared statement; binds by position, steps, and finalizes.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(const std::string& v) {
    sqlite3_bind_text(stmt_, ++n_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindBlob(const std::string& v) {
    sqlite3_bind_blob(stmt_, ++n_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int64_t v) {
    sqlite3_bind_int64(stmt_, ++n_, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int Step() { return rc_ == SQLITE_OK ? sqlite3_step(stmt_) : rc_; }
  absl::Status Run() {
    int rc = Step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return absl::OkStatus();
    return Error(rc);
  }
  absl::Status Error(int rc) const {
    return absl::InternalError(absl::StrCat("inventory: ", sqlite3_errstr(rc), ": ",
                                            sqlite3_errmsg(db_)));
  }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::string Blob(int col) const {
    const void* b = sqlite3_column_blob(stmt_, col);
    return b ? std::string(static_cast<const char*>(b),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  int changes() const { return sqlite3_changes(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  int n_ = 0;
};

nlohmann::json Parse(const std::string& text, nlohmann::json fallback) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? fallback : j;
}

class SqliteInventory final : public Inventory {
 public:
  explicit SqliteInventory(sqlite3* db) : db_(db) {}
  ~SqliteInventory() override { sqlite3_close(db_); }

  absl::Status Init() {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
    RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL"));
    RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON"));
    sqlite3_busy_timeout(db_, 5000);
    RETURN_IF_ERROR(Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
    int64_t version = 0;
    {
      Stmt s(db_, "SELECT coalesce(max(version), 0) FROM schema_version");
      if (s.Step() == SQLITE_ROW) version = s.Int(0);
    }
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "inventory schema version ", version, " is newer than this controller understands (",
          kSchemaVersion, "); run a newer fleet-controller"));
    }
    // Each step upgrades the schema by one version, in its own transaction.
    const char* steps[] = {kSchemaV1, kSchemaV2};
    for (int v = static_cast<int>(version); v < kSchemaVersion; ++v) {
      RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
      absl::Status s = Exec(steps[v]);
      if (s.ok()) {
        s = Exec(absl::StrCat("INSERT INTO schema_version (version) VALUES (", v + 1, ")").c_str());
      }
      RETURN_IF_ERROR(Exec(s.ok() ? "COMMIT" : "ROLLBACK"));
      RETURN_IF_ERROR(s);
    }
    return absl::OkStatus();
  }

  absl::Status AddAgent(const AgentRecord& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "INSERT INTO agents (address, state, last_seen, missed_polls, last_error, "
                "added_at) VALUES (?, ?, ?, ?, ?, ?)");
    s.Bind(a.address).Bind(a.state).Bind(a.last_seen).Bind(int64_t{a.missed_polls})
        .Bind(a.last_error).Bind(Now());
    int rc = s.Step();
    if (rc == SQLITE_CONSTRAINT) {
      return absl::AlreadyExistsError(absl::StrCat("agent ", a.address, " is already enrolled"));
    }
    return rc == SQLITE_DONE ? absl::OkStatus() : s.Error(rc);
  }

  absl::StatusOr<int> RemoveAgent(const std::string& address) override {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t tenants = 0;
    {
      Stmt c(db_, "SELECT count(*) FROM tenants WHERE agent = ?");
      c.Bind(address);
      if (c.Step() == SQLITE_ROW) tenants = c.Int(0);
    }
    Stmt s(db_, "DELETE FROM agents WHERE address = ?");
    s.Bind(address);
    RETURN_IF_ERROR(s.Run());
    if (s.changes() == 0) return absl::NotFoundError(absl::StrCat("no agent ", address));
    return static_cast<int>(tenants);
  }

  absl::StatusOr<std::vector<AgentRecord>> ListAgents() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT address, state, last_seen, missed_polls, last_error FROM agents "
                "ORDER BY address");
    std::vector<AgentRecord> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      out.push_back({s.Text(0), s.Text(1), s.Text(2), static_cast<int>(s.Int(3)), s.Text(4)});
    }
    if (rc != SQLITE_DONE) return s.Error(rc);
    return out;
  }

  absl::Status UpdateAgent(const AgentRecord& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "UPDATE agents SET state = ?, last_seen = ?, missed_polls = ?, last_error = ? "
                "WHERE address = ?");
    s.Bind(a.state).Bind(a.last_seen).Bind(int64_t{a.missed_polls}).Bind(a.last_error)
        .Bind(a.address);
    return s.Run();
  }

  absl::Status ReplaceAgentTenants(const std::string& address,
                                   const std::vector<TenantRecord>& tenants) override {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    absl::Status s = ReplaceLocked(address, tenants);
    absl::Status end = Exec(s.ok() ? "COMMIT" : "ROLLBACK");
    return s.ok() ? end : s;
  }

  absl::Status SetAgentTenantsReachable(const std::string& address, bool reachable) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "UPDATE tenants SET reachable = ? WHERE agent = ?");
    s.Bind(int64_t{reachable}).Bind(address);
    return s.Run();
  }

  absl::StatusOr<std::vector<TenantRecord>> ListTenants() override {
    std::lock_guard<std::mutex> lock(mu_);
    return QueryTenants("", "");
  }

  absl::Status SetTenantHeads(const std::string& id,
                              const std::vector<std::string>& heads) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "UPDATE tenants SET heads = ?, last_seen = ? WHERE id = ?");
    s.Bind(nlohmann::json(heads).dump()).Bind(Now()).Bind(id);
    return s.Run();
  }

  absl::StatusOr<TenantRecord> GetTenant(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(std::vector<TenantRecord> t, QueryTenants("WHERE id = ?", id));
    if (t.empty()) return absl::NotFoundError(absl::StrCat("no tenant '", id.substr(0, 128), "'"));
    return t.front();
  }

  absl::Status SetTenantLabels(const std::string& id,
                               const std::map<std::string, std::string>& labels) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(std::vector<TenantRecord> t, QueryTenants("WHERE id = ?", id));
    if (t.empty()) return absl::NotFoundError(absl::StrCat("no tenant '", id.substr(0, 128), "'"));
    // Operator labels overlay the agent's: a value sets, an absent key that
    // the agent reports is recorded as removed (null).
    nlohmann::json ops = nlohmann::json::object();
    Stmt get(db_, "SELECT agent_labels FROM tenants WHERE id = ?");
    get.Bind(id);
    nlohmann::json agent_labels = get.Step() == SQLITE_ROW ? Parse(get.Text(0), nlohmann::json::object())
                                                           : nlohmann::json::object();
    for (const auto& [k, v] : labels) {
      if (!agent_labels.contains(k) || agent_labels[k] != v) ops[k] = v;
    }
    for (const auto& [k, v] : agent_labels.items()) {
      if (!labels.count(k)) ops[k] = nullptr;
    }
    Stmt s(db_, "UPDATE tenants SET operator_labels = ? WHERE id = ?");
    s.Bind(ops.dump()).Bind(id);
    return s.Run();
  }

  absl::Status RemoveTenant(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "DELETE FROM tenants WHERE id = ?");
    s.Bind(id);
    RETURN_IF_ERROR(s.Run());
    if (s.changes() == 0) return absl::NotFoundError(absl::StrCat("no tenant '", id.substr(0, 128), "'"));
    return absl::OkStatus();
  }

  absl::Status PutBundle(const BundleRecord& b) override {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    absl::Status s = [&]() -> absl::Status {
      int64_t seq = 0;
      {
        Stmt q(db_, "SELECT coalesce(max(seq), 0) + 1 FROM bundles");
        if (q.Step() == SQLITE_ROW) seq = q.Int(0);
      }
      Stmt up(db_, "INSERT INTO bundles (digest, pushed_at, seq, heads, revisions) VALUES "
                   "(?, ?, ?, ?, ?) ON CONFLICT(digest) DO UPDATE SET pushed_at = "
                   "excluded.pushed_at, seq = excluded.seq");
      up.Bind(b.digest).Bind(Now()).Bind(seq).Bind(nlohmann::json(b.heads).dump())
          .Bind(int64_t{b.revisions});
      RETURN_IF_ERROR(up.Run());
      for (const auto& f : b.files) {
        Stmt ins(db_, "INSERT OR IGNORE INTO bundle_files (digest, filename, checksum, content) "
                      "VALUES (?, ?, ?, ?)");
        ins.Bind(b.digest).Bind(f.filename).Bind(f.checksum).BindBlob(f.content);
        RETURN_IF_ERROR(ins.Run());
      }
      return absl::OkStatus();
    }();
    absl::Status end = Exec(s.ok() ? "COMMIT" : "ROLLBACK");
    return s.ok() ? end : s;
  }

  absl::StatusOr<std::vector<BundleRecord>> ListBundles() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT digest, pushed_at, heads, revisions FROM bundles ORDER BY seq DESC");
    std::vector<BundleRecord> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      BundleRecord b;
      b.digest = s.Text(0);
      b.pushed_at = s.Text(1);
      b.heads = Parse(s.Text(2), nlohmann::json::array()).get<std::vector<std::string>>();
      b.revisions = static_cast<int>(s.Int(3));
      out.push_back(std::move(b));
    }
    if (rc != SQLITE_DONE) return s.Error(rc);
    return out;
  }

  absl::StatusOr<BundleRecord> GetBundle(const std::string& digest) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (digest.size() < 8) {
      return absl::InvalidArgumentError("give at least 8 characters of the bundle digest");
    }
    std::vector<std::string> matches;
    {
      Stmt s(db_, "SELECT digest FROM bundles WHERE substr(digest, 1, length(?)) = ? LIMIT 2");
      s.Bind(digest).Bind(digest);
      while (s.Step() == SQLITE_ROW) matches.push_back(s.Text(0));
    }
    if (matches.empty()) {
      return absl::NotFoundError(absl::StrCat("no bundle ", digest.substr(0, 64)));
    }
    if (matches.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat("several bundles start with ", digest));
    }
    return LoadBundle(matches.front());
  }

  absl::StatusOr<std::optional<BundleRecord>> NewestBundle() override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT digest FROM bundles ORDER BY seq DESC LIMIT 1");
    if (s.Step() != SQLITE_ROW) return std::optional<BundleRecord>();
    ASSIGN_OR_RETURN(BundleRecord b, LoadBundle(s.Text(0)));
    return std::optional<BundleRecord>(std::move(b));
  }


  absl::Status CreateRollout(const RolloutRecord& r,
                             const std::vector<RolloutTenantRecord>& tenants) override {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    absl::Status s = [&]() -> absl::Status {
      for (const auto& t : tenants) {
        Stmt busy(db_, absl::StrCat("SELECT r.id FROM rollout_tenants t JOIN rollouts r ON r.id = "
                                    "t.rollout_id WHERE t.tenant_id = ? AND r.state IN ",
                                    kActiveStates, " LIMIT 1")
                           .c_str());
        busy.Bind(t.tenant_id);
        if (busy.Step() == SQLITE_ROW) {
          return absl::AlreadyExistsError(absl::StrCat("tenant ", t.tenant_id,
                                                       " is in active rollout ", busy.Text(0)));
        }
      }
      std::string now = Now();
      Stmt ins(db_, "INSERT INTO rollouts (id, state, spec, bundle_digest, target, actor, wave, "
                    "waves, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      ins.Bind(r.id).Bind(r.state).Bind(r.spec_json).Bind(r.bundle_digest).Bind(r.target)
          .Bind(r.actor).Bind(int64_t{r.wave}).Bind(int64_t{r.waves}).Bind(r.reason).Bind(now)
          .Bind(now);
      RETURN_IF_ERROR(ins.Run());
      for (const auto& t : tenants) {
        Stmt it(db_, "INSERT INTO rollout_tenants (rollout_id, tenant_id, agent, wave, state, "
                     "start_heads) VALUES (?, ?, ?, ?, ?, ?)");
        it.Bind(r.id).Bind(t.tenant_id).Bind(t.agent).Bind(int64_t{t.wave}).Bind(t.state)
            .Bind(nlohmann::json(t.start_heads).dump());
        RETURN_IF_ERROR(it.Run());
      }
      return absl::OkStatus();
    }();
    absl::Status end = Exec(s.ok() ? "COMMIT" : "ROLLBACK");
    return s.ok() ? end : s;
  }

  absl::StatusOr<RolloutRecord> GetRollout(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(std::vector<RolloutRecord> r, QueryRollouts("WHERE id = ?", id));
    if (r.empty()) return absl::NotFoundError(absl::StrCat("no rollout '", id.substr(0, 64), "'"));
    return r.front();
  }

  absl::StatusOr<std::vector<RolloutRecord>> ListRollouts() override {
    std::lock_guard<std::mutex> lock(mu_);
    return QueryRollouts("", "");
  }

  absl::Status UpdateRollout(const RolloutRecord& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "UPDATE rollouts SET state = ?, wave = ?, reason = ?, bake_until = ?, "
                "updated_at = ? WHERE id = ?");
    s.Bind(r.state).Bind(int64_t{r.wave}).Bind(r.reason).Bind(r.bake_until).Bind(Now()).Bind(r.id);
    return s.Run();
  }

  absl::StatusOr<std::vector<RolloutTenantRecord>> ListRolloutTenants(
      const std::string& rollout_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT rollout_id, tenant_id, agent, wave, state, start_heads, heads, error, "
                "started_at, finished_at FROM rollout_tenants WHERE rollout_id = ? ORDER BY "
                "wave, tenant_id");
    s.Bind(rollout_id);
    std::vector<RolloutTenantRecord> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      RolloutTenantRecord t;
      t.rollout_id = s.Text(0);
      t.tenant_id = s.Text(1);
      t.agent = s.Text(2);
      t.wave = static_cast<int>(s.Int(3));
      t.state = s.Text(4);
      t.start_heads = Parse(s.Text(5), nlohmann::json::array()).get<std::vector<std::string>>();
      t.heads = Parse(s.Text(6), nlohmann::json::array()).get<std::vector<std::string>>();
      t.error = s.Text(7);
      t.started_at = s.Text(8);
      t.finished_at = s.Text(9);
      out.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE) return s.Error(rc);
    return out;
  }

  absl::Status UpdateRolloutTenant(const RolloutTenantRecord& t) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "UPDATE rollout_tenants SET state = ?, heads = ?, error = ?, started_at = ?, "
                "finished_at = ? WHERE rollout_id = ? AND tenant_id = ?");
    s.Bind(t.state).Bind(nlohmann::json(t.heads).dump()).Bind(t.error).Bind(t.started_at)
        .Bind(t.finished_at).Bind(t.rollout_id).Bind(t.tenant_id);
    return s.Run();
  }

  absl::StatusOr<std::vector<AuditEntry>> TenantAudit(const std::string& tenant_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "SELECT at, actor, action, rollout_id, tenant_id, detail FROM audit WHERE "
                "tenant_id = ? ORDER BY id");
    s.Bind(tenant_id);
    std::vector<AuditEntry> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      out.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5)});
    }
    if (rc != SQLITE_DONE) return s.Error(rc);
    return out;
  }

  absl::Status Audit(const std::string& actor, const std::string& action,
                     const std::string& rollout_id, const std::string& tenant_id,
                     const std::string& detail) override {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "INSERT INTO audit (at, actor, action, rollout_id, tenant_id, detail) VALUES "
                "(?, ?, ?, ?, ?, ?)");
    s.Bind(Now()).Bind(actor).Bind(action).Bind(rollout_id).Bind(tenant_id).Bind(detail);
    return s.Run();
  }

 private:
  absl::StatusOr<std::vector<RolloutRecord>> QueryRollouts(const char* where,
                                                           const std::string& arg) {
    std::string sql = absl::StrCat(
        "SELECT id, state, spec, bundle_digest, target, actor, wave, waves, reason, bake_until, "
        "created_at, updated_at FROM rollouts ", where, " ORDER BY created_at DESC, id DESC");
    Stmt s(db_, sql.c_str());
    if (*where) s.Bind(arg);
    std::vector<RolloutRecord> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      RolloutRecord r;
      r.id = s.Text(0);
      r.state = s.Text(1);
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
    if (rc != SQLITE_DONE) return s.Error(rc);
    return out;
  }

  absl::Status Exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return absl::OkStatus();
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("inventory: ", msg));
  }

  absl::StatusOr<BundleRecord> LoadBundle(const std::string& digest) {
    BundleRecord b;
    {
      Stmt s(db_, "SELECT digest, pushed_at, heads, revisions FROM bundles WHERE digest = ?");
      s.Bind(digest);
      if (s.Step() != SQLITE_ROW) return absl::NotFoundError(absl::StrCat("no bundle ", digest));
      b.digest = s.Text(0);
      b.pushed_at = s.Text(1);
      b.heads = Parse(s.Text(2), nlohmann::json::array()).get<std::vector<std::string>>();
      b.revisions = static_cast<int>(s.Int(3));
    }
    Stmt f(db_, "SELECT filename, content, checksum FROM bundle_files WHERE digest = ? ORDER BY "
                "filename");
    f.Bind(digest);
    int rc;
    while ((rc = f.Step()) == SQLITE_ROW) b.files.push_back({f.Text(0), f.Blob(1), f.Text(2)});
    if (rc != SQLITE_DONE) return f.Error(rc);
    return b;
  }

  absl::StatusOr<std::vector<TenantRecord>> QueryTenants(const char* where,
                                                         const std::string& arg) {
    std::string sql = absl::StrCat(
        "SELECT id, agent, agent_labels, operator_labels, heads, dirty, dirty_revision, drifted, "
        "reachable, last_seen, error FROM tenants ", where, " ORDER BY id");
    Stmt s(db_, sql.c_str());
    if (*where) s.Bind(arg);
    std::vector<TenantRecord> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
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
    if (rc != SQLITE_DONE) return s.Error(rc);
    return out;
  }

  absl::Status ReplaceLocked(const std::string& address, const std::vector<TenantRecord>& tenants) {
    for (const TenantRecord& t : tenants) {
      Stmt other(db_, "SELECT agent FROM tenants WHERE id = ? AND agent <> ?");
      other.Bind(t.id).Bind(address);
      if (other.Step() == SQLITE_ROW) {
        return absl::AlreadyExistsError(absl::StrCat("tenant ", t.id, " of agent ", address,
                                                     " is already served by agent ",
                                                     other.Text(0)));
      }
    }
    std::string now = Now();
    nlohmann::json keep = nlohmann::json::array();
    for (const TenantRecord& t : tenants) {
      keep.push_back(t.id);
      Stmt s(db_, "INSERT INTO tenants (id, agent, agent_labels, heads, dirty, dirty_revision, "
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
    Stmt drop(db_, "DELETE FROM tenants WHERE agent = ? AND id NOT IN (SELECT value FROM "
                   "json_each(?))");
    drop.Bind(address).Bind(keep.dump());
    return drop.Run();
  }

  std::mutex mu_;
  sqlite3* db_;  // GUARDED_BY(mu_)
};

}  // namespace

bool IsActiveRolloutState(const std::string& state) {
  return state == "pending" || state == "running" || state == "paused" || state == "halted" ||
         state == "rolling_back" || state == "rollback_failed";
}

absl::StatusOr<std::unique_ptr<Inventory>> OpenSqliteInventory(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open inventory ", path, ": ", msg));
  }
  auto inv = std::make_unique<SqliteInventory>(db);
  RETURN_IF_ERROR(inv->Init());
  return std::unique_ptr<Inventory>(std::move(inv));
}

}  // namespace fleet::controller
