// RevisionGraph: the revision graph of a versions directory, with Alembic's
// semantics (ALEMBIC.md): heads, bases, branch labels, dependencies, every
// target form, and upgrade / downgrade / stamp plans from a set of current
// heads.
//
// A RevisionGraph is immutable once built: every method is const and it may
// be shared by any number of threads without locking. Building validates the
// whole graph; a graph that exists is well-formed (no dangling references,
// no cycles, no duplicate ids or labels).
#ifndef FLEET_MIGRATIONS_REVISION_GRAPH_H_
#define FLEET_MIGRATIONS_REVISION_GRAPH_H_

#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "migrations/script.h"

namespace fleet::migrations {

enum class Direction { kUpgrade, kDowngrade, kStamp };
absl::string_view DirectionName(Direction d);  // "upgrade", "downgrade", "stamp"

// One change to the version table, as Alembic's HeadMaintainer makes it.
struct VersionChange {
  enum class Kind { kInsert, kDelete, kUpdate };
  Kind kind;
  std::string from;  // kDelete, kUpdate
  std::string to;    // kInsert, kUpdate
  bool operator==(const VersionChange&) const = default;
};

// One step of a plan: run one revision's script (or, for a stamp, none) and
// change the version table.
struct Step {
  Direction direction = Direction::kUpgrade;
  const Script* script = nullptr;  // null for stamp steps
  bool is_upgrade = true;          // for stamp steps: moving up or down
  // Alembic's log line: "<from, comma-separated> -> <to>", without dependencies.
  std::vector<std::string> from_revisions;
  std::vector<std::string> to_revisions;
  std::vector<VersionChange> version_changes;
};

struct Plan {
  std::vector<std::string> start_heads;  // the version table before
  std::vector<Step> steps;               // in the order they run
  std::vector<std::string> end_heads;    // the version table after
};

class RevisionGraph {
 public:
  using Index = int;  // position in load order (file name order)

  // Builds and validates the graph. `scripts` must be in load order.
  // Errors name the file and line: duplicate ids (both files), a missing
  // parent or dependency, self-loops, cycles (listing the revisions), a
  // branch label declared twice.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<const RevisionGraph>> Build(
      std::vector<Script> scripts);

