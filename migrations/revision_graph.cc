// The revision graph: built from scripts (Link checks it), walked
// (reachability, history). What a target names is in revision_targets.cc,
// the steps of a plan in revision_plan.cc.

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

namespace {

std::string Location(const Script& s, int line) { return absl::StrCat(s.path, ":", line); }

}  // namespace

absl::string_view DirectionName(Direction d) {
  switch (d) {
    case Direction::kUpgrade:
      return "upgrade";
    case Direction::kDowngrade:
      return "downgrade";
    case Direction::kStamp:
      return "stamp";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<const RevisionGraph>> RevisionGraph::Build(
    std::vector<Script> scripts) {
  std::unique_ptr<RevisionGraph> graph(new RevisionGraph());
  // The scripts stay where the caller built them: a history of thousands
  // is not copied again (each copy is fresh pages for the kernel to fault in).
  graph->nodes_.resize(scripts.size());
  graph->scripts_ = std::move(scripts);
  RETURN_IF_ERROR(graph->Link());
  return std::unique_ptr<const RevisionGraph>(std::move(graph));
}

absl::Status RevisionGraph::Link() {
  const int n = size();
  by_key_.reserve(n * 2);
  for (Index i = 0; i < n; ++i) {
    const Script& s = scripts_[i];
    auto [it, inserted] = by_key_.emplace(s.revision, i);
    if (!inserted) {
      const Script& first = scripts_[it->second];
      return absl::InvalidArgumentError(absl::StrCat(
          Location(s, s.revision_line), ": revision '", s.revision, "' is declared twice: in ",
          first.path, " and in ", s.path));
    }
  }
  // Labels are keys too; a label may not repeat a label or an id.
  std::vector<std::pair<std::string, Index>> label_keys;
  for (Index i = 0; i < n; ++i) {
    const Script& s = scripts_[i];
    for (const std::string& label : s.branch_labels) {
      auto [it, inserted] = by_key_.emplace(label, i);
      if (!inserted) {
        return absl::InvalidArgumentError(
            absl::StrCat(Location(s, s.branch_labels_line), ": Branch name '", label,
                         "' in revision ", s.revision, " already used by revision ", id(it->second),
                         " (", scripts_[it->second].path, ")"));
      }
      label_keys.emplace_back(label, i);
    }
  }
  for (Index i = 0; i < n; ++i) {
    Node& node = nodes_[i];
    const Script& s = scripts_[i];
    for (const std::string& down : s.down_revisions) {
      if (down == s.revision) {
        return absl::InvalidArgumentError(absl::StrCat(Location(s, s.down_revision_line),
                                                       ": Self-loop is detected in revisions (",
                                                       s.revision, ")"));
      }
      auto it = by_key_.find(down);
      if (it == by_key_.end() || id(it->second) != down) {
        return absl::InvalidArgumentError(
            absl::StrCat(Location(s, s.down_revision_line), ": down_revision names '", down,
                         "', but no script declares that revision"));
      }
      PushUnique(node.down, it->second);
    }
    for (const std::string& dep : s.depends_on) {
      if (dep == s.revision) {
        return absl::InvalidArgumentError(
            absl::StrCat(Location(s, s.depends_on_line),
                         ": Dependency self-loop is detected in revisions (", s.revision, ")"));
      }
      auto it = by_key_.find(dep);
      if (it == by_key_.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Location(s, s.depends_on_line), ": depends_on names '", dep,
                         "', but no script declares that revision or branch label"));
      }
      if (it->second == i) {
        return absl::InvalidArgumentError(
            absl::StrCat(Location(s, s.depends_on_line),
                         ": Dependency self-loop is detected in revisions (", s.revision, ")"));
      }
      PushUnique(node.deps, it->second);
    }
    node.all_down = node.down;
    for (Index d : node.deps) PushUnique(node.all_down, d);
  }
  for (Index i = 0; i < n; ++i) {
    for (Index d : nodes_[i].down) nodes_[d].next.push_back(i);
    for (Index d : nodes_[i].all_down) nodes_[d].all_next.push_back(i);
  }

  // Cycles: Kahn's algorithm over every edge; what is left lies on or above
  // a cycle. Each leftover has a leftover parent, so walking parents finds one.
  {
    std::vector<int> indegree(n);
    std::vector<Index> ready;
    for (Index i = 0; i < n; ++i) {
      indegree[i] = static_cast<int>(nodes_[i].all_down.size());
      if (indegree[i] == 0) ready.push_back(i);
    }
    int done = 0;
    while (!ready.empty()) {
      Index i = ready.back();
      ready.pop_back();
      ++done;
      for (Index c : nodes_[i].all_next) {
        if (--indegree[c] == 0) ready.push_back(c);
      }
    }
    if (done != n) {
      Index start = 0;
      while (indegree[start] == 0) ++start;
      std::vector<int> seen_at(n, -1);
      std::vector<Index> path;
      Index cur = start;
      while (seen_at[cur] < 0) {
        seen_at[cur] = static_cast<int>(path.size());
        path.push_back(cur);
        for (Index d : nodes_[cur].all_down) {
          if (indegree[d] > 0) {
            cur = d;
            break;
          }
        }
      }
      std::vector<Index> cycle(path.begin() + seen_at[cur], path.end());
      bool versioned_only = true;
      for (size_t k = 0; k < cycle.size(); ++k) {
        Index from = cycle[k], to = cycle[(k + 1) % cycle.size()];
        const auto& down = nodes_[from].down;
        if (std::find(down.begin(), down.end(), to) == down.end()) versioned_only = false;
      }
      std::sort(cycle.begin(), cycle.end());
      std::vector<std::string> ids;
      std::vector<std::string> files;
      for (Index c : cycle) {
        ids.push_back(id(c));
        files.push_back(scripts_[c].path);
      }
      const Script& first = scripts_[cycle.front()];
      return absl::InvalidArgumentError(absl::StrCat(
          Location(first, versioned_only ? first.down_revision_line : first.depends_on_line), ": ",
          versioned_only ? "Cycle" : "Dependency cycle", " is detected in revisions (",
          absl::StrJoin(ids, ", "), "); files: ", absl::StrJoin(files, ", ")));
    }
  }

  // Normalized dependencies: drop a dependency that a proper ancestor (by
  // down_revision) already depends on. Only ancestors that declare the same
  // dependency matter, so the search is pruned to those.
  {
    absl::flat_hash_map<Index, std::vector<Index>> dependents;
    for (Index i = 0; i < n; ++i) {
      for (Index d : nodes_[i].deps) dependents[d].push_back(i);
    }
    Marks mark(n, 0);
    std::vector<Index> visited, stack;
    for (Index i = 0; i < n; ++i) {
      Node& node = nodes_[i];
      for (Index d : node.deps) {
        bool implied = false;
        const std::vector<Index>& others = dependents[d];
        if (others.size() > 1) {
          // Proper ancestors of i by down_revision; stop at the first that
          // declares d.
          stack.assign(node.down.begin(), node.down.end());
          while (!stack.empty() && !implied) {
            Index a = stack.back();
            stack.pop_back();
            if (mark[a]) continue;
            mark[a] = 1;
            visited.push_back(a);
            const auto& adeps = nodes_[a].deps;
            if (std::find(adeps.begin(), adeps.end(), d) != adeps.end()) implied = true;
            for (Index p : nodes_[a].down) stack.push_back(p);
          }
          for (Index v : visited) mark[v] = 0;
          visited.clear();
          stack.clear();
        }
        if (!implied) node.norm_deps.push_back(d);
      }
      node.norm_down = node.down;
      for (Index d : node.norm_deps) PushUnique(node.norm_down, d);
    }
    for (Index i = 0; i < n; ++i) {
      for (Index d : nodes_[i].norm_down) nodes_[d].norm_next.push_back(i);
    }
  }

  for (Index i = 0; i < n; ++i) {
    if (IsHead(i)) heads_.push_back(i);
    if (IsRealHead(i)) real_heads_.push_back(i);
    if (IsBase(i)) bases_.push_back(i);
    if (IsBase(i) && scripts_[i].depends_on.empty()) real_bases_.push_back(i);
  }

  // Branch label inheritance, as Alembic's _add_branches: the labelled
  // revision's descendants, then from the last of them down to the nearest
  // branch point or merge point.
  {
    std::vector<std::set<std::string>> labels(n);
    for (Index i = 0; i < n; ++i) {
      const auto& own = scripts_[i].branch_labels;
      if (own.empty()) continue;
      labels[i].insert(own.begin(), own.end());
      const std::set<std::string> propagate = labels[i];
      Marks seen(n, 0);
      std::vector<Index> stack{i};
      Index last = i;
      while (!stack.empty()) {
        Index c = stack.back();
        stack.pop_back();
        if (seen[c]) continue;
        seen[c] = 1;
        labels[c].insert(propagate.begin(), propagate.end());
        last = c;
        for (Index x : nodes_[c].next) stack.push_back(x);
      }
      Index parent = last;
      while (nodes_[parent].all_next.size() <= 1 && !IsMergePoint(parent)) {
        labels[parent].insert(propagate.begin(), propagate.end());
        if (nodes_[parent].down.empty()) break;
        parent = nodes_[parent].down.front();
      }
    }
    for (Index i = 0; i < n; ++i) nodes_[i].labels.assign(labels[i].begin(), labels[i].end());
  }

  sorted_keys_.reserve(by_key_.size());
  for (Index i = 0; i < n; ++i) sorted_keys_.emplace_back(id(i), i);
  for (auto& kv : label_keys) sorted_keys_.push_back(kv);
  std::sort(sorted_keys_.begin(), sorted_keys_.end());
  return absl::OkStatus();
}

