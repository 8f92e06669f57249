// FakeAgentClient: the controller's AgentClient for tests, shared by every
// test of the runner, the poller and the service. Tenants live in memory;
// an upgrade moves them along the real graph of the bundle they were sent.
// A test can make it block inside Migrate until released, fail a tenant,
// be unreachable, or restart and lose its bundle cache, and wait for each
// of those to be reached: interleavings become steps, not races.
#ifndef FLEET_TESTS_TESTING_FAKE_AGENT_CLIENT_H_
#define FLEET_TESTS_TESTING_FAKE_AGENT_CLIENT_H_

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/agent_client.h"
#include "migrations/bundle.h"
#include "migrations/status_macros.h"

namespace fleet::testing {

class FakeAgentClient final : public controller::AgentClient {
 public:
  struct Call {
    std::string method;  // Migrate, GetTenant, Verify, PutBundle, ListTenants, DiffTenant
    std::string agent;
    std::string tenant;
    std::string target;  // Migrate: its target
    bool upgrade = true;
  };

  void AddTenant(const std::string& agent, const std::string& id,
                 std::vector<std::string> heads = {}) {
    absl::MutexLock lock(&mu_);
    controller::TenantRecord t;
    t.id = id;
    t.agent = agent;
    t.heads = std::move(heads);
    tenants_[id] = t;
    agents_[agent];
  }

  // Migrate of `tenant` waits inside the call until Release(tenant).
  void Block(const std::string& tenant) {
    absl::MutexLock lock(&mu_);
    blocked_.insert(tenant);
  }
  void Release(const std::string& tenant) {
    absl::MutexLock lock(&mu_);
    blocked_.erase(tenant);
    cv_.SignalAll();
  }
  // Waits until a Migrate of `tenant` is blocked inside the call.
  bool WaitUntilBlocked(const std::string& tenant,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    absl::MutexLock lock(&mu_);
    const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
    while (waiting_.count(tenant) == 0) {
      if (cv_.WaitWithDeadline(&mu_, deadline)) return waiting_.count(tenant) > 0;
    }
    return true;
  }
  // Upgrades of `tenant` fail with `error` (the tenant does not move).
  void FailUpgrade(const std::string& tenant, absl::Status error) {
    absl::MutexLock lock(&mu_);
    fail_upgrade_[tenant] = std::move(error);
  }
  // Downgrades of `tenant` fail with `error` (the tenant does not move).
  void FailDowngrade(const std::string& tenant, absl::Status error) {
    absl::MutexLock lock(&mu_);
    fail_downgrade_[tenant] = std::move(error);
  }
  // Migrate of `tenant` moves it but reports `heads` as where it is (an
  // agent that is wrong about its own read-back).
  void MisreportHeads(const std::string& tenant, std::vector<std::string> heads) {
    absl::MutexLock lock(&mu_);
    misreport_[tenant] = std::move(heads);
  }
  // TableSizes of `tenant` reports `table` with these sizes (others: absent).
  void SetTableSize(const std::string& tenant, const std::string& table, int64_t bytes,
                    int64_t rows) {
    absl::MutexLock lock(&mu_);
    table_sizes_[tenant][table] = {bytes, rows};
  }
  // Rehearse of `tenant` answers `r` (default: ok, with no locks).
  void SetRehearsal(const std::string& tenant, fleet::v1::Rehearsal r) {
    absl::MutexLock lock(&mu_);
    rehearsals_[tenant] = std::move(r);
  }
  // Migrate of `tenant` reports these batch progress events (before it
  // blocks, when blocked).
  void SetProgress(const std::string& tenant, std::vector<MigrateProgress> events) {
    absl::MutexLock lock(&mu_);
    progress_[tenant] = std::move(events);
  }
  // Verify of `tenant` reports these failures.
  void SetVerifyFailures(const std::string& tenant, std::vector<std::string> failures) {
    absl::MutexLock lock(&mu_);
    verify_failures_[tenant] = std::move(failures);
  }
  // Every call to `agent` fails UNAVAILABLE while set.
  void SetUnreachable(const std::string& agent, bool unreachable) {
    absl::MutexLock lock(&mu_);
    agents_[agent].unreachable = unreachable;
  }
  // The agent restarts: a new instance id and an empty bundle cache.
  void Restart(const std::string& agent) {
    absl::MutexLock lock(&mu_);
    Agent& a = agents_[agent];
    a.cached.clear();
    ++a.instance;
  }

