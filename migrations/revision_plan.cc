// The steps of a plan: what an upgrade collects, the order it runs in, the
// version-table changes each step makes; upgrade, downgrade, stamp.

#include "migrations/revision_graph.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrations/revision_graph_internal.h"
#include "migrations/status_macros.h"

namespace fleet::migrations {

using graph_internal::Index;
using graph_internal::RevisionError;
using graph_internal::PushUnique;

absl::StatusOr<RevisionGraph::Marks> RevisionGraph::CollectUpgrade(
    const std::vector<Index>& targets, const std::vector<Index>& current, bool implicit_base,
    bool inclusive) const {
  RETURN_IF_ERROR(CheckOverlap(targets));
  Marks required = Ancestors(targets, true);
  if (!implicit_base) {
    for (Index c : current) {
      if (!required[c]) return absl::OutOfRangeError("not an ancestor");
    }
  }
  RETURN_IF_ERROR(CheckOverlap(current));
  Marks applied = Ancestors(current, true);
  Marks needs(size(), 0);
  for (Index i = 0; i < size(); ++i) needs[i] = required[i] && !applied[i];
  if (inclusive) {
    for (Index c : current) needs[c] = 1;
  }
  if (!current.empty() && !implicit_base) {
    Marks below = Descendants(current, false);
    for (Index i = 0; i < size(); ++i) needs[i] = needs[i] && below[i];
  }
  return needs;
}

std::vector<Index> RevisionGraph::TopologicalSort(Marks todo,
                                                  const std::vector<Index>& heads) const {
  // Alembic's _topological_sort walks down from the heads, keeping a list of
  // current heads; a candidate that is an ancestor of another current head
  // yields to the first such head in list order. Instead of recomputing
  // ancestor sets, count each revision's children still to be emitted: a
  // candidate is blocked exactly when that count is non-zero. List order is
  // kept as stable keys (a replaced head keeps its key, added heads go last).
  const int n = size();
  std::vector<int> children_left(n, 0);
  int todo_count = 0;
  for (Index i = 0; i < n; ++i) {
    if (!todo[i]) continue;
    ++todo_count;
    for (Index d : nodes_[i].norm_down) {
      if (todo[d]) ++children_left[d];
    }
  }
  std::map<uint64_t, Index> current;  // key -> revision, in list order
  std::vector<int64_t> key_of(n, -1);
  uint64_t next_key = 0;
  {
    std::vector<Index> start;
    for (Index h : heads) {
      if (todo[h]) PushUnique(start, h);
    }
    std::sort(start.begin(), start.end());
    for (Index h : start) {
      key_of[h] = static_cast<int64_t>(next_key);
      current.emplace(next_key++, h);
    }
  }
  std::vector<Index> output;
  output.reserve(todo_count);
  std::vector<Index> stack, visited;
  Marks seen(n, 0);
  auto cur = current.begin();
  while (!current.empty()) {
    Index candidate = cur->second;
    if (children_left[candidate] > 0) {
      // Find the first current head (by key) that descends from candidate.
      uint64_t best = UINT64_MAX;
      stack.assign(nodes_[candidate].norm_next.begin(), nodes_[candidate].norm_next.end());
      while (!stack.empty()) {
        Index x = stack.back();
        stack.pop_back();
        if (seen[x] || !todo[x]) continue;
        seen[x] = 1;
        visited.push_back(x);
        if (key_of[x] >= 0) best = std::min(best, static_cast<uint64_t>(key_of[x]));
        for (Index c : nodes_[x].norm_next) stack.push_back(c);
      }
      for (Index v : visited) seen[v] = 0;
      visited.clear();
      cur = current.find(best);
      continue;
    }
    output.push_back(candidate);
    todo[candidate] = 0;
    std::vector<Index> to_add;
    for (Index d : nodes_[candidate].norm_down) {
      if (!todo[d]) continue;
      --children_left[d];
      if (key_of[d] < 0 && std::find(to_add.begin(), to_add.end(), d) == to_add.end()) {
        to_add.push_back(d);
      }
    }
    uint64_t key = cur->first;
    key_of[candidate] = -1;
    if (to_add.empty()) {
      auto erased = cur;
      cur = erased == current.begin() ? std::next(erased) : std::prev(erased);
      current.erase(erased);
      if (cur == current.end()) cur = current.begin();
    } else {
      cur->second = to_add.front();
      key_of[to_add.front()] = static_cast<int64_t>(key);
      for (size_t k = 1; k < to_add.size(); ++k) {
        key_of[to_add[k]] = static_cast<int64_t>(next_key);
        current.emplace(next_key++, to_add[k]);
      }
    }
  }
  return output;
}

absl::Status RevisionGraph::ApplyVersionChanges(std::vector<std::string>& heads,
                                                Step& step) const {
  auto has = [&](const std::string& v) {
    return std::find(heads.begin(), heads.end(), v) != heads.end();
  };
  auto insert = [&](const std::string& v) -> absl::Status {
    if (has(v)) {
      return RevisionError(absl::StrCat("the version table already holds ", v));
    }
    heads.push_back(v);
    step.version_changes.push_back({VersionChange::Kind::kInsert, "", v});
    return absl::OkStatus();
  };
  auto erase = [&](const std::string& v) -> absl::Status {
    auto it = std::find(heads.begin(), heads.end(), v);
    if (it == heads.end()) {
      return RevisionError(absl::StrCat("the version table does not hold ", v));
    }
    heads.erase(it);
    step.version_changes.push_back({VersionChange::Kind::kDelete, v, ""});
    return absl::OkStatus();
  };
  auto update = [&](const std::string& from, const std::string& to) -> absl::Status {
    auto it = std::find(heads.begin(), heads.end(), from);
    if (it == heads.end()) {
      return RevisionError(absl::StrCat("the version table does not hold ", from));
    }
    if (has(to)) return RevisionError(absl::StrCat("the version table already holds ", to));
    *it = to;
    step.version_changes.push_back({VersionChange::Kind::kUpdate, from, to});
    return absl::OkStatus();
  };
  // Revisions (by id) that are ancestors of the heads other than `except`.
  auto ancestors_of_others = [&](const std::vector<std::string>& except) {
    std::vector<Index> others;
    for (const std::string& h : heads) {
      if (std::find(except.begin(), except.end(), h) != except.end()) continue;
      if (std::optional<Index> i = FindExact(h)) others.push_back(*i);
    }
    return Ancestors(others, true);
  };

  if (step.direction == Direction::kStamp) {
    const auto& from = step.from_revisions;
    const auto& to = step.to_revisions;
    if (!step.is_upgrade && to.empty()) {  // to base: drop the branch
      for (const std::string& f : from) RETURN_IF_ERROR(erase(f));
      return absl::OkStatus();
    }
    const std::string& dest = to.front();
    std::vector<std::string> present;
    for (const std::string& f : from) {
      if (has(f)) present.push_back(f);
    }
    if (present.empty()) {
      if (!has(dest)) RETURN_IF_ERROR(insert(dest));
      return absl::OkStatus();
    }
    for (size_t k = 0; k + 1 < present.size(); ++k) RETURN_IF_ERROR(erase(present[k]));
    if (has(dest)) return erase(present.back());
    return update(present.back(), dest);
  }

  const Index rev = *FindExact(step.script->revision);
  const std::string& self = id(rev);
  std::vector<std::string> downrevs;
  for (Index d : nodes_[rev].norm_down) downrevs.push_back(id(d));

  if (step.direction == Direction::kUpgrade) {
    std::vector<std::string> present;
    for (const std::string& d : downrevs) {
      if (has(d)) present.push_back(d);
    }
    if (present.empty()) return insert(self);  // a base, or a new branch
    if (present.size() > 1) {                  // a merge
      Marks others = ancestors_of_others(downrevs);
      std::vector<std::string> from;
      for (const std::string& d : present) {
        if (!others[*FindExact(d)]) from.push_back(d);
      }
      if (from.empty()) from.push_back(present.back());
      for (size_t k = 0; k + 1 < from.size(); ++k) RETURN_IF_ERROR(erase(from[k]));
      return update(from.back(), self);
    }
    return update(present.front(), self);
  }

  // Downgrade.
  if (!has(self)) {
    return RevisionError(absl::StrCat("cannot downgrade ", self,
                                      ": the version table does not hold it"));
  }
  if (downrevs.empty()) return erase(self);
  Marks others = ancestors_of_others({self});
  std::vector<std::string> to;
  for (const std::string& d : downrevs) {
    if (!others[*FindExact(d)] && !has(d)) to.push_back(d);
  }
  if (to.empty()) return erase(self);
  for (size_t k = 0; k + 1 < to.size(); ++k) RETURN_IF_ERROR(insert(to[k]));
  return update(self, to.back());
}

absl::Status RevisionGraph::AppendSteps(Direction direction, const std::vector<Index>& order,
                                        std::vector<std::string>& heads, Plan& plan,
                                        absl::string_view destination) const {
  for (Index r : order) {
    const Script& s = scripts_[r];
    if (!s.statements_parsed) {
      return absl::FailedPreconditionError(
          absl::StrCat("revision ", s.revision, " (", s.path,
                       ") was loaded to show the history, without its SQL: nothing can run it"));
    }
    if (direction == Direction::kDowngrade && !s.is_reversible()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "revision ", s.revision, " (", s.path,
          ") has no '-- migrate:downgrade' section, so it is irreversible: the downgrade to ",
          destination, " would have to cross it"));
    }
    Step step;
    step.direction = direction;
    step.script = &scripts_[r];
    step.is_upgrade = direction == Direction::kUpgrade;
    if (step.is_upgrade) {
      for (Index d : nodes_[r].down) step.from_revisions.push_back(id(d));
      step.to_revisions.push_back(id(r));
    } else {
      step.from_revisions.push_back(id(r));
      for (Index d : nodes_[r].down) step.to_revisions.push_back(id(d));
    }
    RETURN_IF_ERROR(ApplyVersionChanges(heads, step));
    plan.steps.push_back(std::move(step));
  }
  return absl::OkStatus();
}

