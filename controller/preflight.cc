#include "controller/preflight.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/convert.h"
#include "serving/log.h"

namespace fleet::controller {
namespace {

// Runs `fn` on every planned tenant, kPreflightCalls at once.
template <typename F>
void ForEachPlanned(RolloutPlanResult& plan, const F& fn) {
  std::vector<PlannedTenantInfo*> all;
  for (auto& wave : plan.waves) {
    for (auto& t : wave) all.push_back(&t);
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < all.size(); i = next++) fn(*all[i]);
  };
  std::vector<std::thread> workers;
  const size_t n = std::min<size_t>(kPreflightCalls, all.size());
  for (size_t w = 0; w < n; ++w) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
}

}  // namespace

void RehearsePlan(AgentClient& agents, const std::string& digest, const std::string& target,
                  RolloutPlanResult& plan) {
  ForEachPlanned(plan, [&](PlannedTenantInfo& t) {
    auto r = agents.Rehearse(t.tenant.agent, t.tenant.id, digest, target);
    if (r.ok()) {
      t.rehearsal = *std::move(r);
    } else {
      t.rehearsal.set_outcome("error");
      t.rehearsal.set_error(std::string(r.status().message()));
    }
    spdlog::info("tenant={} event=rehearsal outcome={} revision={}", t.tenant.id,
                 t.rehearsal.outcome(), t.rehearsal.revision());
  });
}

std::vector<std::string> RehearsalFailures(const RolloutPlanResult& plan) {
  std::vector<std::string> out;
  for (const auto& wave : plan.waves) {
    for (const auto& t : wave) {
      const fleet::v1::Rehearsal& r = t.rehearsal;
      if (r.outcome() == "ok") continue;
      if (r.outcome() == "failed") {
        out.push_back(absl::StrCat(t.tenant.id, ": failed at revision ", r.revision(), " (",
                                   r.file(), ":", r.line(), "): ", r.error()));
      } else {
        out.push_back(absl::StrCat(t.tenant.id, ": not rehearsed: ",
                                   r.error().empty() ? "no answer" : r.error()));
      }
    }
  }
  return out;
}

void SizeLockHeavyFindings(AgentClient& agents, const std::vector<migrations::LintFinding>& lint,
                           int64_t large_bytes, RolloutPlanResult& plan) {
  // revision -> its lock-heavy findings
  std::map<std::string, std::vector<const migrations::LintFinding*>> heavy;
  for (const auto& f : lint) {
    if (!f.ignored && f.rule->lock_heavy && !f.table.empty()) heavy[f.revision].push_back(&f);
  }
  if (heavy.empty()) return;
  ForEachPlanned(plan, [&](PlannedTenantInfo& t) {
    std::vector<const migrations::LintFinding*> mine;
    std::set<std::string> tables;
    for (const std::string& step : t.steps) {
      auto it = heavy.find(step);
      if (it == heavy.end()) continue;
      for (const auto* f : it->second) {
        mine.push_back(f);
        tables.insert(f->table);
      }
    }
    if (mine.empty()) return;
    auto sizes = agents.TableSizes(t.tenant.agent, t.tenant.id, {tables.begin(), tables.end()});
    if (!sizes.ok()) {
      t.table_sizes_error = std::string(sizes.status().message());
      spdlog::warn("tenant={} event=table-sizes-unread error=\"{}\"", t.tenant.id,
                   t.table_sizes_error);
      return;
    }
    std::map<std::string, const fleet::v1::TableSize*> by_name;
    for (const auto& s : sizes->tables()) by_name[s.table()] = &s;
    for (const auto* f : mine) {
      auto size = by_name.find(f->table);
      if (size == by_name.end()) continue;  // not there yet: an earlier step creates it
      fleet::v1::TableFinding out;
      out.set_rule(f->rule->id);
      out.set_revision(f->revision);
      out.set_table(f->table);
      out.set_bytes(size->second->bytes());
      out.set_rows(size->second->rows());
      out.set_severity(size->second->bytes() >= large_bytes
                           ? "error"
                           : std::string(migrations::LintSeverityName(f->severity)));
      t.table_findings.push_back(std::move(out));
    }
  });
}

std::vector<std::string> LargeTableErrors(const RolloutPlanResult& plan) {
  std::vector<std::string> out;
  for (const auto& wave : plan.waves) {
    for (const auto& t : wave) {
      if (!t.table_sizes_error.empty()) {
        // Unknown is not small: the gate does not open on a silent agent.
        out.push_back(absl::StrCat(t.tenant.id, ": the sizes of the tables its lock-heavy "
                                   "findings touch are unknown (", t.table_sizes_error, ")"));
      }
      for (const auto& f : t.table_findings) {
        if (f.severity() != "error") continue;
        out.push_back(absl::StrCat(t.tenant.id, ": ", f.rule(), " on table ", f.table(), " (",
                                   proto::HumanBytes(f.bytes()),
                                   f.rows() >= 0 ? absl::StrCat(", ~", f.rows(), " rows") : "",
                                   ") at revision ", f.revision()));
      }
    }
  }
  return out;
}

}  // namespace fleet::controller
