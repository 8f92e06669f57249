// Fuzz target: the target-expression parser and the planners behind it.
// Input: the first line is the database's current heads (comma-separated),
// the rest is a target (`head`, `-2`, `reporting@+1`, `ae10:base`, ...),
// resolved against examples/support-desk (branches, a label, depends_on and
// a merge). Any input must give a plan or an error, never a crash, and a
// plan must only name revisions of the graph.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "migrations/file_system.h"
#include "migrations/revision_graph.h"
#include "migrations/script_directory.h"

namespace {

using fleet::migrations::RevisionGraph;

// Built once per fuzzing process; the graph is immutable and thread-safe.
const RevisionGraph& Graph() {
  static const RevisionGraph* graph = [] {
    auto g = fleet::migrations::LoadRevisionGraph(fleet::migrations::DefaultFileSystem(),
                                                  FLEET_SOURCE_DIR "/examples/support-desk/versions");
    if (!g.ok()) {
      std::fprintf(stderr, "target_fuzzer: %s\n", std::string(g.status().message()).c_str());
      std::abort();
    }
    return g->release();
  }();
  return *graph;
}

void CheckPlan(const absl::StatusOr<fleet::migrations::Plan>& plan) {
  if (!plan.ok()) return;
  for (const auto& step : plan->steps) {
    for (const auto* revisions : {&step.from_revisions, &step.to_revisions}) {
      for (const std::string& r : *revisions) {
        if (!Graph().FindExact(r)) {
          std::fprintf(stderr, "target_fuzzer: a plan names '%s', not in the graph\n", r.c_str());
          std::abort();
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // targets are short; long inputs only slow the search
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  absl::string_view heads_line = newline == input.npos ? "" : input.substr(0, newline);
  absl::string_view target = newline == input.npos ? input : input.substr(newline + 1);
  std::vector<std::string> heads = absl::StrSplit(heads_line, ',', absl::SkipEmpty());
  const RevisionGraph& g = Graph();
  (void)g.Resolve(target);
  (void)g.ResolveOne(target);
  CheckPlan(g.PlanUpgrade(heads, target));
  CheckPlan(g.PlanDowngrade(heads, target));
  std::vector<std::string> targets = absl::StrSplit(target, ',', absl::SkipEmpty());
  CheckPlan(g.PlanStamp(heads, targets, /*purge=*/false));
  CheckPlan(g.PlanDowngradeToHeads(heads, targets));
  std::pair<std::string, std::string> range = absl::StrSplit(target, absl::MaxSplits(':', 1));
  (void)g.History(range.first, range.second);
  (void)g.CurrentRevisions(heads);
  (void)g.AppliedRevisions(heads);
  return 0;
}