absl::StatusOr<Plan> RevisionGraph::PlanUpgrade(const std::vector<std::string>& current_heads,
                                                absl::string_view target) const {
  if (target.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError("Range revision not allowed");
  }
  ASSIGN_OR_RETURN(std::vector<Index> current, ResolveCurrent(current_heads));
  ASSIGN_OR_RETURN(std::vector<Index> targets, ParseUpgradeTarget(current, target, true));
  ASSIGN_OR_RETURN(Marks needs, CollectUpgrade(targets, current, true, false));
  std::vector<Index> order = TopologicalSort(std::move(needs), targets);
  Plan plan;
  plan.start_heads = current_heads;
  std::vector<std::string> heads = current_heads;
  RETURN_IF_ERROR(AppendSteps(Direction::kUpgrade, {order.rbegin(), order.rend()}, heads, plan));
  plan.end_heads = std::move(heads);
  return plan;
}

absl::StatusOr<Plan> RevisionGraph::PlanDowngrade(const std::vector<std::string>& current_heads,
                                                  absl::string_view target) const {
  if (target.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError("Range revision not allowed");
  }
  ASSIGN_OR_RETURN(std::vector<Index> current, ResolveCurrent(current_heads));
  auto parsed = ParseDowngradeTarget(current, target);
  if (!parsed.ok()) return parsed.status();
  auto [branch, dest] = *parsed;
  std::vector<Index> roots;
  if (dest.kind != WalkPos::Kind::kRev) {
    for (Index i = 0; i < size(); ++i) {
      if (IsBase(i)) roots.push_back(i);
    }
  } else {
    roots = nodes_[dest.rev].next;
  }
  if (branch && roots.size() > 1) {
    ASSIGN_OR_RETURN(Index b, ResolveBranch(*branch));
    Marks anc = Ancestors({b}, false);
    std::vector<Index> kept;
    for (Index r : roots) {
      if (anc[r]) kept.push_back(r);
    }
    if (kept.empty()) return RevisionError("Not a valid downgrade target from current heads");
    roots = std::move(kept);
  }
  Marks drop = Descendants(roots, true);
  Marks active = Ancestors(current, true);
  bool any = false;
  for (Index i = 0; i < size(); ++i) {
    drop[i] = drop[i] && active[i];
    any = any || drop[i];
  }
  if (dest.kind == WalkPos::Kind::kRev && !any &&
      std::find(current.begin(), current.end(), dest.rev) == current.end()) {
    return RevisionError(absl::StrCat("Destination ", target,
                                      " is not a valid downgrade target from current head(s)"));
  }
  std::vector<Index> order = TopologicalSort(std::move(drop), current);
  Plan plan;
  plan.start_heads = current_heads;
  std::vector<std::string> heads = current_heads;
  RETURN_IF_ERROR(AppendSteps(Direction::kDowngrade, order, heads, plan, target));
  plan.end_heads = std::move(heads);
  return plan;
}

