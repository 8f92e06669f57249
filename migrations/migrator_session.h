// Migrator's session: one connection for the length of one Migrator call,
// with everything that runs on it (reading state, taking the lock, running
// steps). Internal to the engine: the class is declared here and its parts
// are defined in migrator_session.cc (connecting, locking, the engine's
// tables), schema_states.cc (reading where tenants are), migrator_steps.cc
// (running steps) and batched_step.cc; migrator.cc drives it.
#ifndef FLEET_MIGRATIONS_MIGRATOR_SESSION_H_
#define FLEET_MIGRATIONS_MIGRATOR_SESSION_H_

#include "migrations/migrator.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "migrations/connection_pool.h"
#include "migrations/dsn.h"
#include "migrations/sql_parse.h"
#include "migrations/status_macros.h"

namespace fleet::migrations {
// The session's vocabulary (this header is the engine's own, not its API).
constexpr char kLogTable[] = "fleet_migration_log";

// How a database call failed.
enum class ErrKind { kNone, kSql, kRetryable, kLost, kCancelled };
struct DbError {
  ErrKind kind = ErrKind::kNone;
  std::string message;
  explicit operator bool() const { return kind != ErrKind::kNone; }
};

// A failure our own checks raise inside a database call (verify false, a
// version row missing): reported like an SQL error.
struct CheckFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs `script`'s migrate:verify query in `tx`; throws CheckFailed unless
// its first column of its first row is true.
inline void CheckVerify(pqxx::transaction_base& tx, const Script& script) {
  pqxx::result r = tx.exec(script.verify->sql);
  if (r.empty() || r[0].empty() || r[0][0].is_null() || !r[0][0].as<bool>()) {
    throw CheckFailed("its migrate:verify query returned false");
  }
}

inline std::string CleanMessage(absl::string_view what) {
  // libpq messages read "ERROR:  text\nDETAIL: ...": keep them, one line.
  std::string s(absl::StripAsciiWhitespace(what));
  std::vector<std::string> lines = absl::StrSplit(s, '\n', absl::SkipWhitespace());
  for (std::string& l : lines) l = std::string(absl::StripAsciiWhitespace(l));
  std::string joined = absl::StrJoin(lines, " ");
  while (absl::StrContains(joined, "  ")) joined = absl::StrReplaceAll(joined, {{"  ", " "}});
  return joined;
}

inline std::string Millis(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
}

// `s` as an SQL string literal, escaped by libpq for this connection.
inline std::string Literal(pqxx::transaction_base& tx, const std::string& s) {
  return absl::StrCat("'", tx.esc(s), "'");
}

inline std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6S%Ez", t, absl::UTCTimeZone());
}

// One connection to the database for the length of one Migrator call: its
// own, or one leased from options.pool and given back at the end.
class Migrator::Session {
 public:
  explicit Session(Migrator& m) : m_(m), o_(m.options_) {}
  ~Session();

  // Connects and sets the session up for options.schema. Creates the
  // schema only when `mutating` and create_schema.
  absl::Status Open(bool mutating) {
    mutating_ = mutating;
    RETURN_IF_ERROR(Connect());
    return UseSchema(o_.schema, mutating);
  }

  absl::Status Connect();

  // Points the session at `schema` (empty: the connection's default).
  // One round trip when the schema exists (the common case).
  absl::Status UseSchema(const std::string& schema, bool mutating);

  // Takes the advisory lock, waiting up to lock_wait, then sets the
  // per-statement timeouts: two round trips when the lock is had.
  absl::Status Lock();

  // Creates the version table (exactly Alembic's) and the log when missing.
  // No round trip when the last ReadState found both.
  absl::Status EnsureTables();

  // Reads the version table and the log (under the lock, this session's
  // schema): ReadSchemaStates for one schema, two round trips. With
  // `with_drift`, compares recorded checksums with the scripts.
  absl::StatusOr<DatabaseState> ReadState(bool with_drift);

  // The revisions among `state`'s applied ones whose recorded checksum
  // (revision, checksum pairs from the log) differs from the script's.
  void AddDrift(const std::vector<std::pair<std::string, std::string>>& recorded,
                DatabaseState* state) const;

  // The state of many schemas of this database at once, without touching
  // search_path (an empty name: the connection's current schema): per chunk
  // of schemas one catalog query and one over their version tables and
  // logs, however many schemas. One result per schema, in order. With
  // `tables_found`, says per schema whether both the version table and the
  // log exist.
  std::vector<absl::StatusOr<DatabaseState>> ReadSchemaStates(
      const std::vector<std::string>& schemas, bool with_drift,
      std::vector<char>* tables_found = nullptr);