std::optional<Index> RevisionGraph::FindExact(absl::string_view revision_id) const {
  auto it = by_key_.find(revision_id);
  if (it == by_key_.end() || id(it->second) != revision_id) return std::nullopt;
  return it->second;
}

RevisionGraph::Marks RevisionGraph::Reachable(const std::vector<Index>& from,
                                              std::vector<Index> Node::*edges) const {
  Marks mark(nodes_.size(), 0);
  std::vector<Index> stack(from.begin(), from.end());
  while (!stack.empty()) {
    Index i = stack.back();
    stack.pop_back();
    if (mark[i]) continue;
    mark[i] = 1;
    for (Index next : nodes_[i].*edges) stack.push_back(next);
  }
  return mark;
}

RevisionGraph::Marks RevisionGraph::Ancestors(const std::vector<Index>& from,
                                              bool include_deps) const {
  return Reachable(from, include_deps ? &Node::norm_down : &Node::down);
}

RevisionGraph::Marks RevisionGraph::Descendants(const std::vector<Index>& from,
                                                bool include_deps) const {
  return Reachable(from, include_deps ? &Node::all_next : &Node::next);
}

absl::StatusOr<std::vector<Index>> RevisionGraph::History(absl::string_view lower,
                                                          absl::string_view upper) const {
  std::string low = lower.empty() ? "base" : std::string(lower);
  std::string up = upper.empty() ? "heads" : std::string(upper);
  ASSIGN_OR_RETURN(std::vector<Index> current, Resolve(low));
  absl::StatusOr<std::vector<Index>> targets = ParseUpgradeTarget(current, up, false);
  if (!targets.ok()) return targets.status();
  if (size_t at = low.find('@'); at != std::string::npos) {
    std::string branch = low.substr(0, at);
    std::vector<Index> kept;
    ASSIGN_OR_RETURN(Index b, ResolveBranch(branch));
    for (Index t : *targets) {
      if (SharesLineage(t, {b}, false)) kept.push_back(t);
    }
    *targets = std::move(kept);
  }
  absl::StatusOr<Marks> needs = CollectUpgrade(*targets, current, false, true);
  if (absl::IsOutOfRange(needs.status())) {
    return RevisionError(absl::StrCat("Requested range ", low, ":", up,
                                      " does not refer to ancestor/descendant revisions along "
                                      "the same branch"));
  }
  if (!needs.ok()) return needs.status();
  return TopologicalSort(std::move(*needs), *targets);
}

absl::StatusOr<std::vector<Index>> RevisionGraph::AppliedRevisions(
    const std::vector<std::string>& current_heads) const {
  ASSIGN_OR_RETURN(std::vector<Index> current, ResolveCurrent(current_heads));
  Marks all = Ancestors(current, true);
  std::vector<Index> out;
  for (Index i = 0; i < size(); ++i) {
    if (all[i]) out.push_back(i);
  }
  return out;
}

absl::StatusOr<std::vector<Index>> RevisionGraph::CurrentRevisions(
    const std::vector<std::string>& current_heads) const {
  ASSIGN_OR_RETURN(std::vector<Index> current, ResolveCurrent(current_heads));
  Marks all = Ancestors(current, true);
  // Keep the revisions of `all` with no child (by down_revision) in `all`:
  // `all` is closed under ancestors, so a descendant in it implies a child.
  std::vector<Index> out;
  for (Index i = 0; i < size(); ++i) {
    if (!all[i]) continue;
    const auto& next = nodes_[i].next;
    if (std::none_of(next.begin(), next.end(), [&](Index c) { return all[c] != 0; })) {
      out.push_back(i);
    }
  }
  return out;
}

}  // namespace fleet::migrations