#include "migrations/revision_graph.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrations/status_macros.h"

namespace fleet::migrations {
namespace {

using Index = RevisionGraph::Index;

absl::Status RevisionError(absl::string_view message) {
  return absl::FailedPreconditionError(message);
}

absl::Status ResolutionError(absl::string_view message) { return absl::NotFoundError(message); }

absl::Status MultipleHeadsError(absl::string_view argument) {
  return absl::FailedPreconditionError(absl::StrCat(
      "Multiple head revisions are present for given argument '", argument,
      "'; please specify a specific target revision, '<branchname>@", argument,
      "' to narrow to a specific head, or 'heads' for all heads"));
}

void PushUnique(std::vector<Index>& v, Index i) {
  if (std::find(v.begin(), v.end(), i) == v.end()) v.push_back(i);
}

// A relative target: [label@][symbol](+|-)N, matched whole.
struct Relative {
  std::optional<std::string> branch;
  std::optional<std::string> symbol;
  int steps = 0;
  std::string relative;  // "+2", "-1": as written, for messages
};

std::optional<Relative> ParseRelative(absl::string_view target) {
  size_t sign = target.find_last_of("+-");
  if (sign == absl::string_view::npos || sign + 1 == target.size()) return std::nullopt;
  absl::string_view digits = target.substr(sign + 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  Relative r;
  int n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  r.steps = target[sign] == '-' ? -n : n;
  r.relative = std::string(target.substr(sign));
  absl::string_view head = target.substr(0, sign);
  if (size_t at = head.find('@'); at != absl::string_view::npos) {
    if (at == 0) return std::nullopt;
    r.branch = std::string(head.substr(0, at));
    head = head.substr(at + 1);
  }
  if (!head.empty()) {
    if (!std::all_of(head.begin(), head.end(),
                     [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; })) {
      return std::nullopt;
    }
    r.symbol = std::string(head);
  }
  return r;
}

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
  graph->nodes_.reserve(scripts.size());
  for (Script& s : scripts) {
    graph->nodes_.emplace_back();
    graph->nodes_.back().script = std::move(s);
  }
  RETURN_IF_ERROR(graph->Link());
  return std::unique_ptr<const RevisionGraph>(std::move(graph));
}

absl::Status RevisionGraph::Link() {
  const int n = size();
  by_key_.reserve(n * 2);
  for (Index i = 0; i < n; ++i) {
    const Script& s = nodes_[i].script;
    auto [it, inserted] = by_key_.emplace(s.revision, i);
    if (!inserted) {
      const Script& first = nodes_[it->second].script;
      return absl::InvalidArgumentError(absl::StrCat(
          Location(s, s.revision_line), ": revision '", s.revision, "' is declared twice: in ",
          first.path, " and in ", s.path));
    }
  }
  // Labels are keys too; a label may not repeat a label or an id.
  std::vector<std::pair<std::string, Index>> label_keys;
  for (Index i = 0; i < n; ++i) {
    const Script& s = nodes_[i].script;
    for (const std::string& label : s.branch_labels) {
      auto [it, inserted] = by_key_.emplace(label, i);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat(
            Location(s, s.branch_labels_line), ": Branch name '", label, "' in revision ",
            s.revision, " already used by revision ", id(it->second), " (",
            nodes_[it->second].script.path, ")"));
      }
      label_keys.emplace_back(label, i);
    }
  }
  for (Index i = 0; i < n; ++i) {
    Node& node = nodes_[i];
    const Script& s = node.script;
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
        files.push_back(nodes_[c].script.path);
      }
      const Script& first = nodes_[cycle.front()].script;
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
    if (IsBase(i) && nodes_[i].script.depends_on.empty()) real_bases_.push_back(i);
  }

  // Branch label inheritance, as Alembic's _add_branches: the labelled
  // revision's descendants, then from the last of them down to the nearest
  // branch point or merge point.
  {
    std::vector<std::set<std::string>> labels(n);
    for (Index i = 0; i < n; ++i) {
      const auto& own = nodes_[i].script.branch_labels;
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

absl::Status RevisionGraph::CheckOverlap(const std::vector<Index>& targets) const {
  if (targets.size() < 2) return absl::OkStatus();
  for (Index t : targets) {
    std::vector<Index> parents(nodes_[t].norm_down.begin(), nodes_[t].norm_down.end());
    Marks below = Ancestors(parents, true);
    std::vector<std::string> overlaps;
    for (Index o : targets) {
      if (o != t && below[o]) overlaps.push_back(id(o));
    }
    if (!overlaps.empty()) {
      return RevisionError(absl::StrCat("Requested revision ", id(t),
                                        " overlaps with other requested revisions ",
                                        absl::StrJoin(overlaps, ", ")));
    }
  }
  return absl::OkStatus();
}

bool RevisionGraph::SharesLineage(Index target, const std::vector<Index>& against,
                                  bool include_deps) const {
  if (against.empty()) return true;
  Marks up = Descendants({target}, include_deps);
  Marks down = Ancestors({target}, include_deps);
  for (Index a : against) {
    if (up[a] || down[a]) return true;
  }
  return false;
}

absl::StatusOr<std::vector<Index>> RevisionGraph::FilterForLineage(
    const std::vector<Index>& targets, absl::string_view check_against, bool include_deps) const {
  ASSIGN_OR_RETURN(Resolved r, ResolveNumber(check_against));
  std::vector<Index> against;
  if (r.branch) {
    ASSIGN_OR_RETURN(Index b, RevisionForIdent(*r.branch, std::nullopt));
    against.push_back(b);
  }
  for (const std::string& i : r.ids) {
    ASSIGN_OR_RETURN(Index b, RevisionForIdent(i, std::nullopt));
    against.push_back(b);
  }
  std::vector<Index> out;
  for (Index t : targets) {
    if (SharesLineage(t, against, include_deps)) out.push_back(t);
  }
  return out;
}

absl::StatusOr<std::optional<Index>> RevisionGraph::CurrentHead(
    const std::optional<std::string>& branch) const {
  std::vector<Index> current = heads_;
  if (branch) {
    ASSIGN_OR_RETURN(current, FilterForLineage(current, *branch, false));
  }
  if (current.size() > 1) {
    return MultipleHeadsError(branch ? absl::StrCat(*branch, "@head") : "head");
  }
  if (current.empty()) return std::nullopt;
  return current.front();
}

absl::StatusOr<RevisionGraph::Resolved> RevisionGraph::ResolveNumber(absl::string_view id) const {
  Resolved r;
  if (size_t at = id.find('@'); at != absl::string_view::npos) {
    r.branch = std::string(id.substr(0, at));
    id = id.substr(at + 1);
    if (r.branch->empty()) return ResolutionError("Empty branch name before '@'");
  }
  if (id == "heads") {
    if (r.branch) {
      ASSIGN_OR_RETURN(std::vector<Index> hs, FilterForLineage(heads_, *r.branch, false));
      for (Index h : hs) r.ids.push_back(this->id(h));
    } else {
      for (Index h : real_heads_) r.ids.push_back(this->id(h));
    }
  } else if (id == "head") {
    ASSIGN_OR_RETURN(std::optional<Index> h, CurrentHead(r.branch));
    if (h) r.ids.push_back(this->id(*h));
  } else if (id == "base" || id.empty()) {
    // nothing: base
  } else {
    r.ids.emplace_back(id);
  }
  return r;
}

absl::StatusOr<Index> RevisionGraph::ResolveBranch(absl::string_view label) const {
  if (auto it = by_key_.find(label); it != by_key_.end()) return it->second;
  absl::StatusOr<Index> rev = RevisionForIdent(label, std::nullopt);
  if (!rev.ok()) return ResolutionError(absl::StrCat("No such branch: '", label, "'"));
  return rev;
}

absl::StatusOr<Index> RevisionGraph::RevisionForIdent(
    absl::string_view ident, const std::optional<std::string>& check_branch) const {
  std::optional<Index> branch_rev;
  if (check_branch) {
    ASSIGN_OR_RETURN(branch_rev, ResolveBranch(*check_branch));
  }
  Index rev;
  if (auto it = by_key_.find(ident); it != by_key_.end()) {
    rev = it->second;
  } else {
    // A partial id or label: keys longer than three characters that start
    // with it, in the order Alembic's map holds them (ids, then labels).
    std::vector<std::pair<int, Index>> matches;  // (map order, revision)
    const int n = size();
    for (auto it2 = std::lower_bound(sorted_keys_.begin(), sorted_keys_.end(),
                                     std::make_pair(std::string(ident), Index{-1}));
         it2 != sorted_keys_.end() && absl::StartsWith(it2->first, ident); ++it2) {
      if (it2->first.size() <= 3) continue;
      bool is_id = id(it2->second) == it2->first;
      matches.emplace_back(is_id ? it2->second : n + it2->second, it2->second);
    }
    std::sort(matches.begin(), matches.end());
    std::vector<Index> revs;
    for (auto& m : matches) revs.push_back(m.second);
    if (branch_rev) {
      std::vector<Index> filtered;
      for (Index r : revs) {
        if (SharesLineage(r, {*branch_rev}, false)) filtered.push_back(r);
      }
      revs = std::move(filtered);
    }
    if (revs.empty()) {
      return ResolutionError(absl::StrCat(
          "Can't locate revision identified by '", ident, "'",
          ident.size() < 4 ? "; partial revision identifiers need at least four characters" : ""));
    }
    if (revs.size() > 1) {
      std::vector<std::string> shown;
      for (size_t k = 0; k < revs.size() && k < 3; ++k) shown.push_back(absl::StrCat("'", id(revs[k]), "'"));
      return ResolutionError(absl::StrCat("Multiple revisions start with '", ident,
                                          "': ", absl::StrJoin(shown, ", "), "..."));
    }
    rev = revs.front();
  }
  if (branch_rev && !SharesLineage(rev, {*branch_rev}, false)) {
    return ResolutionError(absl::StrCat("Revision ", id(rev), " is not a member of branch '",
                                        *check_branch, "'"));
  }
  return rev;
}

absl::StatusOr<std::vector<Index>> RevisionGraph::Resolve(absl::string_view target) const {
  ASSIGN_OR_RETURN(Resolved r, ResolveNumber(target));
  if (r.branch && r.ids.empty()) {
    RETURN_IF_ERROR(ResolveBranch(*r.branch).status());  // an unknown label is an error
  }
  std::vector<Index> out;
  for (const std::string& ident : r.ids) {
    ASSIGN_OR_RETURN(Index i, RevisionForIdent(ident, r.branch));
    out.push_back(i);
  }
  return out;
}

absl::StatusOr<std::optional<Index>> RevisionGraph::ResolveOne(absl::string_view target) const {
  ASSIGN_OR_RETURN(Resolved r, ResolveNumber(target));
  if (r.ids.size() > 1) return MultipleHeadsError(target);
  if (r.ids.empty()) {
    if (r.branch) RETURN_IF_ERROR(ResolveBranch(*r.branch).status());
    return std::optional<Index>();
  }
  ASSIGN_OR_RETURN(Index i, RevisionForIdent(r.ids.front(), r.branch));
  return std::optional<Index>(i);
}

absl::StatusOr<std::vector<Index>> RevisionGraph::ResolveCurrent(
    const std::vector<std::string>& heads) const {
  std::vector<Index> out;
  for (const std::string& h : heads) {
    std::optional<Index> i = FindExact(h);
    if (!i) {
      return ResolutionError(absl::StrCat(
          "Can't locate revision identified by '", h,
          "': the version table names a revision that no script in the versions directory "
          "declares"));
    }
    PushUnique(out, *i);
  }
  return out;
}

absl::StatusOr<RevisionGraph::WalkPos> RevisionGraph::Walk(
    WalkPos start, int steps, const std::optional<std::string>& branch, bool no_overwalk) const {
  WalkPos initial = start;
  for (int k = 0; k < std::abs(steps); ++k) {
    std::vector<WalkPos> children;
    if (steps > 0) {
      if (initial.kind == WalkPos::Kind::kBase) return RevisionError("Cannot walk up from base");
      std::vector<Index> up =
          initial.kind == WalkPos::Kind::kNone ? bases_ : nodes_[initial.rev].next;
      if (branch) {
        ASSIGN_OR_RETURN(up, FilterForLineage(up, *branch, false));
      }
      for (Index u : up) children.push_back({WalkPos::Kind::kRev, u});
    } else if (initial.kind != WalkPos::Kind::kBase) {
      const std::vector<Index>& down =
          initial.kind == WalkPos::Kind::kNone ? heads_ : nodes_[initial.rev].down;
      for (Index d : down) children.push_back({WalkPos::Kind::kRev, d});
      if (children.empty()) children.push_back({WalkPos::Kind::kBase, -1});
    }
    if (children.empty()) return no_overwalk ? WalkPos{} : initial;
    if (children.size() > 1) return RevisionError("Ambiguous walk");
    initial = children.front();
  }
  return initial;
}

absl::StatusOr<std::vector<Index>> RevisionGraph::ParseUpgradeTarget(
    const std::vector<Index>& current, absl::string_view target,
    bool assert_relative_length) const {
  std::optional<Relative> rel = ParseRelative(target);
  if (!rel) return Resolve(target);
  auto didnt_produce = [&] {
    return RevisionError(absl::StrCat("Relative revision ", rel->relative, " didn't produce ",
                                      std::abs(rel->steps), " migrations"));
  };
  WalkPos pos;
  if (rel->steps > 0) {
    if (!rel->symbol) {
      std::vector<Index> start = current;
      bool from_base = current.empty();
      if (rel->branch) {
        ASSIGN_OR_RETURN(start, FilterForLineage(current, *rel->branch, false));
        if (start.empty()) {
          // The branch has no current head: find the tips of what is applied
          // on it, or start from base.
          Marks active = Ancestors(current, true);
          std::vector<Index> active_list;
          for (Index i = 0; i < size(); ++i) {
            if (active[i]) active_list.push_back(i);
          }
          ASSIGN_OR_RETURN(std::vector<Index> on_branch,
                           FilterForLineage(active_list, *rel->branch, false));
          Marks is_down(size(), 0);
          for (Index r : on_branch) {
            for (Index d : nodes_[r].norm_down) is_down[d] = 1;
          }
          start.clear();
          for (Index r : on_branch) {
            if (!is_down[r]) start.push_back(r);
          }
          from_base = start.empty();
        } else {
          from_base = false;
        }
      }
      if (!from_base && start.size() > 1) {
        return RevisionError("Ambiguous upgrade from multiple current revisions");
      }
      WalkPos begin = from_base ? WalkPos{} : WalkPos{WalkPos::Kind::kRev, start.front()};
      ASSIGN_OR_RETURN(pos, Walk(begin, rel->steps, rel->branch, assert_relative_length));
      if (pos.kind == WalkPos::Kind::kNone) return didnt_produce();
    } else {
      ASSIGN_OR_RETURN(std::optional<Index> s, ResolveOne(*rel->symbol));
      WalkPos begin = s ? WalkPos{WalkPos::Kind::kRev, *s} : WalkPos{};
      ASSIGN_OR_RETURN(pos, Walk(begin, rel->steps, rel->branch, assert_relative_length));
      if (pos.kind == WalkPos::Kind::kNone) return didnt_produce();
    }
  } else {
    if (!rel->symbol) return didnt_produce();  // upgrading to current - n
    std::string sym = rel->branch ? absl::StrCat(*rel->branch, "@", *rel->symbol) : *rel->symbol;
    ASSIGN_OR_RETURN(std::optional<Index> s, ResolveOne(sym));
    WalkPos begin = s ? WalkPos{WalkPos::Kind::kRev, *s} : WalkPos{WalkPos::Kind::kBase, -1};
    ASSIGN_OR_RETURN(pos, Walk(begin, rel->steps, std::nullopt, assert_relative_length));
    if (pos.kind == WalkPos::Kind::kNone) return didnt_produce();
  }
  if (pos.kind == WalkPos::Kind::kRev) return std::vector<Index>{pos.rev};
  return std::vector<Index>{};  // base
}

absl::StatusOr<std::pair<std::optional<std::string>, RevisionGraph::WalkPos>>
RevisionGraph::ParseDowngradeTarget(const std::vector<Index>& current,
                                    absl::string_view target) const {
  using Result = std::pair<std::optional<std::string>, WalkPos>;
  std::optional<Relative> rel = ParseRelative(target);
  if (rel) {
    auto didnt_produce = [&] {
      return RevisionError(absl::StrCat("Relative revision ", rel->relative, " didn't produce ",
                                        std::abs(rel->steps), " migrations"));
    };
    if (rel->steps >= 0) {
      if (!rel->symbol) return didnt_produce();  // downgrading to current + n
      ASSIGN_OR_RETURN(std::optional<Index> s, ResolveOne(*rel->symbol));
      WalkPos begin = s ? WalkPos{WalkPos::Kind::kRev, *s} : WalkPos{};
      ASSIGN_OR_RETURN(WalkPos pos, Walk(begin, rel->steps, rel->branch, true));
      if (pos.kind == WalkPos::Kind::kNone) return RevisionError("Walked too far");
      return Result{rel->branch, pos};
    }
    bool relative_to_current = !rel->symbol;
    std::optional<std::string> branch = rel->branch;
    std::string symbol;
    if (relative_to_current) {
      if (branch) {
        ASSIGN_OR_RETURN(std::vector<Index> on_branch, FilterForLineage(current, *branch, false));
        if (on_branch.empty()) {
          ASSIGN_OR_RETURN(std::vector<Index> all_current,
                           CurrentRevisions([&] {
                             std::vector<std::string> ids;
                             for (Index c : current) ids.push_back(id(c));
                             return ids;
                           }()));
          ASSIGN_OR_RETURN(on_branch, FilterForLineage(all_current, *branch, false));
        }
        if (on_branch.size() != 1) {
          return RevisionError(absl::StrCat(
              "Relative revision ", target, " is ambiguous: ", on_branch.size(),
              " current revisions belong to branch '", *branch, "'"));
        }
        symbol = id(on_branch.front());
      } else {
        if (current.empty()) return didnt_produce();
        if (current.size() > 1) {
          std::vector<std::string> ids;
          for (Index c : current) ids.push_back(id(c));
          return RevisionError(absl::StrCat(
              "Relative downgrade ", target, " from multiple current heads (",
              absl::StrJoin(ids, ", "), ") is ambiguous; name the branch, as <branch>@", target));
        }
        symbol = id(current.front());
        branch = symbol;  // restrict the walk to the selected branch
      }
    } else {
      symbol = *rel->symbol;
    }
    std::string start_expr = branch ? absl::StrCat(*branch, "@", symbol) : symbol;
    ASSIGN_OR_RETURN(std::optional<Index> s, ResolveOne(start_expr));
    WalkPos begin = s ? WalkPos{WalkPos::Kind::kRev, *s} : WalkPos{WalkPos::Kind::kBase, -1};
    ASSIGN_OR_RETURN(WalkPos pos, Walk(begin, rel->steps, std::nullopt, true));
    if (pos.kind == WalkPos::Kind::kNone) {
      if (relative_to_current) return didnt_produce();
      return RevisionError("Walked too far");
    }
    return Result{branch, pos};
  }
  // Absolute. Unlike Alembic, L@head keeps its label when resolved.
  std::optional<std::string> branch;
  if (size_t at = target.rfind('@'); at != absl::string_view::npos) {
    branch = std::string(target.substr(0, at));
  }
  ASSIGN_OR_RETURN(std::optional<Index> rev, ResolveOne(target));
  if (!rev) return Result{branch, WalkPos{WalkPos::Kind::kBase, -1}};
  return Result{branch, WalkPos{WalkPos::Kind::kRev, *rev}};
}

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
    const Script& s = nodes_[r].script;
    if (direction == Direction::kDowngrade && !s.is_reversible()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "revision ", s.revision, " (", s.path,
          ") has no '-- migrate:downgrade' section, so it is irreversible: the downgrade to ",
          destination, " would have to cross it"));
    }
    Step step;
    step.direction = direction;
    step.script = &nodes_[r].script;
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
