// Inventory: what the controller knows of the fleet: agents, tenants,
// bundles. An interface, so that the SQLite store (one controller) can give
// way to a PostgreSQL one (several controllers) without touching callers.
//
// Threads: implementations are safe to call from any thread.
#ifndef FLEET_CONTROLLER_INVENTORY_H_
#define FLEET_CONTROLLER_INVENTORY_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fleet/v1/controller.pb.h"
#include "migrations/bundle.h"

namespace fleet::controller {

struct AgentRecord {
  std::string address;
  std::string state = "up";  // up, down
  std::string last_seen;     // RFC 3339 UTC, empty when never
  int missed_polls = 0;
  std::string last_error;
  std::string version;  // the agent's build, as it last reported it
};

struct TenantRecord {
  std::string id;
  std::string agent;
  std::map<std::string, std::string> labels;
  std::vector<std::string> heads;
  bool dirty = false;
  std::string dirty_revision;
  std::vector<std::string> drifted;
  bool reachable = true;
  std::string last_seen;
  std::string error;  // the agent could not read this tenant
};

struct BundleRecord {
  std::string digest;
  std::string pushed_at;
  std::vector<std::string> heads;
  int revisions = 0;
  std::vector<migrations::BundleFile> files;  // empty unless asked for
};

struct RolloutRecord {
  std::string id;
  fleet::v1::RolloutState state = fleet::v1::ROLLOUT_PENDING;
  std::string spec_json;  // the RolloutSpec, as JSON
  std::string bundle_digest;
  std::string target;
  std::string actor;
  int wave = 0;
  int waves = 0;
  std::string reason;
  std::string bake_until;  // RFC 3339 while a bake runs, else empty
  std::string created_at;
  std::string updated_at;
};

struct RolloutTenantRecord {
  std::string rollout_id;
  std::string tenant_id;
  std::string agent;
  int wave = 0;
  fleet::v1::RolloutTenantState state = fleet::v1::TENANT_PENDING;
  std::vector<std::string> start_heads;
  std::vector<std::string> heads;
  std::string error;
  std::string started_at;
  std::string finished_at;
  // Its rehearsal before the rollout started (fleet.v1.Rehearsal as JSON);
  // empty when the rollout was started without --rehearse.
  std::string rehearsal_json;
  // A batched revision's progress on this tenant (fleet.v1.BatchProgress as
  // JSON); empty when none ran. Written by WriteTenantProgress only.
  std::string progress_json;
};

// Who did what, kept for good. `at` is filled in when it is written.
struct AuditEntry {
  std::string at, actor, action, rollout_id, tenant_id, detail;
};

// A compare-and-set move of one rollout, with the moves of its tenants and
// the audit entry that go with it: all of it is written in one transaction,
// or none of it.
struct RolloutTransition {
  std::string id;
  // Refused unless the rollout is still in `from` (and, when set, still at
  // `from_wave`): what the writer read.
  fleet::v1::RolloutState from = fleet::v1::ROLLOUT_STATE_UNSPECIFIED;
  std::optional<int> from_wave;
  fleet::v1::RolloutState to = fleet::v1::ROLLOUT_STATE_UNSPECIFIED;
  std::optional<std::string> reason;      // unchanged when absent
  std::optional<int> wave;                // unchanged when absent
  std::optional<std::string> bake_until;  // unchanged when absent
  // Every tenant of the rollout whose state is one of `from` (and whose wave
  // is `wave`, when set) moves to `to`.
  struct TenantMove {
    std::vector<fleet::v1::RolloutTenantState> from;
    std::optional<int> wave;
    fleet::v1::RolloutTenantState to = fleet::v1::ROLLOUT_TENANT_STATE_UNSPECIFIED;
  };
  std::vector<TenantMove> tenants;
  // Refuse the whole transition, naming them, when a tenant that moves is
  // also in another active rollout (a rollback must not fight a rollout).
  bool refuse_busy_tenants = false;
  std::optional<AuditEntry> audit;
};

// A compare-and-set write of one tenant's step in a rollout.
struct TenantStepWrite {
  RolloutTenantRecord step;  // the new values: state, heads, error, times
  // Refused unless the step is still in `from`...
  fleet::v1::RolloutTenantState from = fleet::v1::ROLLOUT_TENANT_STATE_UNSPECIFIED;
  // ...and, when set, its rollout is still in this state (a tenant starts
  // only while its rollout runs: once a pause is written, none does).
  std::optional<fleet::v1::RolloutState> while_rollout;
  // Also record step.heads as the tenant's heads (read from its agent).
  bool record_heads = false;
  std::optional<AuditEntry> audit;
};

class Inventory {
 public:
  virtual ~Inventory() = default;

  // ALREADY_EXISTS when the address is enrolled.
  [[nodiscard]] virtual absl::Status AddAgent(const AgentRecord& agent) = 0;
  // NOT_FOUND when unknown; removes its tenants too, returning how many.
  [[nodiscard]] virtual absl::StatusOr<int> RemoveAgent(const std::string& address) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<AgentRecord>> ListAgents() = 0;
  [[nodiscard]] virtual absl::Status UpdateAgent(const AgentRecord& agent) = 0;

