// Helpers the revision graph's files share (revision_graph.cc: building
// and walking the graph; revision_targets.cc: what a target names;
// revision_plan.cc: the steps of a plan). Not part of the engine's API.
#ifndef FLEET_MIGRATIONS_REVISION_GRAPH_INTERNAL_H_
#define FLEET_MIGRATIONS_REVISION_GRAPH_INTERNAL_H_

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "migrations/revision_graph.h"

namespace fleet::migrations::graph_internal {

using Index = RevisionGraph::Index;

inline absl::Status RevisionError(absl::string_view message) {
  return absl::FailedPreconditionError(message);
}

inline absl::Status ResolutionError(absl::string_view message) {
  return absl::NotFoundError(message);
}

inline absl::Status MultipleHeadsError(absl::string_view argument) {
  return absl::FailedPreconditionError(absl::StrCat(
      "Multiple head revisions are present for given argument '", argument,
      "'; please specify a specific target revision, '<branchname>@", argument,
      "' to narrow to a specific head, or 'heads' for all heads"));
}

inline void PushUnique(std::vector<Index>& v, Index i) {
  if (std::find(v.begin(), v.end(), i) == v.end()) v.push_back(i);
}

}  // namespace fleet::migrations::graph_internal

#endif  // FLEET_MIGRATIONS_REVISION_GRAPH_INTERNAL_H_
