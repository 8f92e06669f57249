#include "controller/status.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fleet::controller {
namespace {

bool AllKnown(const migrations::RevisionGraph& g, const std::vector<std::string>& heads) {
  return std::all_of(heads.begin(), heads.end(),
                     [&](const std::string& h) { return g.FindExact(h).has_value(); });
}

}  // namespace

TenantStatus ComputeTenantStatus(const TenantRecord& tenant,
                                 const migrations::RevisionGraph* head,
                                 const std::vector<const migrations::RevisionGraph*>& others) {
  TenantStatus s{tenant, "", -1};
  if (!tenant.reachable || !tenant.error.empty()) {
    s.state = "unreachable";
  } else if (tenant.dirty) {
    s.state = "dirty";
  } else if (!tenant.drifted.empty()) {
    s.state = "drift";
  } else if (head == nullptr) {
    s.state = "no-bundle";
  } else if (!AllKnown(*head, tenant.heads)) {
    s.state = "unknown-revision";
    // Ahead: an older-pushed bundle knows the revision and has the head
    // bundle's heads below it.
    for (const migrations::RevisionGraph* g : others) {
      if (!AllKnown(*g, tenant.heads)) continue;
      bool ahead = true;
      for (auto h : head->heads()) {
        auto plan = g->FindExact(head->id(h)) ? g->PlanUpgrade(tenant.heads, head->id(h))
                                              : absl::StatusOr<migrations::Plan>(
                                                    absl::NotFoundError(""));
        ahead = ahead && plan.ok() && plan->steps.empty();
      }
      if (ahead) {
        s.state = "ahead";
        s.behind = 0;
        break;
      }
    }
  } else {
    auto plan = head->PlanUpgrade(tenant.heads, "heads");
    if (!plan.ok()) {
      s.state = "unknown-revision";
    } else {
      s.behind = static_cast<int>(plan->steps.size());
      s.state = s.behind == 0 ? "current" : "lagging";
    }
  }
  // A tenant whose state is not about its revision still shows a distance
  // when it can be computed.
  if (s.behind < 0 && head != nullptr && AllKnown(*head, tenant.heads) &&
      s.state != "unknown-revision") {
    auto plan = head->PlanUpgrade(tenant.heads, "heads");
    if (plan.ok()) s.behind = static_cast<int>(plan->steps.size());
  }
  return s;
}

std::string SummaryLine(const std::vector<TenantStatus>& rows,
                        const std::vector<std::string>& heads) {
  std::map<std::string, int> counts;
  for (const TenantStatus& r : rows) ++counts[r.state];
  std::vector<std::string> short_heads;
  for (const std::string& h : heads) short_heads.push_back(h.substr(0, 8));
  std::vector<std::string> parts{absl::StrCat(rows.size(), " tenants")};
  if (heads.empty()) {
    parts.push_back("no bundle pushed");
  } else {
    parts.push_back(absl::StrCat(counts["current"], " at head ", absl::StrJoin(short_heads, ",")));
  }
  for (const std::string& state : AllStates()) {
    if (state == "current" || counts[state] == 0) continue;
    parts.push_back(absl::StrCat(counts[state], " ", state));
  }
  return absl::StrJoin(parts, " \u00b7 ");
}

bool Selects(const TenantRecord& t, const std::map<std::string, std::string>& selector,
             const std::vector<std::string>& ids) {
  if (!ids.empty() && std::find(ids.begin(), ids.end(), t.id) == ids.end()) return false;
  for (const auto& [k, v] : selector) {
    auto it = t.labels.find(k);
    if (it == t.labels.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace fleet::controller