absl::StatusOr<Plan> RevisionGraph::PlanDowngradeToHeads(
    const std::vector<std::string>& current_heads,
    const std::vector<std::string>& target_heads) const {
  ASSIGN_OR_RETURN(std::vector<Index> current, ResolveCurrent(current_heads));
  ASSIGN_OR_RETURN(std::vector<Index> targets, ResolveCurrent(target_heads));
  Marks applied = Ancestors(current, true);
  for (Index t : targets) {
    if (!applied[t]) {
      return RevisionError(absl::StrCat("cannot downgrade to ", id(t),
                                        ": it is not applied below the current heads"));
    }
  }
  Marks keep = Ancestors(targets, true);
  Marks drop(size(), 0);
  for (Index i = 0; i < size(); ++i) drop[i] = applied[i] && !keep[i];
  std::vector<Index> order = TopologicalSort(std::move(drop), current);
  Plan plan;
  plan.start_heads = current_heads;
  std::vector<std::string> heads = current_heads;
  RETURN_IF_ERROR(AppendSteps(Direction::kDowngrade, order, heads, plan,
                              absl::StrCat("exactly ", absl::StrJoin(target_heads, ", "))));
  std::vector<std::string> want = target_heads, got = heads;
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  if (want != got) {
    return RevisionError(absl::StrCat("downgrading to exactly ", absl::StrJoin(want, ", "),
                                      " would leave ", absl::StrJoin(got, ", ")));
  }
  plan.end_heads = std::move(heads);
  return plan;
}

