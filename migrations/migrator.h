// Migrator: runs plans against one PostgreSQL database (or one schema of it)
// with libpqxx, with the guarantees DESIGN.md and the engine issue list:
//
// - one migrator at a time per database/schema/version table (a session
//   advisory lock; a silently re-established connection is detected and
//   fails the run rather than continue unlocked);
// - each transactional revision runs in one transaction with its verify
//   query, its version-table change and its fleet_migration_log row;
// - a non-transactional revision that fails part-way marks the database
//   dirty, and nothing migrates it until `stamp`;
// - a batched revision (Script::batch) commits its upgrade section, then
//   each batch, then its post section with the version-table change; in
//   between it is `in_progress` in the log (not dirty), and the next
//   upgrade resumes it after the last committed batch;
// - every statement runs under lock_timeout (and statement_timeout when set);
//   lock timeouts and deadlocks are retried with backoff, then reported with
//   the pids that blocked them;
// - the password in the DSN never appears in a returned status.
//
// Threads: a Migrator holds no connection between calls; every call opens
// its own, or leases one from MigratorOptions::pool. Different Migrators may run at once from any threads. Cancel()
// may be called from any thread while another thread is inside a call.
#ifndef FLEET_MIGRATIONS_MIGRATOR_H_
#define FLEET_MIGRATIONS_MIGRATOR_H_

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "migrations/connection_pool.h"
#include "migrations/offline_sql.h"
#include "migrations/revision_graph.h"

namespace fleet::migrations {

struct MigratorOptions {
  std::string dsn;  // libpq conninfo or postgresql:// URL; may hold a password
  // Schema for search_path, the version table and the log; empty: the
  // connection's current schema (normally public).
  std::string schema;
  std::string version_table = "alembic_version";
  bool create_schema = false;  // create `schema` when it is missing
  absl::Duration lock_wait = absl::Seconds(30);      // for the migration lock
  absl::Duration lock_timeout = absl::Seconds(2);    // per statement
  absl::Duration statement_timeout = absl::ZeroDuration();  // zero: off
  // Opening a connection gives up after this (libpq's connect_timeout,
  // unless the connection string sets its own; libpq's minimum is 2 s).
  absl::Duration connect_timeout = absl::Seconds(10);
  // statement_timeout of every read (state, drift, verify queries), so a
  // hung database cannot hold a caller forever; zero: off.
  absl::Duration read_timeout = absl::Seconds(30);
  int retries = 3;  // after a lock timeout or deadlock
  absl::Duration retry_backoff = absl::Milliseconds(200);  // doubles each retry
  bool allow_drift = false;
  std::string actor;       // who runs it, for the log ("user@host")
  std::string rollout_id;  // empty outside a rollout
  // Borrowed; when set, every call leases its connection from it (and gives
  // it back) instead of opening and closing its own. Waiting for a free one
  // is bounded by the longer of lock_wait and connect_timeout.
  ConnectionPool* pool = nullptr;
  // With a pool: a tag added to the pool's key, so that a caller reading the
  // same tables again gets the same session back, its catalog caches warm
  // (the agent reads a database's schemas in fixed chunks, one tag each).
  // Empty: any session of the connection string.
  std::string pool_affinity;
};

// One event per step: started, then succeeded or failed; a batched
// revision also reports progress after each batch.
struct StepEvent {
  enum class Kind { kStarted, kProgress, kSucceeded, kFailed };
  Kind kind = Kind::kStarted;
  Direction direction = Direction::kUpgrade;
  std::string revision;
  std::vector<std::string> from_revisions;
  std::vector<std::string> to_revisions;
  std::string message;
  absl::Duration duration;
  std::string error;  // kFailed
  // A batched revision (kProgress, kSucceeded, kFailed): rows changed and
  // batches run so far, counting what an earlier, stopped run did when
  // this one resumed it (`resumed_rows` of them; -1: not resumed). The rate
  // counts this run's batches only.
  int64_t rows = 0;
  int64_t batches = 0;
  int64_t resumed_rows = -1;
  double rows_per_second = 0;
};
using StepObserver = std::function<void(const StepEvent&)>;

struct RunResult {
  std::vector<std::string> start_heads;
  // The version table as read back after the last step committed, on the
  // same connection (with nothing to do: as read under the lock at the
  // start). A fresh read, not the plan's expectation.
  std::vector<std::string> end_heads;
  int steps = 0;  // steps applied; 0 means there was nothing to do
};

// A revision whose script changed since it was applied.
struct Drift {
  std::string revision;
  std::string path;
  std::string recorded_checksum;
  std::string current_checksum;
};

// What a database holds, read without taking the migration lock.
struct DatabaseState {
  std::string database;  // current_database()
  std::string schema;    // the schema the version table lives in
  bool has_version_table = false;
  std::vector<std::string> heads;  // rows of the version table
  bool dirty = false;
  std::string dirty_revision;
  std::string dirty_error;
  std::vector<std::string> invalid_indexes;  // in the schema, when dirty
  std::vector<Drift> drift;
  // A batched revision a run started and did not finish (the next upgrade
  // resumes it): its id, and the rows and batches done so far.
  std::string in_progress_revision;
  int64_t in_progress_rows = 0;
  int64_t in_progress_batches = 0;
  std::string last_revision;  // the newest log row
  std::string last_direction;
  std::string last_outcome;
  std::string last_finished_at;
};

// A rehearsal: an upgrade run inside one transaction that is always rolled
// back (Migrator::Rehearse).
struct RehearsalLock {
  std::string relation;  // a table's name (schema-qualified outside the tenant's schema)
  std::string mode;      // "AccessExclusiveLock", "ShareLock", ...
  bool operator==(const RehearsalLock&) const = default;
};
struct Rehearsal {
  bool failed = false;
  // Where it failed: the revision, its file and line, the statement and
  // PostgreSQL's message (a lock timeout is a failure too: the real run
  // would wait as long).
  std::string revision;
  std::string file;
  int line = 0;
  std::string statement;
  std::string error;
  absl::Duration duration;              // from the first statement to the rollback
  std::vector<RehearsalLock> locks;     // held just before the rollback, tables only
  std::vector<std::string> start_heads;
  std::vector<std::string> rehearsed;      // revisions run, in order
  // The first non-transactional revision and all after it; after a batched
  // revision (its upgrade section and one batch are rehearsed, not its
  // post section) all that follow it.
  std::vector<std::string> not_rehearsed;
};

// A table's size as PostgreSQL counts it.
struct TableSize {
  std::string table;
  int64_t bytes = 0;  // pg_total_relation_size: heap, indexes, TOAST
  int64_t rows = -1;  // pg_class.reltuples, an estimate; -1 never analyzed
};

class Migrator {
 public:
  // `graph` is borrowed and must outlive the Migrator.
  Migrator(const RevisionGraph& graph, MigratorOptions options);
  Migrator(const Migrator&) = delete;
  Migrator& operator=(const Migrator&) = delete;

