// Alembic's text shapes for revisions (ALEMBIC.md "Output shapes") and their
// JSON counterparts. Pure functions.
#ifndef FLEET_CLI_REVISION_FORMAT_H_
#define FLEET_CLI_REVISION_FORMAT_H_

#include <string>

#include "migrations/revision_graph.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

struct FormatOptions {
  bool include_branches = false;
  bool include_doc = false;
  bool include_parents = false;
  bool tree_indicators = true;
  bool head_indicators = true;
  bool current = false;  // the database is at this revision
};

// One line: "parents (deps) -> rev (labels) (head) (current) (branchpoint)
// (mergepoint), message", parts as `options` asks.
std::string FormatRevisionLine(const migrations::RevisionGraph& graph,
                               migrations::RevisionGraph::Index rev, const FormatOptions& options);

// Alembic's verbose block (Rev:, Parent:/Merges:, Also depends on:, Branches
// into:, Branch names:, Path:, then the message indented), ending in "\n".
std::string FormatRevisionBlock(const migrations::RevisionGraph& graph,
                                migrations::RevisionGraph::Index rev, bool current = false);

// The revision as a JSON object (stable field names; see README).
nlohmann::json RevisionJson(const migrations::RevisionGraph& graph,
                            migrations::RevisionGraph::Index rev);

}  // namespace fleet::cli

#endif  // FLEET_CLI_REVISION_FORMAT_H_