absl::StatusOr<Plan> RevisionGraph::PlanStamp(const std::vector<std::string>& current_heads,
                                              const std::vector<std::string>& targets,
                                              bool purge) const {
  std::vector<std::string> start = purge ? std::vector<std::string>{} : current_heads;
  ASSIGN_OR_RETURN(std::vector<Index> heads_revs, ResolveCurrent(start));
  std::vector<std::string> revisions = targets;
  if (revisions.empty()) revisions.push_back("base");

  std::vector<Index> filtered;
  for (const std::string& r : revisions) {
    ASSIGN_OR_RETURN(std::vector<Index> f, FilterForLineage(heads_revs, r, true));
    for (Index i : f) PushUnique(filtered, i);
  }
  std::vector<std::optional<Index>> dests;
  for (const std::string& r : revisions) {
    ASSIGN_OR_RETURN(std::vector<Index> got, Resolve(r));
    for (Index g : got) dests.emplace_back(g);
  }
  if (dests.empty()) dests.emplace_back(std::nullopt);

  Plan plan;
  plan.start_heads = start;
  std::vector<std::string> heads = start;
  auto ids_of = [&](const std::vector<Index>& v) {
    std::vector<std::string> out;
    for (Index i : v) out.push_back(id(i));
    return out;
  };
  for (const std::optional<Index>& dest : dests) {
    Step step;
    step.direction = Direction::kStamp;
    if (!dest) {
      for (Index h : filtered) {
        Step s;
        s.direction = Direction::kStamp;
        s.is_upgrade = false;
        s.from_revisions = {id(h)};
        RETURN_IF_ERROR(ApplyVersionChanges(heads, s));
        plan.steps.push_back(std::move(s));
      }
      continue;
    }
    if (std::find(filtered.begin(), filtered.end(), *dest) != filtered.end()) continue;
    Marks desc = Descendants({*dest}, true);
    Marks anc = Ancestors({*dest}, true);
    bool below = false, above = false;
    for (Index h : filtered) {
      above = above || desc[h];
      below = below || anc[h];
    }
    step.to_revisions = {id(*dest)};
    if (above) {
      step.is_upgrade = false;
      step.from_revisions = ids_of(filtered);
    } else if (below) {
      step.is_upgrade = true;
      step.from_revisions = ids_of(filtered);
    } else {
      step.is_upgrade = true;  // a branch not represented: a new row
    }
    RETURN_IF_ERROR(ApplyVersionChanges(heads, step));
    plan.steps.push_back(std::move(step));
  }
  plan.end_heads = std::move(heads);
  return plan;
}

}  // namespace fleet::migrations