  // Runs one step, retrying lock timeouts and deadlocks.
  absl::Status RunStep(const Step& step, const StepObserver& observer);

  absl::StatusOr<Rehearsal> RunRehearsal(const Plan& plan);

  absl::StatusOr<std::vector<TableSize>> ReadTableSizes(const std::vector<std::string>& tables);

  absl::Status RunStamp(const Plan& plan, bool purge);

  // See Migrator::RunVerifies.
  absl::StatusOr<std::vector<std::string>> RunVerifies(const std::vector<std::string>& heads);

  const std::string& database() const { return database_; }
  const std::string& schema() const { return schema_; }

 private:
  // One row of the migration log, as ReadSchemaStates reads it.
  struct LogRow {
    int64_t id = 0;
    std::string revision, direction, outcome, checksum, finished_at;
    std::string error;     // only of a dirty row
    std::string progress;  // "ROWS BATCHES", only of an in_progress row
  };

  // What ReadState asks the log, answered from its rows: the newest row;
  // the newest dirty and in_progress rows after the last stamp (a stamp
  // clears them); with `with_drift`, the newest recorded checksum of each
  // revision upgraded or stamped.
  static void FromLog(const std::vector<LogRow>& rows, bool with_drift, DatabaseState* st,
                      std::vector<std::pair<std::string, std::string>>* recorded);

  // Runs `f`, turning what it throws into a DbError; remembers a lost
  // connection (see ~Session).
  template <typename F>
  DbError Guard(F&& f) {
    DbError err = Classify(std::forward<F>(f));
    if (err.kind == ErrKind::kLost) lost_ = true;
    return err;
  }

  template <typename F>
  DbError Classify(F&& f) {
    try {
      f();
      return {};
    } catch (const CheckFailed& e) {
      return {ErrKind::kSql, e.what()};
    } catch (const pqxx::deadlock_detected& e) {
      return {ErrKind::kRetryable, CleanMessage(e.what())};
    } catch (const pqxx::serialization_failure& e) {
      return {ErrKind::kRetryable, CleanMessage(e.what())};
    } catch (const pqxx::broken_connection& e) {
      return {ErrKind::kLost, CleanMessage(e.what())};
    } catch (const pqxx::in_doubt_error& e) {
      return {ErrKind::kLost, CleanMessage(e.what())};
    } catch (const pqxx::sql_error& e) {
      const std::string& state = e.sqlstate();
      if (state == "55P03" || state == "40P01" || state == "40001") {
        return {ErrKind::kRetryable, CleanMessage(e.what())};
      }
      if (state == "57014" && m_.cancelled_) return {ErrKind::kCancelled, "cancelled"};
      if (state == "57P01" || state == "57P02" || state == "57P03") {
        return {ErrKind::kLost, CleanMessage(e.what())};
      }
      return {ErrKind::kSql, CleanMessage(e.what())};
    } catch (const std::exception& e) {
      if (conn_ && !conn_->is_open()) return {ErrKind::kLost, CleanMessage(e.what())};
      return {ErrKind::kSql, CleanMessage(e.what())};
    }
  }

  absl::Status ToStatus(const DbError& err, absl::string_view context);

  void CheckPid() {
    if (m_.cancelled_) throw CheckFailed("cancelled");
    if (!conn_->is_open() || conn_->backendpid() != pid_) {
      throw pqxx::broken_connection(
          "the connection was re-established: the migration lock is no longer held");
    }
  }

  static std::string CurrentDatabase(pqxx::transaction_base& tx) {
    return tx.exec("SELECT current_database()")[0][0].as<std::string>();
  }

  // Names passed as values, never spliced into SQL.
  // By the server's own name lookup (its catalog caches and indexes): a join
  // over pg_class took 5 ms a call in a database of a few hundred schemas.
  bool Exists(pqxx::transaction_base& tx, absl::string_view table) {
    return tx
        .exec_params("SELECT pg_catalog.to_regclass(pg_catalog.format('%I.%I', $1::text, "
                     "$2::text)) IS NOT NULL",
                     schema_, std::string(table))[0][0]
        .as<bool>();
  }

  // schema.table, each quoted by libpq on the connection `tx` runs on.
  std::string Qualified(pqxx::transaction_base& tx, absl::string_view table) const {
    return absl::StrCat(tx.quote_name(schema_), ".", tx.quote_name(std::string(table)));
  }
  std::string LogTable(pqxx::transaction_base& tx) const { return Qualified(tx, kLogTable); }
  std::string VersionTableName(pqxx::transaction_base& tx) const {
    return Qualified(tx, table_.name);
  }

