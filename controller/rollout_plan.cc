#include "controller/rollout_plan.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controller/status.h"
#include "migrations/status_macros.h"

namespace fleet::controller {
namespace {

constexpr int kMaxCount = 1000000;  // tenants in a rollout, at most

// "N" or "N%": a count, or a share of `total` rounded up.
absl::StatusOr<int> CountOrPercent(absl::string_view field, absl::string_view text, int total) {
  absl::string_view v = absl::StripAsciiWhitespace(text);
  bool percent = absl::ConsumeSuffix(&v, "%");
  double n;
  // Finite and in range before any conversion: "nan%", "inf" and "1e300"
  // are refused here, never cast.
  if (!absl::SimpleAtod(v, &n) || !std::isfinite(n) || n < 0 || (percent && n > 100) ||
      (!percent && (n != std::floor(n) || n > kMaxCount))) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " takes a count N (0 to ", kMaxCount, ") or a percentage N% (0% to 100%), not '",
        text.substr(0, 64), "'"));
  }
  if (!percent) return static_cast<int>(n);
  return static_cast<int>(std::ceil(n * total / 100.0 - 1e-9));
}

absl::StatusOr<std::vector<double>> Waves(absl::string_view text) {
  std::vector<double> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    double n;
    if (!absl::ConsumeSuffix(&part, "%") || !absl::SimpleAtod(part, &n) || !std::isfinite(n) ||
        n <= 0 || n > 100 || (!out.empty() && n <= out.back())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--waves takes increasing cumulative percentages ending at 100%, e.g. 10%,50%,100%; "
          "not '", text.substr(0, 64), "'"));
    }
    out.push_back(n);
  }
  if (out.empty() || out.back() != 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("--waves must end at 100% so that every tenant is reached; got '", text, "'"));
  }
  return out;
}

}  // namespace

absl::StatusOr<fleet::v1::RolloutSpec> NormalizeSpec(fleet::v1::RolloutSpec spec) {
  if (spec.target().empty()) spec.set_target("heads");
  if (spec.target().size() > 256) return absl::InvalidArgumentError("--to is too long");
  if (spec.canary().empty()) spec.set_canary("1");
  if (spec.waves().empty()) spec.set_waves("10%,50%,100%");
  if (spec.parallel() == 0) spec.set_parallel(8);
  if (spec.max_failures().empty()) spec.set_max_failures("0");
  if (spec.on_failure().empty()) spec.set_on_failure("rollback-all");
  if (spec.tenant_timeout_seconds() == 0) spec.set_tenant_timeout_seconds(600);
  if (spec.parallel() < 1 || spec.parallel() > 256) {
    return absl::InvalidArgumentError("--parallel must be 1..256");
  }
  if (spec.bake_seconds() < 0 || spec.bake_seconds() > 7 * 24 * 3600) {
    return absl::InvalidArgumentError("--bake must be between 0 and 7 days");
  }
  if (spec.tenant_timeout_seconds() < 1) {
    return absl::InvalidArgumentError("--tenant-timeout must be positive");
  }
  const std::string& f = spec.on_failure();
  if (f != "rollback-all" && f != "rollback-wave" && f != "halt") {
    return absl::InvalidArgumentError(
        absl::StrCat("--on-failure takes rollback-all, rollback-wave or halt, not '", f.substr(0, 64), "'"));
  }
  RETURN_IF_ERROR(CountOrPercent("--canary", spec.canary(), 100).status());
  RETURN_IF_ERROR(CountOrPercent("--max-failures", spec.max_failures(), 100).status());
  RETURN_IF_ERROR(Waves(spec.waves()).status());
  const std::string& p = spec.pause_after();
  if (!p.empty() && p != "canary" && p != "each") {
    for (absl::string_view n : absl::StrSplit(p, ',')) {
      int wave;
      if (!absl::SimpleAtoi(n, &wave) || wave < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--pause-after takes canary, each, or wave numbers like 1,2; not '", p.substr(0, 64), "'"));
      }
    }
  }
  if (spec.actor().size() > 256) return absl::InvalidArgumentError("actor is too long");
  return spec;
}

int AllowedFailures(const fleet::v1::RolloutSpec& spec, int wave_size) {
  auto n = CountOrPercent("--max-failures", spec.max_failures(), wave_size);
  return n.ok() ? *n : 0;
}

bool PausesAfter(const fleet::v1::RolloutSpec& spec, int wave, int waves) {
  const std::string& p = spec.pause_after();
  if (wave + 1 >= waves || p.empty()) return false;  // nothing left to pause before
  if (p == "canary") return wave == 0;
  if (p == "each") return true;
  for (absl::string_view n : absl::StrSplit(p, ',')) {
    int w;
    if (absl::SimpleAtoi(n, &w) && w == wave) return true;
  }
  return false;
}