  std::vector<std::string> HeadsOf(const std::string& tenant) {
    absl::MutexLock lock(&mu_);
    return tenants_.at(tenant).heads;
  }
  std::vector<Call> Calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Tenants whose upgrade (or downgrade) started, in order.
  std::vector<std::string> Started(bool upgrade = true) {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> out;
    for (const Call& c : calls_) {
      if (c.method == "Migrate" && c.upgrade == upgrade) out.push_back(c.tenant);
    }
    return out;
  }
  int CallsTo(const std::string& method) {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const Call& c : calls_) n += c.method == method;
    return n;
  }

 private:
  absl::StatusOr<controller::AgentListing> DoListTenants(const std::string& address,
                                                       const std::string& digest) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({"ListTenants", address, "", "", true});
    Agent& a = agents_[address];
    if (a.unreachable) return Unreachable(address);
    controller::AgentListing out;
    out.instance_id = absl::StrCat(address, "#", a.instance);
    out.bundle_missing = !digest.empty() && !a.cached.count(digest);
    for (const auto& [id, t] : tenants_) {
      if (t.agent == address) out.tenants.push_back(t);
    }
    return out;
  }

  absl::Status DoPutBundle(const std::string& address,
                         const controller::BundleRecord& bundle) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({"PutBundle", address, "", "", true});
    Agent& a = agents_[address];
    if (a.unreachable) return Unreachable(address);
    if (!graphs_.count(bundle.digest)) {
      auto g = migrations::BundleGraph(bundle.digest, bundle.files);
      if (!g.ok()) return g.status();
      graphs_[bundle.digest] = std::shared_ptr<const migrations::RevisionGraph>(*std::move(g));
    }
    a.cached.insert(bundle.digest);
    return absl::OkStatus();
  }

  absl::StatusOr<controller::TenantRecord> DoGetTenant(const std::string& address,
                                                     const std::string& tenant_id,
                                                     const std::string& digest) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({"GetTenant", address, tenant_id, "", true});
    ASSIGN_OR_RETURN(auto* t, Find(address, tenant_id, digest));
    return *t;
  }

  absl::StatusOr<std::vector<std::string>> DoVerify(const std::string& address,
                                                  const std::string& tenant_id,
                                                  const std::string& digest) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({"Verify", address, tenant_id, "", true});
    RETURN_IF_ERROR(Find(address, tenant_id, digest).status());
    return verify_failures_[tenant_id];
  }

  absl::StatusOr<fleet::v1::DiffTenantResponse> DoDiffTenant(const std::string& address,
                                                          const std::string& tenant_id,
                                                          const std::string& digest,
                                                          const std::string&) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({"DiffTenant", address, tenant_id, "", true});
    ASSIGN_OR_RETURN(auto* t, Find(address, tenant_id, digest));
    fleet::v1::DiffTenantResponse out;
    for (const auto& h : t->heads) out.add_compared_heads(h);
    return out;
  }

  absl::StatusOr<fleet::v1::TableSizesResponse> DoTableSizes(
      const std::string& address, const std::string& tenant_id,
      const std::vector<std::string>& tables) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({"TableSizes", address, tenant_id, "", true});
    RETURN_IF_ERROR(Find(address, tenant_id, "").status());
    fleet::v1::TableSizesResponse out;
    for (const std::string& t : tables) {
      auto it = table_sizes_[tenant_id].find(t);
      if (it == table_sizes_[tenant_id].end()) continue;
      auto* size = out.add_tables();
      size->set_table(t);
      size->set_bytes(it->second.first);
      size->set_rows(it->second.second);
    }
    return out;
  }

  absl::StatusOr<fleet::v1::Rehearsal> DoRehearse(const std::string& address,
                                                  const std::string& tenant_id,
                                                  const std::string& digest,
                                                  const std::string& target) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({"Rehearse", address, tenant_id, target, true});
    RETURN_IF_ERROR(Find(address, tenant_id, digest).status());
    auto it = rehearsals_.find(tenant_id);
    if (it != rehearsals_.end()) return it->second;
    fleet::v1::Rehearsal ok;
    ok.set_outcome("ok");
    return ok;
  }

  absl::StatusOr<std::vector<std::string>> DoMigrate(const std::string& address,
                                                   const MigrateCall& call) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back({"Migrate", address, call.tenant_id, call.target, call.upgrade});
    cv_.SignalAll();
    RETURN_IF_ERROR(Find(address, call.tenant_id, call.bundle_digest).status());
    if (auto p = progress_.find(call.tenant_id); p != progress_.end() && call.on_progress) {
      for (const MigrateProgress& e : p->second) call.on_progress(e);
    }
    if (blocked_.count(call.tenant_id)) {
      waiting_.insert(call.tenant_id);
      cv_.SignalAll();
      while (blocked_.count(call.tenant_id)) cv_.Wait(&mu_);
      waiting_.erase(call.tenant_id);
    }
    // Looked up again: the agent may have been made unreachable meanwhile.
    if (agents_[address].unreachable) return Unreachable(address);
    controller::TenantRecord& tenant = tenants_.at(call.tenant_id);
    auto& failures = call.upgrade ? fail_upgrade_ : fail_downgrade_;
    if (auto f = failures.find(call.tenant_id); f != failures.end()) return f->second;
    if (call.upgrade) {
      auto plan = graphs_.at(call.bundle_digest)->PlanUpgrade(tenant.heads, call.target);
      if (!plan.ok()) return plan.status();
      tenant.heads = plan->end_heads;
    } else if (!call.target.empty() && call.target[0] == '=') {
      tenant.heads.clear();
      for (absl::string_view h : absl::StrSplit(call.target.substr(1), ',', absl::SkipEmpty())) {
        tenant.heads.emplace_back(h);
      }
    } else {
      return absl::UnimplementedError("the fake downgrades only to =HEADS");
    }
    if (auto m = misreport_.find(call.tenant_id); m != misreport_.end()) return m->second;
    return tenant.heads;
  }

  struct Agent {
    bool unreachable = false;
    int instance = 1;
    std::set<std::string> cached;
  };

  static absl::Status Unreachable(const std::string& address) {
    return absl::UnavailableError(absl::StrCat("agent ", address, ": connection refused"));
  }

  // The tenant, or why a call about it fails.
  absl::StatusOr<controller::TenantRecord*> Find(const std::string& address,
                                                 const std::string& tenant,
                                                 const std::string& digest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Agent& a = agents_[address];
    if (a.unreachable) return Unreachable(address);
    auto it = tenants_.find(tenant);
    if (it == tenants_.end() || it->second.agent != address) {
      return absl::NotFoundError(absl::StrCat("agent ", address, ": no tenant ", tenant));
    }
    if (!digest.empty() && !a.cached.count(digest)) {
      return controller::BundleMissingError(address, digest);
    }
    return &it->second;
  }

  absl::Mutex mu_;
  absl::CondVar cv_;  // a call began, or was blocked or released
  std::map<std::string, controller::TenantRecord> tenants_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, fleet::v1::Rehearsal> rehearsals_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<MigrateProgress>> progress_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, std::pair<int64_t, int64_t>>> table_sizes_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, Agent> agents_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const migrations::RevisionGraph>> graphs_
      ABSL_GUARDED_BY(mu_);
  std::set<std::string> blocked_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> waiting_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> fail_upgrade_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>> misreport_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> fail_downgrade_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>> verify_failures_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_FAKE_AGENT_CLIENT_H_