  RevisionGraph(const RevisionGraph&) = delete;
  RevisionGraph& operator=(const RevisionGraph&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  const Script& script(Index i) const { return scripts_[i]; }
  const std::string& id(Index i) const { return scripts_[i].revision; }
  std::optional<Index> FindExact(absl::string_view revision_id) const;

  // Versioned heads (nothing points here by down_revision), load order.
  const std::vector<Index>& heads() const { return heads_; }
  // Real heads: nothing points here by down_revision or depends_on.
  const std::vector<Index>& real_heads() const { return real_heads_; }
  // Revisions with no down_revision, and those among them with no depends_on.
  const std::vector<Index>& bases() const { return bases_; }
  const std::vector<Index>& real_bases() const { return real_bases_; }

  bool IsHead(Index i) const { return nodes_[i].next.empty(); }
  bool IsRealHead(Index i) const { return nodes_[i].all_next.empty(); }
  bool IsBase(Index i) const { return nodes_[i].down.empty(); }
  bool IsBranchPoint(Index i) const { return nodes_[i].next.size() > 1; }
  bool IsMergePoint(Index i) const { return nodes_[i].down.size() > 1; }
  const std::vector<Index>& down_revisions(Index i) const { return nodes_[i].down; }
  const std::vector<Index>& next_revisions(Index i) const { return nodes_[i].next; }
  // Parents plus the dependencies not already implied by an ancestor.
  const std::vector<Index>& normalized_down_revisions(Index i) const {
    return nodes_[i].norm_down;
  }
  // Branch labels, own and inherited, sorted.
  const std::vector<std::string>& branch_labels(Index i) const { return nodes_[i].labels; }

  // Resolves a target expression to revisions (Alembic's get_revisions):
  // ids, unique prefixes, labels, head, heads, base, L@head, L@heads, L@base,
  // X@rev. "base" resolves to no revisions.
  [[nodiscard]] absl::StatusOr<std::vector<Index>> Resolve(absl::string_view target) const;
  // As Resolve, but at most one revision (get_revision); nullopt for base.
  [[nodiscard]] absl::StatusOr<std::optional<Index>> ResolveOne(absl::string_view target) const;

  // Plans an upgrade from `current_heads` (what the version table holds) to
  // `target` (absolute or relative: +N, rev+N, L@+N, rev-N).
  [[nodiscard]] absl::StatusOr<Plan> PlanUpgrade(const std::vector<std::string>& current_heads,
                                                 absl::string_view target) const;
  // Plans a downgrade from `current_heads` to `target` (absolute, -N, L@-N,
  // rev-N, base, L@base).
  [[nodiscard]] absl::StatusOr<Plan> PlanDowngrade(const std::vector<std::string>& current_heads,
                                                   absl::string_view target) const;
  // Plans a downgrade from `current_heads` to exactly `target_heads` (ids):
  // every applied revision the targets do not imply is downgraded, whatever
  // branch it is on. What a rollback to "the heads a tenant started from"
  // needs; Alembic's targets cannot say it. FAILED_PRECONDITION when a target
  // is not applied or a revision to drop has no downgrade.
  [[nodiscard]] absl::StatusOr<Plan> PlanDowngradeToHeads(
      const std::vector<std::string>& current_heads,
      const std::vector<std::string>& target_heads) const;

  // Plans moving the version table to `targets` without running scripts.
  // With `purge`, the table is emptied first (the plan starts from nothing).
  [[nodiscard]] absl::StatusOr<Plan> PlanStamp(const std::vector<std::string>& current_heads,
                                               const std::vector<std::string>& targets,
                                               bool purge = false) const;

  // Revisions from `upper` down to `lower` inclusive, newest first, as
  // `history -r lower:upper` lists them. Empty strings mean base and heads.
  [[nodiscard]] absl::StatusOr<std::vector<Index>> History(absl::string_view lower,
                                                           absl::string_view upper) const;

  // Every revision the version table `current_heads` implies as applied:
  // the heads and all their ancestors, dependencies included; load order.
  [[nodiscard]] absl::StatusOr<std::vector<Index>> AppliedRevisions(
      const std::vector<std::string>& current_heads) const;

  // The current revisions a version table implies, as `current` lists them:
  // the given heads and their ancestors reduced to branch heads.
  [[nodiscard]] absl::StatusOr<std::vector<Index>> CurrentRevisions(
      const std::vector<std::string>& current_heads) const;

 private:
  // Node i links scripts_[i].
  struct Node {
    std::vector<Index> down;       // down_revision
    std::vector<Index> deps;       // depends_on, resolved
    std::vector<Index> norm_deps;  // deps not implied by an ancestor's deps
    std::vector<Index> norm_down;  // down + norm_deps
    std::vector<Index> all_down;   // down + deps
    std::vector<Index> next;       // revisions with this as down_revision
    std::vector<Index> all_next;   // ... or as a dependency
    std::vector<Index> norm_next;  // revisions with this in norm_down
    std::vector<std::string> labels;
  };
  using Marks = std::vector<char>;
  // A resolved walk position: a revision, base, or nothing (walked too far).
  struct WalkPos {
    enum class Kind { kNone, kBase, kRev } kind = Kind::kNone;
    Index rev = -1;
  };
  struct Resolved {
    std::vector<std::string> ids;
    std::optional<std::string> branch;
  };

  RevisionGraph() = default;
  absl::Status Link();

  // `from` and every revision reached from it along `edges`.
  Marks Reachable(const std::vector<Index>& from, std::vector<Index> Node::*edges) const;
  Marks Ancestors(const std::vector<Index>& from, bool include_deps) const;
  Marks Descendants(const std::vector<Index>& from, bool include_deps) const;
  absl::Status CheckOverlap(const std::vector<Index>& targets) const;
  bool SharesLineage(Index target, const std::vector<Index>& against, bool include_deps) const;
  absl::StatusOr<std::vector<Index>> FilterForLineage(const std::vector<Index>& targets,
                                                      absl::string_view check_against,
                                                      bool include_deps) const;
  absl::StatusOr<Resolved> ResolveNumber(absl::string_view id) const;
  absl::StatusOr<std::optional<Index>> CurrentHead(const std::optional<std::string>& branch) const;
  absl::StatusOr<Index> RevisionForIdent(absl::string_view id,
                                         const std::optional<std::string>& check_branch) const;
  absl::StatusOr<Index> ResolveBranch(absl::string_view label) const;
  absl::StatusOr<std::vector<Index>> ResolveCurrent(const std::vector<std::string>& heads) const;
  absl::StatusOr<WalkPos> Walk(WalkPos start, int steps, const std::optional<std::string>& branch,
                               bool no_overwalk) const;
  absl::StatusOr<std::vector<Index>> ParseUpgradeTarget(const std::vector<Index>& current,
                                                        absl::string_view target,
                                                        bool assert_relative_length) const;
  absl::StatusOr<std::pair<std::optional<std::string>, WalkPos>> ParseDowngradeTarget(
      const std::vector<Index>& current, absl::string_view target) const;
  absl::StatusOr<Marks> CollectUpgrade(const std::vector<Index>& targets,
                                       const std::vector<Index>& current, bool implicit_base,
                                       bool inclusive) const;
  std::vector<Index> TopologicalSort(Marks todo, const std::vector<Index>& heads) const;
  absl::Status ApplyVersionChanges(std::vector<std::string>& heads, Step& step) const;
  // Appends a step per revision of `order` to `plan`, moving `heads` along.
  // A downgrade across an irreversible revision fails, naming `destination`.
  absl::Status AppendSteps(Direction direction, const std::vector<Index>& order,
                           std::vector<std::string>& heads, Plan& plan,
                           absl::string_view destination = "") const;

  std::vector<Script> scripts_;  // load order
  std::vector<Node> nodes_;
  absl::flat_hash_map<std::string, Index> by_key_;  // ids and branch labels
  std::vector<std::pair<std::string, Index>> sorted_keys_;  // for prefix lookup
  std::vector<Index> heads_, real_heads_, bases_, real_bases_;
};

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_REVISION_GRAPH_H_