absl::StatusOr<RolloutPlanResult> PlanRollout(const fleet::v1::RolloutSpec& spec,
                                              const std::vector<TenantRecord>& tenants,
                                              const migrations::RevisionGraph& graph,
                                              const std::set<std::string>& busy) {
  std::map<std::string, std::string> labels(spec.selector().match_labels().begin(),
                                            spec.selector().match_labels().end());
  std::vector<std::string> ids(spec.selector().ids().begin(), spec.selector().ids().end());
  RETURN_IF_ERROR(graph.Resolve(spec.target()).status());

  std::vector<std::string> refusals;
  std::vector<PlannedTenantInfo> todo;
  RolloutPlanResult result;
  for (const TenantRecord& t : tenants) {
    if (!Selects(t, labels, ids)) continue;
    if (busy.count(t.id)) {
      refusals.push_back(absl::StrCat("tenant ", t.id, " is in another active rollout"));
      continue;
    }
    if (!t.reachable || !t.error.empty()) {
      refusals.push_back(absl::StrCat("tenant ", t.id, " is unreachable",
                                      t.error.empty() ? "" : absl::StrCat(" (", t.error, ")")));
      continue;
    }
    if (t.dirty) {
      refusals.push_back(absl::StrCat("tenant ", t.id, " is dirty (revision ", t.dirty_revision,
                                      " failed part-way)"));
      continue;
    }
    if (!t.drifted.empty()) {
      refusals.push_back(absl::StrCat("tenant ", t.id, " has drifted scripts (",
                                      absl::StrJoin(t.drifted, ", "), ")"));
      continue;
    }
    auto plan = graph.PlanUpgrade(t.heads, spec.target());
    if (!plan.ok()) {
      refusals.push_back(absl::StrCat("tenant ", t.id, ": ", plan.status().message()));
      continue;
    }
    PlannedTenantInfo info{t, {}, plan->end_heads, {}, {}, {}};
    for (const auto& step : plan->steps) info.steps.push_back(step.script->revision);
    if (spec.on_failure() != "halt") {
      for (const auto& step : plan->steps) {
        if (!step.script->is_reversible()) {
          refusals.push_back(absl::StrCat(
              "revision ", step.script->revision, " (", step.script->path,
              ") has no downgrade, but --on-failure ", spec.on_failure(),
              " would need it to roll tenant ", t.id, " back (use --on-failure halt, or add one)"));
          break;
        }
      }
    }
    if (info.steps.empty()) {
      result.skipped.push_back(std::move(info));
    } else {
      todo.push_back(std::move(info));
    }
  }
  if (!refusals.empty()) {
    // The first few, and how many in all: a fleet of thousands can give as
    // many reasons (fleetctl status shows each tenant's state).
    constexpr size_t kShown = 10;
    const size_t all = refusals.size();
    if (all > kShown) refusals.resize(kShown);
    return absl::FailedPreconditionError(absl::StrCat(
        "the rollout is refused: ", absl::StrJoin(refusals, "; "),
        all > kShown ? absl::StrCat("; and ", all - kShown,
                                    " more (fleetctl status shows every tenant's state)")
                     : std::string()));
  }
  // Canary first (tenants labelled canary=true, then by id), the rest by id.
  std::stable_sort(todo.begin(), todo.end(), [](const auto& a, const auto& b) {
    bool ca = a.tenant.labels.count("canary") && a.tenant.labels.at("canary") == "true";
    bool cb = b.tenant.labels.count("canary") && b.tenant.labels.at("canary") == "true";
    if (ca != cb) return ca;
    return a.tenant.id < b.tenant.id;
  });
  const int total = static_cast<int>(todo.size());
  if (total == 0) return result;
  ASSIGN_OR_RETURN(int canary, CountOrPercent("--canary", spec.canary(), total));
  canary = std::min(canary, total);
  ASSIGN_OR_RETURN(std::vector<double> waves, Waves(spec.waves()));
  size_t taken = 0;
  if (canary > 0) {
    result.waves.emplace_back(todo.begin(), todo.begin() + canary);
    taken = canary;
  }
  for (double pct : waves) {
    size_t upto = std::min<size_t>(total, static_cast<size_t>(std::ceil(pct * total / 100.0 - 1e-9)));
    if (upto <= taken) continue;
    result.waves.emplace_back(todo.begin() + taken, todo.begin() + upto);
    taken = upto;
  }
  return result;
}

}  // namespace fleet::controller
