// FaultyInventory: the controller's Inventory for tests, shared by every
// test of the runner and the service. It is the real SQLite inventory (in a
// temporary directory, so the compare-and-set SQL is what is tested) with
// two seams: a method can be made to fail (the disk is full, the file is
// locked), and a hook can run just before a method (an operator's action
// lands between the runner's read and its write).
#ifndef FLEET_TESTS_TESTING_FAULTY_INVENTORY_H_
#define FLEET_TESTS_TESTING_FAULTY_INVENTORY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controller/inventory.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace fleet::testing {

class FaultyInventory final : public controller::Inventory {
 public:
  FaultyInventory() {
    auto opened = controller::OpenSqliteInventory(dir_.path() + "/fleet.sqlite");
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (opened.ok()) real_ = *std::move(opened);
  }

  // The next `times` calls of `method` (its name, e.g. "WriteTenantStep")
  // fail with `error` and change nothing.
  void Fail(const std::string& method, absl::Status error, int times = 1) {
    absl::MutexLock lock(&mu_);
    faults_[method] = {std::move(error), times};
  }
  // `hook` runs before every call of `method` until it returns false.
  void Before(const std::string& method, std::function<bool()> hook) {
    absl::MutexLock lock(&mu_);
    hooks_[method] = std::move(hook);
  }
  int Calls(const std::string& method) {
    absl::MutexLock lock(&mu_);
    return calls_[method];
  }
  controller::Inventory& real() { return *real_; }
  const std::string& path() const { return dir_.path(); }

