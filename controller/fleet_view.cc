#include "controller/fleet_view.h"

#include <set>

#include "migrations/bundle.h"
#include "migrations/status_macros.h"

namespace fleet::controller {

absl::StatusOr<migrations::LruCache<migrations::RevisionGraph>::Loaded> BundleGraphs::Parse(
    const BundleRecord& bundle) {
  ASSIGN_OR_RETURN(std::unique_ptr<const migrations::RevisionGraph> g,
                   migrations::BundleGraph(bundle.digest, bundle.files));
  size_t bytes = 0;
  for (const auto& f : bundle.files) bytes += f.content.size() + f.filename.size();
  return migrations::LruCache<migrations::RevisionGraph>::Loaded{
      std::shared_ptr<const migrations::RevisionGraph>(std::move(g)), bytes};
}

absl::StatusOr<std::shared_ptr<const migrations::RevisionGraph>> BundleGraphs::Get(
    const std::string& digest) {
  return cache_.GetOrLoad(
      digest, [&]() -> absl::StatusOr<migrations::LruCache<migrations::RevisionGraph>::Loaded> {
        ASSIGN_OR_RETURN(BundleRecord bundle, inventory_.GetBundle(digest));
        return Parse(bundle);
      });
}

absl::StatusOr<std::shared_ptr<const migrations::RevisionGraph>> BundleGraphs::Get(
    const BundleRecord& bundle) {
  return cache_.GetOrLoad(bundle.digest, [&] { return Parse(bundle); });
}

absl::StatusOr<FleetView> ComputeFleetView(Inventory& inventory, BundleGraphs& graphs,
                                           const std::map<std::string, std::string>& selector,
                                           const std::vector<std::string>& ids) {
  FleetView view;
  std::shared_ptr<const migrations::RevisionGraph> head;
  // The bundle list carries no scripts; the graph comes from the cache.
  ASSIGN_OR_RETURN(std::vector<BundleRecord> bundles, inventory.ListBundles());
  if (!bundles.empty()) {
    ASSIGN_OR_RETURN(head, graphs.Get(bundles.front().digest));
    view.head_digest = bundles.front().digest;
    for (auto h : head->heads()) view.heads.push_back(head->id(h));
  }
  ASSIGN_OR_RETURN(std::vector<TenantRecord> tenants, inventory.ListTenants());
  // Tenants a rollout is migrating right now show as "migrating".
  std::set<std::string> migrating;
  ASSIGN_OR_RETURN(std::vector<RolloutRecord> rollouts, inventory.ListActiveRollouts());
  for (const RolloutRecord& r : rollouts) {
    if (r.state != fleet::v1::ROLLOUT_RUNNING && r.state != fleet::v1::ROLLOUT_ROLLING_BACK) {
      continue;
    }
    ASSIGN_OR_RETURN(auto members, inventory.ListRolloutTenants(r.id));
    for (const auto& m : members) {
      if (m.state == fleet::v1::TENANT_RUNNING ||
          (r.state == fleet::v1::ROLLOUT_ROLLING_BACK && m.state == fleet::v1::TENANT_ROLLING_BACK)) {
        migrating.insert(m.tenant_id);
      }
    }
  }
  std::vector<std::shared_ptr<const migrations::RevisionGraph>> others;
  bool others_loaded = false;
  // Thousands of tenants share a handful of revision sets: compute each
  // set's distance once.
  std::map<std::vector<std::string>, std::pair<std::string, int>> by_heads;
  for (const TenantRecord& t : tenants) {
    if (!Selects(t, selector, ids)) continue;
    TenantStatus row;
    const bool plain = t.reachable && t.error.empty() && !t.dirty && t.drifted.empty();
    auto memo = plain ? by_heads.find(t.heads) : by_heads.end();
    if (memo != by_heads.end()) {
      row = TenantStatus{t, memo->second.first, memo->second.second};
    } else {
      row = ComputeTenantStatus(t, head.get(), {});
      if (plain && row.state != "unknown-revision") by_heads[t.heads] = {row.state, row.behind};
    }
    if (row.state == "unknown-revision" && !others_loaded) {
      // Only now read the older bundles: they tell "ahead" from "unknown".
      others_loaded = true;
      for (const BundleRecord& b : bundles) {
        if (b.digest == view.head_digest) continue;
        ASSIGN_OR_RETURN(auto g, graphs.Get(b.digest));
        others.push_back(std::move(g));
      }
    }
    if (row.state == "unknown-revision" && !others.empty()) {
      std::vector<const migrations::RevisionGraph*> raw;
      for (const auto& g : others) raw.push_back(g.get());
      row = ComputeTenantStatus(t, head.get(), raw);
    }
    if (migrating.count(t.id) && row.state != "unreachable") row.state = "migrating";
    ++view.counts[row.state];
    view.rows.push_back(std::move(row));
  }
  return view;
}

}  // namespace fleet::controller
