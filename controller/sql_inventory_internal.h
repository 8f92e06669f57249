// SqlInventory: the Inventory on SQLite or PostgreSQL (controller/sql_db.h),
// shared by sql_inventory.cc (schema, agents, tenants, bundles, audit, the
// transactions every write runs in) and sql_inventory_rollouts.cc (rollouts
// and their tenants' steps). Internal to those files.
#ifndef FLEET_CONTROLLER_SQL_INVENTORY_INTERNAL_H_
#define FLEET_CONTROLLER_SQL_INVENTORY_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/inventory.h"
#include "controller/sql_db.h"
#include "fleet/v1/common.pb.h"
#include "nlohmann/json.hpp"

namespace fleet::controller::sql_inventory_internal {

// States are stored by name (proto/states.h): readable with sqlite3, and
// the same strings the inventory always held.
std::string Name(fleet::v1::RolloutState s);
std::string Name(fleet::v1::RolloutTenantState s);
absl::StatusOr<fleet::v1::RolloutState> RolloutStateOf(const std::string& name);
absl::StatusOr<fleet::v1::RolloutTenantState> TenantStateOf(const std::string& name);
// "<column> IN ('pending', ...)": the active states, from the one list.
std::string ActiveStatesWhere(const char* column = "state");
std::string Now();
nlohmann::json Parse(const std::string& text, nlohmann::json fallback);

class SqlInventory final : public Inventory {
 public:
  SqlInventory(std::unique_ptr<SqlDb> db, std::optional<int64_t> epoch)
      : db_(std::move(db)), epoch_(epoch) {}

  // Creates the schema, or upgrades it one version at a time, in one
  // transaction (on PostgreSQL under a lock, so controllers starting
  // together do it once).
  absl::Status Init();

  // This controller leads now, with `epoch` (LeadInventory).
  void Lead(int64_t epoch) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Status AddAgent(const AgentRecord& a) override;

  absl::StatusOr<int> RemoveAgent(const std::string& address) override;

  absl::StatusOr<std::vector<AgentRecord>> ListAgents() override;

  absl::Status UpdateAgent(const AgentRecord& a) override;

  absl::Status ReplaceAgentTenants(const std::string& address,
                                   const std::vector<TenantRecord>& tenants) override;

  absl::Status SetAgentTenantsReachable(const std::string& address, bool reachable) override;

  absl::StatusOr<std::vector<TenantRecord>> ListTenants() override;

  absl::StatusOr<TenantRecord> GetTenant(const std::string& id) override;

  absl::Status SetTenantLabels(const std::string& id,
                               const std::map<std::string, std::string>& labels) override;

  absl::Status RemoveTenant(const std::string& id) override;

  absl::Status PutBundle(const BundleRecord& b) override;

  absl::StatusOr<std::vector<BundleRecord>> ListBundles() override;

  absl::StatusOr<BundleRecord> GetBundle(const std::string& digest) override;

  absl::StatusOr<BundleRecord> GetBundleInfo(const std::string& digest) override;

  absl::Status CreateRollout(const RolloutRecord& r,
                             const std::vector<RolloutTenantRecord>& tenants,
                             const std::optional<AuditEntry>& audit) override;

  absl::StatusOr<RolloutRecord> GetRollout(const std::string& id) override;

  absl::StatusOr<std::vector<RolloutRecord>> ListRollouts() override;

  absl::StatusOr<std::vector<RolloutRecord>> ListActiveRollouts() override;

  absl::Status TransitionRollout(const RolloutTransition& t) override;

  absl::StatusOr<std::vector<RolloutTenantRecord>> ListRolloutTenants(
      const std::string& rollout_id) override;

  absl::Status WriteTenantStep(const TenantStepWrite& w) override;

  absl::Status WriteTenantProgress(const std::string& rollout_id, const std::string& tenant_id,
                                   const std::string& progress_json) override;

  absl::StatusOr<std::vector<AuditEntry>> TenantAudit(const std::string& tenant_id) override;

  absl::Status Audit(const AuditEntry& e) override;

 private:
  // Runs `fn` inside a write transaction (BEGIN IMMEDIATE on SQLite) ...
  // COMMIT; ROLLBACK when it fails.
  // The caller holds mu_, and `fn` runs with it held (each lambda passed
  // here says so, since the analysis does not look through std::function).
  absl::Status InTransaction(const std::function<absl::Status()>& fn, bool check_epoch = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A write of its own: alone, or in a transaction that checks the leader
  // epoch first when this controller leads a shared inventory.
  absl::Status Write(const std::function<absl::Status()>& fn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // In a write transaction of a fenced inventory: refused unless the leader
  // row still holds this controller's epoch (read FOR SHARE: a takeover's
  // epoch bump waits for this transaction, and every later one sees it).
  absl::Status CheckEpoch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Status InsertAudit(const AuditEntry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // (tenant, rollout) for each of `tenants` held by an active rollout other
  // than `except`.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> BusyTenants(
      const std::vector<std::string>& tenants, const std::string& except)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Whether transition `t` moves a tenant in `state` at `wave`.
  static bool Moves(const RolloutTransition& t, const std::string& state, int wave);

  absl::StatusOr<std::vector<RolloutRecord>> QueryRollouts(const char* where,
                                                           const std::string& arg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return db_->Exec(sql); }

  // The one bundle whose digest starts with `digest` (8+ characters).
  absl::StatusOr<std::string> ResolveDigest(const std::string& digest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<BundleRecord> LoadBundle(const std::string& digest, bool with_files)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<std::vector<TenantRecord>> QueryTenants(const char* where, const std::string& arg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Status ReplaceLocked(const std::string& address, const std::vector<TenantRecord>& tenants)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<SqlDb> db_ ABSL_GUARDED_BY(mu_);
  // Set for a shared inventory: every write checks it (0: standing by).
  std::optional<int64_t> epoch_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::controller::sql_inventory_internal

#endif  // FLEET_CONTROLLER_SQL_INVENTORY_INTERNAL_H_