  absl::Status AddAgent(const controller::AgentRecord& a) override {
    return Call("AddAgent", [&] { return real_->AddAgent(a); });
  }
  absl::StatusOr<int> RemoveAgent(const std::string& address) override {
    return Call<absl::StatusOr<int>>("RemoveAgent", [&] { return real_->RemoveAgent(address); });
  }
  absl::StatusOr<std::vector<controller::AgentRecord>> ListAgents() override {
    return Call<absl::StatusOr<std::vector<controller::AgentRecord>>>(
        "ListAgents", [&] { return real_->ListAgents(); });
  }
  absl::Status UpdateAgent(const controller::AgentRecord& a) override {
    return Call("UpdateAgent", [&] { return real_->UpdateAgent(a); });
  }
  absl::Status ReplaceAgentTenants(const std::string& address,
                                   const std::vector<controller::TenantRecord>& t) override {
    return Call("ReplaceAgentTenants", [&] { return real_->ReplaceAgentTenants(address, t); });
  }
  absl::Status SetAgentTenantsReachable(const std::string& address, bool reachable) override {
    return Call("SetAgentTenantsReachable",
                [&] { return real_->SetAgentTenantsReachable(address, reachable); });
  }
  absl::StatusOr<std::vector<controller::TenantRecord>> ListTenants() override {
    return Call<absl::StatusOr<std::vector<controller::TenantRecord>>>(
        "ListTenants", [&] { return real_->ListTenants(); });
  }
  absl::StatusOr<controller::TenantRecord> GetTenant(const std::string& id) override {
    return Call<absl::StatusOr<controller::TenantRecord>>("GetTenant",
                                                          [&] { return real_->GetTenant(id); });
  }
  absl::Status SetTenantLabels(const std::string& id,
                               const std::map<std::string, std::string>& labels) override {
    return Call("SetTenantLabels", [&] { return real_->SetTenantLabels(id, labels); });
  }
  absl::Status RemoveTenant(const std::string& id) override {
    return Call("RemoveTenant", [&] { return real_->RemoveTenant(id); });
  }
  absl::Status PutBundle(const controller::BundleRecord& b) override {
    return Call("PutBundle", [&] { return real_->PutBundle(b); });
  }
  absl::StatusOr<std::vector<controller::BundleRecord>> ListBundles() override {
    return Call<absl::StatusOr<std::vector<controller::BundleRecord>>>(
        "ListBundles", [&] { return real_->ListBundles(); });
  }
  absl::StatusOr<controller::BundleRecord> GetBundle(const std::string& digest) override {
    return Call<absl::StatusOr<controller::BundleRecord>>(
        "GetBundle", [&] { return real_->GetBundle(digest); });
  }
  absl::StatusOr<controller::BundleRecord> GetBundleInfo(const std::string& digest) override {
    return Call<absl::StatusOr<controller::BundleRecord>>(
        "GetBundleInfo", [&] { return real_->GetBundleInfo(digest); });
  }
  absl::Status CreateRollout(const controller::RolloutRecord& r,
                             const std::vector<controller::RolloutTenantRecord>& t,
                             const std::optional<controller::AuditEntry>& audit) override {
    return Call("CreateRollout", [&] { return real_->CreateRollout(r, t, audit); });
  }
  absl::StatusOr<controller::RolloutRecord> GetRollout(const std::string& id) override {
    return Call<absl::StatusOr<controller::RolloutRecord>>("GetRollout",
                                                           [&] { return real_->GetRollout(id); });
  }
  absl::StatusOr<std::vector<controller::RolloutRecord>> ListRollouts() override {
    return Call<absl::StatusOr<std::vector<controller::RolloutRecord>>>(
        "ListRollouts", [&] { return real_->ListRollouts(); });
  }
  absl::StatusOr<std::vector<controller::RolloutRecord>> ListActiveRollouts() override {
    return Call<absl::StatusOr<std::vector<controller::RolloutRecord>>>(
        "ListActiveRollouts", [&] { return real_->ListActiveRollouts(); });
  }
  absl::Status TransitionRollout(const controller::RolloutTransition& t) override {
    return Call("TransitionRollout", [&] { return real_->TransitionRollout(t); });
  }
  absl::StatusOr<std::vector<controller::RolloutTenantRecord>> ListRolloutTenants(
      const std::string& id) override {
    return Call<absl::StatusOr<std::vector<controller::RolloutTenantRecord>>>(
        "ListRolloutTenants", [&] { return real_->ListRolloutTenants(id); });
  }
  absl::Status WriteTenantStep(const controller::TenantStepWrite& w) override {
    return Call("WriteTenantStep", [&] { return real_->WriteTenantStep(w); });
  }
  absl::Status WriteTenantProgress(const std::string& rollout_id, const std::string& tenant_id,
                                   const std::string& progress_json) override {
    return Call("WriteTenantProgress",
                [&] { return real_->WriteTenantProgress(rollout_id, tenant_id, progress_json); });
  }
  absl::StatusOr<std::vector<controller::AuditEntry>> TenantAudit(const std::string& id) override {
    return Call<absl::StatusOr<std::vector<controller::AuditEntry>>>(
        "TenantAudit", [&] { return real_->TenantAudit(id); });
  }
  absl::Status Audit(const controller::AuditEntry& e) override {
    return Call("Audit", [&] { return real_->Audit(e); });
  }

 private:
  template <typename R = absl::Status, typename F>
  R Call(const std::string& method, F f) {
    std::function<bool()> hook;
    {
      absl::MutexLock lock(&mu_);
      ++calls_[method];
      if (auto it = faults_.find(method); it != faults_.end() && it->second.second > 0) {
        absl::Status error = it->second.first;
        if (--it->second.second == 0) faults_.erase(it);
        return error;
      }
      if (auto it = hooks_.find(method); it != hooks_.end()) hook = it->second;
    }
    if (hook && !hook()) {
      absl::MutexLock lock(&mu_);
      hooks_.erase(method);
    }
    return f();
  }

  TempDir dir_;
  std::unique_ptr<controller::Inventory> real_;
  absl::Mutex mu_;
  std::map<std::string, std::pair<absl::Status, int>> faults_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::function<bool()>> hooks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_FAULTY_INVENTORY_H_