  StepEvent EventFor(const Step& step) const {
    StepEvent e;
    e.direction = step.direction;
    e.revision = step.script ? step.script->revision : "";
    e.from_revisions = step.from_revisions;
    e.to_revisions = step.to_revisions;
    e.message = step.script ? step.script->message : "";
    return e;
  }

  const SqlSection& SectionFor(const Step& step) const {
    return step.direction == Direction::kUpgrade ? step.script->upgrade : *step.script->downgrade;
  }

  // A step's changes to the version table, and `log_sql` (the statement
  // that records the step in the log) with them: one statement, one round
  // trip. Each change is a data-modifying WITH query (they touch different
  // rows); the rows each matched come back and are checked.
  void ApplyVersionChanges(pqxx::transaction_base& tx, const Step& step,
                           const std::string& log_sql);

  // The INSERT of a log row (without RETURNING), its values quoted by libpq.
  std::string LogInsert(pqxx::transaction_base& tx, const std::string& revision,
                        absl::string_view direction, const std::string& checksum, absl::Time start,
                        absl::string_view outcome, const std::string& error) const;

  int64_t InsertLog(pqxx::transaction_base& tx, const std::string& revision,
                    absl::string_view direction, const std::string& checksum, absl::Time start,
                    absl::string_view outcome, const std::string& error);

  // Writes a `failed` row after a step rolled back; on a fresh connection
  // when this one is gone. Best effort: the step's own error is what counts.
  void LogFailure(const Step& step, absl::Time start, const std::string& error);

  std::string Where(const Step& step, int line) const {
    return absl::StrCat("revision ", step.script->revision, " (", step.script->path, ":", line,
                        ")");
  }

  absl::Status RunTransactional(const Step& step, absl::Time start);

  // What RunInTransaction runs besides the section's statements.
  struct TransactionParts {
    std::string prelude;  // SQL run first (SET LOCAL ...)
    bool verify = false;  // the script's verify query after the statements
    std::function<void(pqxx::work&)> finish;  // last, before the commit
    int64_t* affected = nullptr;  // the rows the statements changed, when set
    // Said of what a failure undid: "the revision", "this batch".
    absl::string_view undone = "the revision";
  };

  // Runs `section`'s statements (with `parts` around them) in one
  // transaction, retrying lock timeouts and deadlocks with backoff. A
  // failure's status names the revision, file and line, and who blocked it.
  absl::Status RunInTransaction(const Step& step, const SqlSection& section,
                                const TransactionParts& parts);

  // A batched revision's upgrade (Script::batch): see batched_step.cc.
  absl::Status RunBatched(const Step& step, absl::Time start, const StepObserver& observer,
                          StepEvent* event);
  // Adds the log's batch columns to a log table made before they existed.
  absl::Status EnsureBatchColumns();

  absl::Status RunNonTransactional(const Step& step, absl::Time start);

  // Returns true when cancelled while waiting.
  bool WaitOrCancelled(absl::Duration d);

  // While a retried step runs, a second connection samples
  // pg_blocking_pids() of ours, so a final failure can name the blockers.
  // `blockers` is written by the watcher thread (under blockers_mu_) and is
  // the caller's to read once StopWatcher has returned.
  void StartWatcher(std::set<int>* blockers) ABSL_LOCKS_EXCLUDED(watcher_mu_);

  void StopWatcher() ABSL_LOCKS_EXCLUDED(watcher_mu_);

  Migrator& m_;
  const MigratorOptions& o_;
  std::unique_ptr<pqxx::connection> own_;       // without a pool
  std::optional<ConnectionPool::Lease> lease_;  // with one
  pqxx::connection* conn_ = nullptr;            // either
  bool lost_ = false;  // the connection failed: its state is unknown
  bool search_path_set_ = false;  // UseSchema named a schema on this session
  bool mutating_ = false;         // opened to change the database (scripts may run)
  int pid_ = 0;
  bool locked_ = false;
  bool tables_seen_ = false;      // the version table and the log exist
  std::string database_;
  std::string schema_;
  VersionTable table_;
  std::thread watcher_;
  absl::Mutex watcher_mu_;
  bool watcher_stop_ ABSL_GUARDED_BY(watcher_mu_) = false;
  // Guards the set StartWatcher was given (a local of RunTransactional, so
  // it cannot be named in an annotation here).
  absl::Mutex blockers_mu_;
};

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_MIGRATOR_SESSION_H_