  // Upgrades to `target`. Refuses a dirty database, and drift unless
  // allow_drift. On failure the database is at the last completed revision
  // and the status names the revision, file and line.
  [[nodiscard]] absl::StatusOr<RunResult> Upgrade(absl::string_view target,
                                                  const StepObserver& observer = {});
  // Downgrades to `target` with the scripts' downgrade sections. A target
  // "=A,B" means exactly the heads A and B ("=" alone: base), whatever
  // branches must go (PlanDowngradeToHeads).
  [[nodiscard]] absl::StatusOr<RunResult> Downgrade(absl::string_view target,
                                                    const StepObserver& observer = {});
  // Moves the version table to `revisions` without running scripts, in one
  // transaction. Clears the dirty mark.
  [[nodiscard]] absl::StatusOr<RunResult> Stamp(const std::vector<std::string>& revisions,
                                                bool purge);
  // Rehearses the upgrade to `target`: under the migration lock and the
  // lock and statement timeouts, every transactional revision of the plan
  // runs, with its verify query, in ONE transaction that is then rolled
  // back, whatever happened; the tables it locked are read from pg_locks
  // first. Revisions from the first non-transactional one on are not run
  // (named in not_rehearsed). Nothing is written: not the version table,
  // not the log, not a row. A failing statement is a result (failed),
  // not an error; errors are a dirty tenant, a bad target, a lost
  // connection.
  [[nodiscard]] absl::StatusOr<Rehearsal> Rehearse(absl::string_view target);
  // The sizes of `tables` (names in the schema), read-only; tables that do
  // not exist are left out.
  [[nodiscard]] absl::StatusOr<std::vector<TableSize>> TableSizes(
      const std::vector<std::string>& tables);
  // Reads heads, dirty state, drift and the last migration. Creates nothing.
  [[nodiscard]] absl::StatusOr<DatabaseState> Inspect();
  // Inspect for each of `schemas` (options.schema is ignored) over one
  // connection: schema-per-tenant databases are read without a connection
  // per tenant. One result per schema, in order.
  [[nodiscard]] std::vector<absl::StatusOr<DatabaseState>> InspectSchemas(
      const std::vector<std::string>& schemas);

  // Runs again, read-only, the migrate:verify query of every applied revision
  // that has one. Returns one line per failure ("revision R (file:line): why");
  // empty when all hold.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> RunVerifies();

  // Stops the running call: no new step starts, the running statement is
  // cancelled on the server, the current revision rolls back, and the call
  // returns CANCELLED. Thread-safe; later calls are cancelled at once.
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Session;
  friend class Session;

  absl::StatusOr<RunResult> Run(Direction direction, absl::string_view target,
                                const StepObserver& observer);
  absl::Status Redacted(const absl::Status& status) const;
  // options_.dsn with its connect timeout: what every connection opens.
  std::string ConnectionString() const;

  const RevisionGraph& graph_;
  const MigratorOptions options_;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  int active_pid_ ABSL_GUARDED_BY(mu_) = 0;  // backend running the current call
};

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_MIGRATOR_H_
