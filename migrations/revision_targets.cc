// What a target names: revisions, branch labels, heads, base, relative
// steps (label@head-2), and where a downgrade lands (Alembic's rules).

#include "migrations/revision_graph.h"

#include <charconv>
#include <optional>
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
using graph_internal::ResolutionError;
using graph_internal::MultipleHeadsError;
using graph_internal::PushUnique;

namespace {

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

}  // namespace

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

}  // namespace fleet::migrations
