#include "cli/revision_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace fleet::cli {
namespace {

using migrations::RevisionGraph;

std::string Parents(const RevisionGraph& graph, RevisionGraph::Index rev) {
  const auto& down = graph.script(rev).down_revisions;
  if (down.empty()) return "<base>";
  return absl::StrJoin(down, ", ");
}

}  // namespace

std::string FormatRevisionLine(const RevisionGraph& graph, RevisionGraph::Index rev,
                               const FormatOptions& o) {
  const migrations::Script& s = graph.script(rev);
  std::string text = s.revision;
  if (o.include_parents) {
    if (!s.depends_on.empty()) {
      text = absl::StrCat(Parents(graph, rev), " (", absl::StrJoin(s.depends_on, ", "), ") -> ",
                          text);
    } else {
      text = absl::StrCat(Parents(graph, rev), " -> ", text);
    }
  }
  if (o.include_branches && !graph.branch_labels(rev).empty()) {
    absl::StrAppend(&text, " (", absl::StrJoin(graph.branch_labels(rev), ", "), ")");
  }
  if (o.head_indicators || o.tree_indicators) {
    if (graph.IsRealHead(rev)) absl::StrAppend(&text, " (head)");
    if (graph.IsHead(rev) && !graph.IsRealHead(rev)) absl::StrAppend(&text, " (effective head)");
    if (o.current) absl::StrAppend(&text, " (current)");
  }
  if (o.tree_indicators) {
    if (graph.IsBranchPoint(rev)) absl::StrAppend(&text, " (branchpoint)");
    if (graph.IsMergePoint(rev)) absl::StrAppend(&text, " (mergepoint)");
  }
  if (o.include_doc) absl::StrAppend(&text, ", ", s.message);
  return text;
}

std::string FormatRevisionBlock(const RevisionGraph& graph, RevisionGraph::Index rev,
                                bool current) {
  const migrations::Script& s = graph.script(rev);
  std::string out = absl::StrCat("Rev: ", s.revision, graph.IsHead(rev) ? " (head)" : "",
                                 graph.IsBranchPoint(rev) ? " (branchpoint)" : "",
                                 graph.IsMergePoint(rev) ? " (mergepoint)" : "",
                                 current ? " (current)" : "", "\n");
  absl::StrAppend(&out, graph.IsMergePoint(rev) ? "Merges: " : "Parent: ", Parents(graph, rev),
                  "\n");
  if (!s.depends_on.empty()) {
    absl::StrAppend(&out, "Also depends on: ", absl::StrJoin(s.depends_on, ", "), "\n");
  }
  if (graph.IsBranchPoint(rev)) {
    std::vector<std::string> next;
    for (auto n : graph.next_revisions(rev)) next.push_back(graph.id(n));
    absl::StrAppend(&out, "Branches into: ", absl::StrJoin(next, ", "), "\n");
  }
  if (!graph.branch_labels(rev).empty()) {
    absl::StrAppend(&out, "Branch names: ", absl::StrJoin(graph.branch_labels(rev), ", "), "\n");
  }
  absl::StrAppend(&out, "Path: ", s.path, "\n\n");
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(s.message, '\n')) {
    lines.push_back(absl::StrCat("    ", line));
  }
  absl::StrAppend(&out, absl::StrJoin(lines, "\n"), "\n");
  return out;
}

nlohmann::json RevisionJson(const RevisionGraph& graph, RevisionGraph::Index rev) {
  const migrations::Script& s = graph.script(rev);
  std::vector<std::string> next;
  for (auto n : graph.next_revisions(rev)) next.push_back(graph.id(n));
  return nlohmann::json{
      {"revision", s.revision},
      {"down_revisions", s.down_revisions},
      {"depends_on", s.depends_on},
      {"branch_labels", graph.branch_labels(rev)},
      {"next_revisions", next},
      {"message", s.message},
      {"create_date", s.create_date},
      {"path", s.path},
      {"checksum", s.checksum},
      {"transactional", s.transactional},
      {"reversible", s.is_reversible()},
      {"has_verify", s.verify.has_value()},
      {"is_head", graph.IsRealHead(rev)},
      {"is_effective_head", graph.IsHead(rev) && !graph.IsRealHead(rev)},
      {"is_base", graph.IsBase(rev)},
      {"is_branch_point", graph.IsBranchPoint(rev)},
      {"is_merge_point", graph.IsMergePoint(rev)},
  };
}

}  // namespace fleet::cli
