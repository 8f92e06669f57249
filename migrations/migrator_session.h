// Migrator's session: one connection for the length of one Migrator call,
// with everything that runs on it (reading state, taking the lock, running
// steps). Internal to the engine: included by migrator.cc and the batched
// step (batched_step.cc), nowhere else.
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
  ~Session() {
    StopWatcher();
    {
      absl::MutexLock lock(&m_.mu_);
      m_.active_pid_ = 0;
    }
    if (conn_ && (locked_ || (lease_ && mutating_))) {
      try {
        // Every session-level advisory lock goes, ours and any a script
        // took: a pooled connection waits idle holding none.
        pqxx::nontransaction tx(*conn_);
        tx.exec("SELECT pg_advisory_unlock_all()");
      } catch (const std::exception&) {
        // Closing the connection releases the lock anyway.
        lost_ = true;
      }
    }
    // A pooled connection in doubt is closed, not given back: one that was
    // lost, or cancelled (a cancel request can arrive after its statement
    // and hit the next holder's).
    if (lease_ && (lost_ || m_.cancelled_ || !conn_->is_open())) lease_->Discard();
  }

  // Connects and sets the session up for options.schema. Creates the
  // schema only when `mutating` and create_schema.
  absl::Status Open(bool mutating) {
    mutating_ = mutating;
    RETURN_IF_ERROR(Connect());
    return UseSchema(o_.schema, mutating);
  }

  absl::Status Connect() {
    if (m_.cancelled_) return absl::CancelledError("cancelled");
    // Parsed by libpq before anything connects: a string libpq would
    // misread is refused without being echoed, and the connection is named
    // by its fields.
    auto info = ParseConnectionString(o_.dsn);
    if (!info.ok()) return info.status();
    const std::string conninfo = m_.ConnectionString();
    ConnectionPool::Opener open = [&]() -> absl::StatusOr<std::unique_ptr<pqxx::connection>> {
      try {
        auto c = std::make_unique<pqxx::connection>(conninfo);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        // Never reconnect behind our back: a new session would not hold the lock.
        c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
        return c;
      } catch (const std::exception& e) {
        return absl::UnavailableError(absl::StrCat("cannot connect to ", info->Name(), ": ",
                                                   CleanMessage(e.what())));
      }
    };
    // Reads are bounded; a migration sets its own timeout once locked.
    const std::string setup = absl::StrCat(
        "SET application_name = 'fleet'; SET statement_timeout = '", Millis(o_.read_timeout), "'");
    if (o_.pool != nullptr) {
      // Waiting for a free connection is bounded like waiting for the lock.
      // The pool resets a reused one and runs `setup` in one round trip.
      const std::string key =
          o_.pool_affinity.empty() ? conninfo : absl::StrCat(conninfo, "\n", o_.pool_affinity);
      auto lease = o_.pool->Acquire(key, open,
                                    absl::Now() + std::max(o_.lock_wait, o_.connect_timeout),
                                    &m_.cancelled_, setup);
      if (!lease.ok()) {
        if (!absl::IsDeadlineExceeded(lease.status())) return lease.status();
        return absl::UnavailableError(absl::StrCat("no connection to ", info->Name(),
                                                   " could be had: ", lease.status().message()));
      }
      lease_ = std::move(*lease);
      conn_ = &lease_->connection();
    } else {
      ASSIGN_OR_RETURN(own_, open());
      conn_ = own_.get();
    }
    pid_ = conn_->backendpid();
    {
      absl::MutexLock lock(&m_.mu_);
      m_.active_pid_ = pid_;
    }
    if (lease_) return absl::OkStatus();
    DbError err = Guard([&] {
      pqxx::nontransaction tx(*conn_);
      tx.exec(setup);
    });
    if (err) return ToStatus(err, "while opening the session");
    return absl::OkStatus();
  }

  // Points the session at `schema` (empty: the connection's default).
  // One round trip when the schema exists (the common case).
  absl::Status UseSchema(const std::string& schema, bool mutating) {
    DbError err = Guard([&] {
      pqxx::nontransaction tx(*conn_);
      const std::string where = "SELECT current_database(), coalesce(current_schema(), '')";
      pqxx::result r;
      if (!schema.empty()) {
        // Quoted by libpq, always: a schema named "default" or "user" is
        // that schema, not a keyword. A search_path naming a schema that
        // does not exist leaves current_schema() NULL.
        const std::string use = absl::StrCat("SET search_path TO ", tx.quote_name(schema), "; ");
        r = tx.exec(absl::StrCat(use, where));
        if (r[0][1].as<std::string>().empty()) {
          if (!(mutating && o_.create_schema)) {
            throw CheckFailed(absl::StrCat(
                "schema \"", schema, "\" does not exist in database ", r[0][0].as<std::string>(),
                " (create it, or pass --create-schema)"));
          }
          r = tx.exec(absl::StrCat("CREATE SCHEMA IF NOT EXISTS ", tx.quote_name(schema), "; ",
                                   use, where));
        }
        search_path_set_ = true;
      } else if (search_path_set_) {
        // This session pointed elsewhere before (a new or reset one never has).
        r = tx.exec(absl::StrCat("RESET search_path; ", where));
        search_path_set_ = false;
      } else {
        r = tx.exec(where);
      }
      database_ = r[0][0].as<std::string>();
      schema_ = r[0][1].as<std::string>();
    });
    if (err) return ToStatus(err, "while opening the session");
    if (schema_.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database ", database_, " has no current schema (search_path names none that exists)"));
    }
    table_ = VersionTable{schema_, o_.version_table};
    return absl::OkStatus();
  }

  // Takes the advisory lock, waiting up to lock_wait, then sets the
  // per-statement timeouts: two round trips when the lock is had.
  absl::Status Lock() {
    std::optional<int> holder;
    bool got = false;
    DbError err = Guard([&] {
      pqxx::nontransaction tx(*conn_);
      // The key names database, schema and table quoted, so no two
      // different triples ("a/b"."c" and "a"."b/c") share a lock.
      const std::string key = absl::StrCat(
          "pg_catalog.hashtextextended(",
          Literal(tx, absl::StrCat("fleet-migration/", tx.quote_name(database_), "/",
                                tx.quote_name(schema_), "/", tx.quote_name(o_.version_table))),
          ", 0)");
      const std::string timeouts =
          absl::StrCat("SET lock_timeout = '", Millis(o_.lock_timeout),
                       "'; SET statement_timeout = '", Millis(o_.statement_timeout), "'; ");
      if (o_.lock_wait > absl::ZeroDuration()) {
        // The wait is bounded by lock_wait alone, not by the read timeout:
        // set in a round trip of its own, so that the timer of the next
        // query starts without the read timeout on every server version.
        tx.exec(absl::StrCat("SET statement_timeout = 0; SET lock_timeout = '",
                             Millis(o_.lock_wait), "'"));
        try {
          // Nothing after a lock not had runs (one implicit transaction).
          tx.exec(absl::StrCat("SELECT pg_catalog.pg_advisory_lock(", key, "); ", timeouts));
          got = true;
        } catch (const pqxx::sql_error& e) {
          if (e.sqlstate() != "55P03") throw;
        }
      } else {
        got = tx.exec(absl::StrCat(timeouts, "SELECT pg_catalog.pg_try_advisory_lock(", key, ")"))
                  [0][0].as<bool>();
      }
      if (!got) {
        pqxx::result r = tx.exec(absl::StrCat(
            timeouts, "SELECT pid FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND "
            "granted AND objsubid = 1 AND classid = ((", key, " >> 32) & 4294967295)::oid "
            "AND objid = (", key, " & 4294967295)::oid LIMIT 1"));
        if (!r.empty()) holder = r[0][0].as<int>();
      }
    });
    if (err) return ToStatus(err, "while taking the migration lock");
    if (!got) {
      return absl::UnavailableError(absl::StrCat(
          "another migration is running on ", database_, "/", schema_,
          holder ? absl::StrCat(" (pid ", *holder, ")") : std::string(),
          "; waited ", absl::FormatDuration(o_.lock_wait)));
    }
    locked_ = true;
    return absl::OkStatus();
  }

  // Creates the version table (exactly Alembic's) and the log when missing.
  // No round trip when the last ReadState found both.
  absl::Status EnsureTables() {
    if (tables_seen_) return absl::OkStatus();
    DbError err = Guard([&] {
      pqxx::work tx(*conn_);
      if (!Exists(tx, table_.name)) {
        tx.exec(absl::StrCat("CREATE TABLE ", VersionTableName(tx),
                             " (version_num VARCHAR(32) NOT NULL, CONSTRAINT ",
                             tx.quote_name(absl::StrCat(table_.name, "_pkc")),
                             " PRIMARY KEY (version_num))"));
      }
      if (!Exists(tx, kLogTable)) {
        tx.exec(absl::StrCat(
            "CREATE TABLE ", LogTable(tx),
            " (id bigserial PRIMARY KEY,"
            " revision varchar(32) NOT NULL,"
            " direction text NOT NULL CHECK (direction IN ('upgrade', 'downgrade', 'stamp')),"
            " checksum text NOT NULL DEFAULT '',"
            " started_at timestamptz NOT NULL,"
            " finished_at timestamptz,"
            " duration_ms bigint,"
            " outcome text NOT NULL CHECK (outcome IN ('ok', 'failed', 'dirty', 'in_progress')),"
            " error text NOT NULL DEFAULT '',"
            " actor text NOT NULL DEFAULT '',"
            " rollout_id text NOT NULL DEFAULT '',"
            " version_table text NOT NULL DEFAULT 'alembic_version',"
            // A batched revision's progress (outcome in_progress until it ends).
            " phase text NOT NULL DEFAULT '',"
            " rows_done bigint NOT NULL DEFAULT 0,"
            " batches bigint NOT NULL DEFAULT 0)"));
      }
      tx.commit();
    });
    if (err) return ToStatus(err, "while creating the version table");
    tables_seen_ = true;
    return absl::OkStatus();
  }

  // Reads the version table and the log (under the lock, this session's
  // schema): ReadSchemaStates for one schema, two round trips. With
  // `with_drift`, compares recorded checksums with the scripts.
  absl::StatusOr<DatabaseState> ReadState(bool with_drift) {
    std::vector<char> both;
    absl::StatusOr<DatabaseState> state =
        std::move(ReadSchemaStates({schema_}, with_drift, &both).front());
    if (state.ok()) tables_seen_ = both.front() != 0;
    return state;
  }

  // The revisions among `state`'s applied ones whose recorded checksum
  // (revision, checksum pairs from the log) differs from the script's.
  void AddDrift(const std::vector<std::pair<std::string, std::string>>& recorded,
                DatabaseState* state) const {
    if (recorded.empty()) return;
    auto applied = m_.graph_.AppliedRevisions(state->heads);
    absl::flat_hash_map<std::string, std::string> by_rev(recorded.begin(), recorded.end());
    for (RevisionGraph::Index i : applied.ok() ? *applied : std::vector<RevisionGraph::Index>{}) {
      const Script& s = m_.graph_.script(i);
      auto it = by_rev.find(s.revision);
      if (it != by_rev.end() && it->second != s.checksum) {
        state->drift.push_back({s.revision, s.path, it->second, s.checksum});
      }
    }
  }

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
                      std::vector<std::pair<std::string, std::string>>* recorded) {
    int64_t last_stamp = 0;
    const LogRow* last = nullptr;
    for (const LogRow& r : rows) {
      if (last == nullptr || r.id > last->id) last = &r;
      if (r.direction == "stamp" && r.outcome == "ok") last_stamp = std::max(last_stamp, r.id);
    }
    if (last == nullptr) return;
    st->last_revision = last->revision;
    st->last_direction = last->direction;
    st->last_outcome = last->outcome;
    st->last_finished_at = last->finished_at;
    const LogRow* dirty = nullptr;
    const LogRow* in_progress = nullptr;
    std::map<std::string, const LogRow*> newest_ok;  // by revision
    for (const LogRow& r : rows) {
      if (r.id > last_stamp && r.outcome == "dirty" && (!dirty || r.id > dirty->id)) dirty = &r;
      if (r.id > last_stamp && r.outcome == "in_progress" &&
          (!in_progress || r.id > in_progress->id)) {
        in_progress = &r;
      }
      if (with_drift && r.outcome == "ok" && !r.checksum.empty() &&
          (r.direction == "upgrade" || r.direction == "stamp")) {
        const LogRow*& n = newest_ok[r.revision];
        if (n == nullptr || r.id > n->id) n = &r;
      }
    }
    if (dirty != nullptr) {
      st->dirty = true;
      st->dirty_revision = dirty->revision;
      st->dirty_error = dirty->error;
    }
    if (in_progress != nullptr) {
      st->in_progress_revision = in_progress->revision;
      std::pair<std::string, std::string> counts =
          absl::StrSplit(in_progress->progress, absl::MaxSplits(' ', 1));
      if (!absl::SimpleAtoi(counts.first, &st->in_progress_rows)) st->in_progress_rows = 0;
      if (!absl::SimpleAtoi(counts.second, &st->in_progress_batches)) {
        st->in_progress_batches = 0;
      }
    }
    for (const auto& [revision, r] : newest_ok) recorded->emplace_back(revision, r->checksum);
  }

  // The state of many schemas of this database at once, without touching
  // search_path (an empty name: the connection's current schema): per chunk
  // of schemas one catalog query and one over their version tables and
  // logs, however many schemas. One result per schema, in order. With
  // `tables_found`, says per schema whether both the version table and the
  // log exist.
  std::vector<absl::StatusOr<DatabaseState>> ReadSchemaStates(
      const std::vector<std::string>& schemas, bool with_drift,
      std::vector<char>* tables_found = nullptr) {
    constexpr size_t kChunk = 200;
    const size_t n = schemas.size();
    std::vector<absl::StatusOr<DatabaseState>> out;
    std::vector<DatabaseState> states(n);
    std::vector<std::vector<std::pair<std::string, std::string>>> recorded(n);
    std::vector<std::string> missing(n);  // the error of a schema that does not exist
    std::vector<std::string> names = schemas;  // an empty one resolved to current_schema()
    std::vector<char> has_log(n, 0);
    DbError err = Guard([&] {
      // No transaction: at READ COMMITTED each statement reads its own
      // snapshot anyway, and BEGIN and COMMIT would be two more round trips.
      // Per chunk: one catalog query and one over the tables.
      pqxx::nontransaction tx(*conn_);
      const std::string vt = absl::StrCat("'", tx.esc(o_.version_table), "'");
      std::vector<char> has_version(n, 0);
      for (size_t from = 0; from < n; from += kChunk) {
        const size_t to = std::min(n, from + kChunk);
        std::string values;
        for (size_t i = from; i < to; ++i) {
          absl::StrAppend(&values, i == from ? "" : ", ", "(", i, ", ",
                          schemas[i].empty() ? std::string("coalesce(current_schema(), '')")
                                             : absl::StrCat("'", tx.esc(schemas[i]), "'"),
                          ")");
        }
        for (const auto& row : tx.exec(absl::StrCat(
                 "SELECT v.i, n.oid IS NOT NULL, "
                 "EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid "
                 "AND c.relname = ", vt, "), "
                 "EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid "
                 "AND c.relname = '", kLogTable, "'), v.name::text, current_database() "
                 "FROM (VALUES ", values, ") AS v(i, name) "
                 "LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = v.name"))) {
          const size_t i = row[0].as<size_t>();
          DatabaseState& st = states[i];
          names[i] = row[4].as<std::string>();
          st.database = row[5].as<std::string>();
          st.schema = names[i];
          if (names[i].empty()) {
            missing[i] = absl::StrCat("database ", st.database,
                                      " has no current schema (search_path names none that "
                                      "exists)");
          } else if (!row[1].as<bool>()) {
            missing[i] = absl::StrCat("schema \"", names[i], "\" does not exist in database ",
                                      st.database, " (create it, or pass --create-schema)");
          }
          st.has_version_table = row[2].as<bool>();
          has_version[i] = st.has_version_table;
          has_log[i] = row[3].as<bool>();
        }
        // The version tables and the logs, in one query: the version rows,
        // and each log's rows for this version table as they are (one
        // plain scan each, which the server plans five times faster than
        // a query per question; the answers are picked out below).
        std::string logs;
        for (size_t i = from; i < to; ++i) {
          if (!missing[i].empty()) continue;
          const std::string schema = tx.quote_name(names[i]);
          if (has_version[i]) {
            absl::StrAppend(&logs, logs.empty() ? "" : " UNION ALL ", "(SELECT ", i,
                            ", version_num::text, '', '', '', 0::bigint, '', '', '' FROM ",
                            schema, ".", tx.quote_name(o_.version_table), ")");
          }
          if (!has_log[i]) continue;
          absl::StrAppend(
              &logs, logs.empty() ? "" : " UNION ALL ", "(SELECT ", i,
              ", revision, direction, outcome, coalesce(checksum, ''), id, "
              "coalesce(finished_at, started_at)::text, "
              "CASE WHEN outcome = 'dirty' THEN coalesce(error, '') ELSE '' END, "
              // A batched revision under way (to_jsonb: a log older than the
              // batch columns has none, and reads as 0).
              "CASE WHEN outcome = 'in_progress' THEN coalesce(to_jsonb(l) ->> 'rows_done', '0') "
              "|| ' ' || coalesce(to_jsonb(l) ->> 'batches', '0') ELSE '' END FROM ",
              schema, ".", tx.quote_name(kLogTable), " l WHERE version_table = ", vt, ")");
        }
        if (logs.empty()) continue;
        std::vector<std::vector<LogRow>> rows(to - from);
        for (const auto& row : tx.exec(logs)) {
          const size_t i = row[0].as<size_t>();
          if (row[5].as<int64_t>() == 0) {  // a version row (log ids start at 1)
            states[i].heads.push_back(row[1].as<std::string>());
            continue;
          }
          rows[i - from].push_back(LogRow{row[5].as<int64_t>(), row[1].as<std::string>(),
                                          row[2].as<std::string>(), row[3].as<std::string>(),
                                          row[4].as<std::string>(), row[6].as<std::string>(),
                                          row[7].as<std::string>(), row[8].as<std::string>()});
        }
        for (size_t i = from; i < to; ++i) {
          FromLog(rows[i - from], with_drift, &states[i], &recorded[i]);
        }
      }
      // Rare: what a dirty schema's failed revision left behind.
      for (size_t i = 0; i < n; ++i) {
        if (!states[i].dirty) continue;
        for (const auto& row : tx.exec_params(
                 "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                 "JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE NOT i.indisvalid AND n.nspname = $1 ORDER BY 1",
                 names[i])) {
          states[i].invalid_indexes.push_back(row[0].as<std::string>());
        }
      }
    });
    for (DatabaseState& st : states) std::sort(st.heads.begin(), st.heads.end());
    if (tables_found != nullptr) {
      tables_found->assign(n, 0);
      for (size_t i = 0; i < n && !err; ++i) {
        (*tables_found)[i] = states[i].has_version_table && has_log[i];
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (err) {
        out.push_back(ToStatus(err, "while reading the version tables"));
      } else if (!missing[i].empty()) {
        out.push_back(absl::FailedPreconditionError(missing[i]));
      } else {
        AddDrift(recorded[i], &states[i]);
        out.push_back(std::move(states[i]));
      }
    }
    return out;
  }

  // Runs one step, retrying lock timeouts and deadlocks.
  absl::Status RunStep(const Step& step, const StepObserver& observer) {
    StepEvent event = EventFor(step);
    if (observer) observer(event);
    absl::Time start = absl::Now();
    absl::Status status =
        step.direction == Direction::kUpgrade && step.script->is_batched()
            ? RunBatched(step, start, observer, &event)
        : step.script->transactional ? RunTransactional(step, start)
                                     : RunNonTransactional(step, start);
    event.duration = absl::Now() - start;
    if (status.ok()) {
      event.kind = StepEvent::Kind::kSucceeded;
    } else {
      event.kind = StepEvent::Kind::kFailed;
      event.error = std::string(status.message());
    }
    if (observer) observer(event);
    return status;
  }

  absl::StatusOr<Rehearsal> RunRehearsal(const Plan& plan) {
    Rehearsal out;
    out.start_heads = plan.start_heads;
    const Step* at = nullptr;
    const SqlStatement* statement = nullptr;
    bool batch = false;  // the batch statement is running
    const absl::Time start = absl::Now();
    DbError err = Guard([&] {
      CheckPid();
      pqxx::work tx(*conn_);
      for (const Step& step : plan.steps) {
        if (!step.script->transactional) {
          for (const Step* s = &step; s != plan.steps.data() + plan.steps.size(); ++s) {
            out.not_rehearsed.push_back(s->script->revision);
          }
          break;
        }
        at = &step;
        for (const SqlStatement& st : step.script->upgrade.statements) {
          if (m_.cancelled_) throw CheckFailed("cancelled");
          statement = &st;
          tx.exec(std::string(StatementText(step.script->upgrade.sql, st)));
        }
        statement = nullptr;
        if (step.script->is_batched()) {
          // Its upgrade section and one batch; its post section and verify
          // need every batch done, so they and what follows are not run.
          batch = true;
          tx.exec(std::string(StatementText(step.script->batch->sql,
                                            step.script->batch->statements.front())));
          batch = false;
          out.rehearsed.push_back(step.script->revision);
          for (const Step* s = &step + 1; s != plan.steps.data() + plan.steps.size(); ++s) {
            out.not_rehearsed.push_back(s->script->revision);
          }
          break;
        }
        if (step.script->verify) CheckVerify(tx, *step.script);
        out.rehearsed.push_back(step.script->revision);
      }
      at = nullptr;
      // The tables this backend holds locks on, as the real run would.
      for (const auto& row : tx.exec(
               "SELECT CASE WHEN n.nspname = current_schema() THEN c.relname "
               "ELSE n.nspname || '.' || c.relname END, l.mode "
               "FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
               "JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted "
               "AND c.relkind IN ('r', 'p', 'm') "
               "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
               "AND n.nspname NOT LIKE 'pg\\_temp\\_%' ORDER BY 1, 2")) {
        out.locks.push_back({row[0].as<std::string>(), row[1].as<std::string>()});
      }
      out.duration = absl::Now() - start;
      tx.abort();  // always: a rehearsal leaves nothing behind
    });
    if (!err) return out;
    if (m_.cancelled_) return absl::CancelledError("cancelled while rehearsing");
    if (err.kind == ErrKind::kLost) return ToStatus(err, "while rehearsing");
    out.failed = true;
    out.duration = absl::Now() - start;
    out.error = err.message;
    if (at != nullptr) {
      out.revision = at->script->revision;
      out.file = at->script->path;
      if (statement != nullptr) {
        out.line = statement->line;
        out.statement = std::string(StatementText(at->script->upgrade.sql, *statement));
      } else if (batch) {
        const SqlSection& b = *at->script->batch;
        out.line = b.statements.front().line;
        out.statement = std::string(StatementText(b.sql, b.statements.front()));
      } else if (at->script->verify) {
        out.line = at->script->verify->line;
        out.statement = at->script->verify->sql;
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<TableSize>> ReadTableSizes(const std::vector<std::string>& tables) {
    std::vector<TableSize> out;
    if (tables.empty()) return out;
    DbError err = Guard([&] {
      pqxx::read_transaction tx(*conn_);
      // One parameter per name: names are never spliced into the text.
      std::vector<std::string> placeholders;
      for (size_t i = 1; i <= tables.size(); ++i) placeholders.push_back(absl::StrCat("$", i));
      for (const auto& row : tx.exec_params(
               absl::StrCat(
                   // A partitioned table holds nothing itself: its size and rows
                   // are its partitions'.
                   "SELECT c.relname, "
                   "CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_total_relation_size("
                   "t.relid)), 0) FROM pg_partition_tree(c.oid) t)::bigint "
                   "ELSE pg_total_relation_size(c.oid) END, "
                   "CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(greatest(p.reltuples, 0)), "
                   "0) FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid "
                   "WHERE t.isleaf)::bigint ELSE c.reltuples::bigint END "
                   "FROM pg_class c WHERE c.relnamespace = "
                   "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
                   "AND c.relkind IN ('r', 'p', 'm') AND c.relname IN (",
                   absl::StrJoin(placeholders, ", "), ") ORDER BY 1"),
               pqxx::prepare::make_dynamic_params(tables))) {
        out.push_back({row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<int64_t>()});
      }
    });
    if (err) return ToStatus(err, "while reading table sizes");
    return out;
  }

  absl::Status RunStamp(const Plan& plan, bool purge) {
    absl::Time start = absl::Now();
    DbError err = Guard([&] {
      CheckPid();
      pqxx::work tx(*conn_);
      if (purge) tx.exec(absl::StrCat("DELETE FROM ", VersionTableName(tx)));
      for (const Step& step : plan.steps) {
        std::string rev = step.to_revisions.empty() ? step.from_revisions.front()
                                                    : step.to_revisions.front();
        std::optional<RevisionGraph::Index> idx = m_.graph_.FindExact(rev);
        ApplyVersionChanges(tx, step,
                            LogInsert(tx, rev, "stamp",
                                      idx ? m_.graph_.script(*idx).checksum : "", start, "ok",
                                      ""));
      }
      if (plan.steps.empty()) {
        // Nothing moved, but an operator asserted where the database is:
        // record it, since a stamp is what clears the dirty mark.
        std::vector<std::string> at = plan.end_heads;
        if (at.empty()) at.push_back("");
        for (const std::string& rev : at) {
          std::optional<RevisionGraph::Index> idx = m_.graph_.FindExact(rev);
          InsertLog(tx, rev, "stamp", idx ? m_.graph_.script(*idx).checksum : "", start, "ok",
                    purge ? "purged" : "");
        }
      }
      tx.commit();
    });
    if (err) return ToStatus(err, "while stamping");
    return absl::OkStatus();
  }

  // See Migrator::RunVerifies.
  absl::StatusOr<std::vector<std::string>> RunVerifies(const std::vector<std::string>& heads) {
    ASSIGN_OR_RETURN(std::vector<RevisionGraph::Index> applied, m_.graph_.AppliedRevisions(heads));
    std::vector<std::string> failures;
    for (RevisionGraph::Index i : applied) {
      const Script& s = m_.graph_.script(i);
      if (!s.verify) continue;
      DbError err = Guard([&] {
        pqxx::read_transaction tx(*conn_);
        CheckVerify(tx, s);
      });
      if (err.kind == ErrKind::kLost) return ToStatus(err, "while verifying");
      if (err) {
        failures.push_back(absl::StrCat("revision ", s.revision, " (", s.path, ":", s.verify->line,
                                        "): ", err.message));
      }
    }
    return failures;
  }

  const std::string& database() const { return database_; }
  const std::string& schema() const { return schema_; }

 private:
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

  absl::Status ToStatus(const DbError& err, absl::string_view context) {
    switch (err.kind) {
      case ErrKind::kCancelled:
        return absl::CancelledError(absl::StrCat("cancelled ", context));
      case ErrKind::kLost:
        return absl::UnavailableError(absl::StrCat("lost the connection to ", database_, " ",
                                                   context, ": ", err.message));
      default:
        return absl::FailedPreconditionError(err.message);
    }
  }

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
                           const std::string& log_sql) {
    if (step.version_changes.empty()) {
      tx.exec(log_sql);
      return;
    }
    const std::string t = VersionTableName(tx);
    std::string with, counts;
    for (size_t i = 0; i < step.version_changes.size(); ++i) {
      const VersionChange& c = step.version_changes[i];
      std::string change;
      switch (c.kind) {
        case VersionChange::Kind::kInsert:
          change = absl::StrCat("INSERT INTO ", t, " (version_num) VALUES (", Literal(tx, c.to), ")");
          break;
        case VersionChange::Kind::kDelete:
          change = absl::StrCat("DELETE FROM ", t, " WHERE version_num = ", Literal(tx, c.from));
          break;
        case VersionChange::Kind::kUpdate:
          change = absl::StrCat("UPDATE ", t, " SET version_num = ", Literal(tx, c.to),
                                " WHERE version_num = ", Literal(tx, c.from));
          break;
      }
      absl::StrAppend(&with, "c", i, " AS (", change, " RETURNING 1), ");
      absl::StrAppend(&counts, i == 0 ? "" : ", ", "(SELECT count(*) FROM c", i, ")");
    }
    pqxx::result r =
        tx.exec(absl::StrCat("WITH ", with, "l AS (", log_sql, " RETURNING 1) SELECT ", counts));
    for (size_t i = 0; i < step.version_changes.size(); ++i) {
      const VersionChange& c = step.version_changes[i];
      const int64_t matched = r[0][static_cast<int>(i)].as<int64_t>();
      if (c.kind == VersionChange::Kind::kDelete && matched != 1) {
        throw CheckFailed(absl::StrCat("Online migration expected to match one row when "
                                       "deleting '", c.from, "' in '", table_.name, "'; ",
                                       matched, " found"));
      }
      if (c.kind == VersionChange::Kind::kUpdate && matched != 1) {
        throw CheckFailed(absl::StrCat("Online migration expected to match one row when "
                                       "updating '", c.from, "' to '", c.to, "' in '",
                                       table_.name, "'; ", matched, " found"));
      }
    }
  }

  // The INSERT of a log row (without RETURNING), its values quoted by libpq.
  std::string LogInsert(pqxx::transaction_base& tx, const std::string& revision,
                        absl::string_view direction, const std::string& checksum,
                        absl::Time start, absl::string_view outcome,
                        const std::string& error) const {
    const bool finished = outcome == "ok" || outcome == "failed";
    return absl::StrCat(
        "INSERT INTO ", LogTable(tx),
        " (revision, direction, checksum, started_at, finished_at, duration_ms, outcome, error, "
        "actor, rollout_id, version_table) VALUES (",
        Literal(tx, revision), ", ", Literal(tx, std::string(direction)), ", ", Literal(tx, checksum),
        ", ", Literal(tx, Rfc3339(start)), "::timestamptz, ",
        finished ? absl::StrCat("clock_timestamp(), ",
                                absl::ToInt64Milliseconds(absl::Now() - start))
                 : std::string("NULL, NULL"),
        ", ", Literal(tx, std::string(outcome)), ", ", Literal(tx, ScrubSecrets(error, o_.dsn)), ", ",
        Literal(tx, o_.actor), ", ", Literal(tx, o_.rollout_id), ", ", Literal(tx, o_.version_table), ")");
  }

  int64_t InsertLog(pqxx::transaction_base& tx, const std::string& revision,
                    absl::string_view direction, const std::string& checksum, absl::Time start,
                    absl::string_view outcome, const std::string& error) {
    return tx
        .exec(absl::StrCat(LogInsert(tx, revision, direction, checksum, start, outcome, error),
                           " RETURNING id"))[0][0]
        .as<int64_t>();
  }

  // Writes a `failed` row after a step rolled back; on a fresh connection
  // when this one is gone. Best effort: the step's own error is what counts.
  void LogFailure(const Step& step, absl::Time start, const std::string& error) {
    auto write = [&](pqxx::connection& c) {
      pqxx::work tx(c);
      InsertLog(tx, step.script->revision, DirectionName(step.direction), step.script->checksum,
                start, "failed", error);
      tx.commit();
    };
    try {
      if (conn_->is_open()) {
        write(*conn_);
        return;
      }
    } catch (const std::exception&) {
    }
    try {
      pqxx::connection fresh(m_.ConnectionString());
      if (!o_.schema.empty()) {
        pqxx::nontransaction tx(fresh);
        tx.exec(absl::StrCat("SET search_path TO ", fresh.quote_name(o_.schema)));
      }
      write(fresh);
    } catch (const std::exception&) {
    }
  }

  std::string Where(const Step& step, int line) const {
    return absl::StrCat("revision ", step.script->revision, " (", step.script->path, ":", line,
                        ")");
  }

  absl::Status RunTransactional(const Step& step, absl::Time start) {
    const bool verify = step.direction == Direction::kUpgrade && step.script->verify.has_value();
    TransactionParts parts;
    parts.verify = verify;
    parts.finish = [&](pqxx::work& tx) {
      ApplyVersionChanges(tx, step,
                          LogInsert(tx, step.script->revision, DirectionName(step.direction),
                                    step.script->checksum, start, "ok", ""));
    };
    absl::Status status = RunInTransaction(step, SectionFor(step), parts);
    if (!status.ok()) LogFailure(step, start, std::string(status.message()));
    return status;
  }

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
                                const TransactionParts& parts) {
    std::set<int> blockers;
    DbError err;
    int line = section.line;
    for (int attempt = 0;; ++attempt) {
      if (attempt > 0) StartWatcher(&blockers);
      err = Guard([&] {
        CheckPid();
        pqxx::work tx(*conn_);
        if (!parts.prelude.empty()) tx.exec(parts.prelude);
        int64_t affected = 0;
        for (const SqlStatement& st : section.statements) {
          if (m_.cancelled_) throw CheckFailed("cancelled");
          line = st.line;
          affected += tx.exec(std::string(StatementText(section.sql, st))).affected_rows();
        }
        if (parts.affected != nullptr) *parts.affected = affected;
        if (parts.verify) {
          line = step.script->verify->line;
          CheckVerify(tx, *step.script);
        }
        line = section.line;
        if (parts.finish) parts.finish(tx);
        tx.commit();
      });
      StopWatcher();
      if (err.kind != ErrKind::kRetryable || attempt >= o_.retries || m_.cancelled_) break;
      absl::Duration backoff = o_.retry_backoff * (1 << std::min(attempt, 10));
      if (WaitOrCancelled(backoff)) break;
    }
    if (!err) return absl::OkStatus();
    if (err.kind == ErrKind::kCancelled || (m_.cancelled_ && err.kind != ErrKind::kLost)) {
      return absl::CancelledError(absl::StrCat(
          Where(step, line), " was cancelled and ",
          parts.undone == "the revision" ? std::string() : absl::StrCat(parts.undone, " "),
          "rolled back"));
    }
    if (err.kind == ErrKind::kLost) {
      return absl::UnavailableError(absl::StrCat(Where(step, line), " failed: lost the connection to ",
                                                 database_, " (", err.message, "); ", parts.undone,
                                                 " was rolled back by the server"));
    }
    if (err.kind == ErrKind::kRetryable) {
      return absl::AbortedError(absl::StrCat(
          Where(step, line), " failed after ", o_.retries + 1, " attempts: ", err.message,
          blockers.empty() ? std::string()
                           : absl::StrCat("; blocked by pid ", absl::StrJoin(blockers, ", "))));
    }
    return absl::FailedPreconditionError(
        absl::StrCat(Where(step, line), " failed: ", err.message));
  }

  // A batched revision's upgrade (Script::batch): see batched_step.cc.
  absl::Status RunBatched(const Step& step, absl::Time start, const StepObserver& observer,
                          StepEvent* event);
  // Adds the log's batch columns to a log table made before they existed.
  absl::Status EnsureBatchColumns();

  absl::Status RunNonTransactional(const Step& step, absl::Time start) {
    const SqlSection& section = SectionFor(step);
    int64_t log_id = 0;
    int line = section.line;
    DbError err = Guard([&] {
      CheckPid();
      pqxx::nontransaction tx(*conn_);
      log_id = InsertLog(tx, step.script->revision, DirectionName(step.direction),
                         step.script->checksum, start, "dirty", "in progress");
    });
    if (err) return ToStatus(err, absl::StrCat("before ", Where(step, line)));
    err = Guard([&] {
      for (const SqlStatement& st : section.statements) {
        CheckPid();
        line = st.line;
        pqxx::nontransaction tx(*conn_);
        tx.exec(std::string(StatementText(section.sql, st)));
      }
      line = section.line;
      pqxx::work tx(*conn_);
      if (step.direction == Direction::kUpgrade && step.script->verify) {
        line = step.script->verify->line;
        CheckVerify(tx, *step.script);
      }
      ApplyVersionChanges(tx, step,
                          absl::StrCat("UPDATE ", LogTable(tx),
                                       " SET outcome = 'ok', error = '', finished_at = "
                                       "clock_timestamp(), duration_ms = ",
                                       absl::ToInt64Milliseconds(absl::Now() - start),
                                       " WHERE id = ", log_id));
      tx.commit();
    });
    if (!err) return absl::OkStatus();
    std::string message = absl::StrCat(
        Where(step, line), " is non-transactional and failed part-way: ", err.message,
        ". The database is now marked dirty; repair it by hand, then run 'fleetctl stamp' with "
        "the revision it is really at");
    try {
      pqxx::connection& c = *conn_;
      pqxx::nontransaction tx(c);
      tx.exec_params(absl::StrCat("UPDATE ", LogTable(tx),
                                  " SET error = $2, finished_at = clock_timestamp(), "
                                  "duration_ms = $3 WHERE id = $1"),
                     log_id, ScrubSecrets(message, o_.dsn),
                     absl::ToInt64Milliseconds(absl::Now() - start));
    } catch (const std::exception&) {
      // The row stays 'dirty' with "in progress": still refused until stamped.
    }
    if (err.kind == ErrKind::kCancelled) return absl::CancelledError(message);
    return absl::DataLossError(message);
  }

  // Returns true when cancelled while waiting.
  bool WaitOrCancelled(absl::Duration d) {
    absl::Time until = absl::Now() + d;
    while (absl::Now() < until) {
      if (m_.cancelled_) return true;
      absl::SleepFor(std::min(absl::Milliseconds(20), until - absl::Now()));
    }
    return m_.cancelled_;
  }

  // While a retried step runs, a second connection samples
  // pg_blocking_pids() of ours, so a final failure can name the blockers.
  // `blockers` is written by the watcher thread (under blockers_mu_) and is
  // the caller's to read once StopWatcher has returned.
  void StartWatcher(std::set<int>* blockers) ABSL_LOCKS_EXCLUDED(watcher_mu_) {
    StopWatcher();
    {
      absl::MutexLock lock(&watcher_mu_);
      watcher_stop_ = false;
    }
    watcher_ = std::thread([this, blockers] {
      try {
        pqxx::connection c(m_.ConnectionString());
        absl::Duration period = std::max(absl::Milliseconds(10), o_.lock_timeout / 4);
        for (;;) {
          {
            absl::MutexLock lock(&watcher_mu_);
            if (watcher_stop_) break;
          }
          {
            pqxx::nontransaction tx(c);
            for (const auto& row :
                 tx.exec_params("SELECT unnest(pg_blocking_pids($1))", pid_)) {
              absl::MutexLock g(&blockers_mu_);
              blockers->insert(row[0].as<int>());
            }
          }
          // Until the next sample, or StopWatcher (the condition is checked
          // again whenever watcher_mu_ is released).
          absl::MutexLock lock(&watcher_mu_);
          watcher_mu_.AwaitWithTimeout(absl::Condition(&watcher_stop_), period);
        }
      } catch (const std::exception&) {
        // Diagnostics only.
      }
    });
  }

  void StopWatcher() ABSL_LOCKS_EXCLUDED(watcher_mu_) {
    if (!watcher_.joinable()) return;
    {
      absl::MutexLock lock(&watcher_mu_);
      watcher_stop_ = true;
    }
    watcher_.join();
  }

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