  // Replaces what an agent reported, in one transaction: tenants it no
  // longer reports are dropped; labels set by operators are kept.
  // ALREADY_EXISTS naming the other agent when a tenant id is taken.
  [[nodiscard]] virtual absl::Status ReplaceAgentTenants(
      const std::string& address, const std::vector<TenantRecord>& tenants) = 0;
  // Marks every tenant of an agent (un)reachable.
  [[nodiscard]] virtual absl::Status SetAgentTenantsReachable(const std::string& address,
                                                              bool reachable) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<TenantRecord>> ListTenants() = 0;
  [[nodiscard]] virtual absl::StatusOr<TenantRecord> GetTenant(const std::string& id) = 0;
  [[nodiscard]] virtual absl::Status SetTenantLabels(
      const std::string& id, const std::map<std::string, std::string>& labels) = 0;
  [[nodiscard]] virtual absl::Status RemoveTenant(const std::string& id) = 0;

  // Stores a checked bundle (idempotent; a re-push makes it the newest).
  [[nodiscard]] virtual absl::Status PutBundle(const BundleRecord& bundle) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<BundleRecord>> ListBundles() = 0;
  // With its files. A unique prefix of 8+ characters works.
  [[nodiscard]] virtual absl::StatusOr<BundleRecord> GetBundle(const std::string& digest) = 0;
  // The same without its files: what reads that need no script take.
  [[nodiscard]] virtual absl::StatusOr<BundleRecord> GetBundleInfo(const std::string& digest) = 0;

  // Records a rollout and its tenants in one transaction. ALREADY_EXISTS
  // naming the tenant and the rollout when a tenant is in an active one.
  [[nodiscard]] virtual absl::Status CreateRollout(
      const RolloutRecord& rollout, const std::vector<RolloutTenantRecord>& tenants,
      const std::optional<AuditEntry>& audit) = 0;
  [[nodiscard]] virtual absl::StatusOr<RolloutRecord> GetRollout(const std::string& id) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<RolloutRecord>> ListRollouts() = 0;
  // Rollouts in an active state (see proto::IsActive).
  [[nodiscard]] virtual absl::StatusOr<std::vector<RolloutRecord>> ListActiveRollouts() = 0;
  // Applies `t` whole, or nothing: ABORTED when the rollout is no longer in
  // t.from (or at t.from_wave) — the caller re-reads and obeys what it
  // finds; FAILED_PRECONDITION when t.refuse_busy_tenants finds tenants held
  // by another active rollout (the message names them).
  [[nodiscard]] virtual absl::Status TransitionRollout(const RolloutTransition& t) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::vector<RolloutTenantRecord>> ListRolloutTenants(
      const std::string& rollout_id) = 0;
  // Applies `w` whole, or nothing: ABORTED when the step is no longer in
  // w.from, or its rollout no longer in w.while_rollout.
  [[nodiscard]] virtual absl::Status WriteTenantStep(const TenantStepWrite& w) = 0;
  // Records a running step's batch progress (RolloutTenantRecord::
  // progress_json): ABORTED unless the step is still running. Progress is
  // not a state: nothing else of the step changes.
  [[nodiscard]] virtual absl::Status WriteTenantProgress(const std::string& rollout_id,
                                                         const std::string& tenant_id,
                                                         const std::string& progress_json) = 0;
  // A tenant's audit entries, oldest first.
  [[nodiscard]] virtual absl::StatusOr<std::vector<AuditEntry>> TenantAudit(
      const std::string& tenant_id) = 0;
  [[nodiscard]] virtual absl::Status Audit(const AuditEntry& entry) = 0;
};

// The SQLite inventory at `path` (created, or upgraded to the current
// schema version). WAL mode, a busy timeout, every query parameterized.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Inventory>> OpenSqliteInventory(
    const std::string& path);

// The PostgreSQL inventory behind `conninfo` (a libpq connection string or
// postgresql:// URL; the password by reference): the same interface over
// its own versioned schema in the connection's schema, created or upgraded
// once however many controllers start together. Several controllers may
// share it (one leads: see leadership.h). With `epoch` (the leader's, from
// Leadership::WaitToLead) every write is refused, FAILED_PRECONDITION, once
// the inventory's leader epoch has moved past it: a deposed leader changes
// nothing. Epoch 0 is a standby's: it reads, and every write is refused.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Inventory>> OpenPostgresInventory(
    const std::string& conninfo, std::optional<int64_t> epoch = std::nullopt);

// Copies the SQLite inventory at `from_sqlite` into the PostgreSQL one at
// `to_postgres` (created or upgraded first; it must hold no agent, bundle
// or rollout), every table in one transaction: agents, tenants, bundles
// with their scripts, rollouts with their tenants' steps, the audit log.
// Returns what it copied ("3 agents, 12 tenants, ..."). The caller keeps
// controllers off `from_sqlite` meanwhile (its InventoryLock).
[[nodiscard]] absl::StatusOr<std::string> MigrateInventory(const std::string& from_sqlite,
                                                           const std::string& to_postgres);

// Makes a shared inventory opened with epoch 0 (standing by: every write
// refused, naming the leader) write as the leader of `epoch`.
[[nodiscard]] absl::Status LeadInventory(Inventory& inventory, int64_t epoch);

// Whether --db names a PostgreSQL inventory (a postgresql:// URL or a
// key=value connection string) rather than a SQLite file.
bool IsPostgresInventory(const std::string& db);

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_INVENTORY_H_
