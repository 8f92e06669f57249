// Migrator::Session: the connection, its schema and lock, the tables the
// engine keeps, and what runs on a session without changing a revision
// (rehearsals, table sizes, verify queries).
#include "migrations/migrator_session.h"

namespace fleet::migrations {

Migrator::Session::~Session() {
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

absl::Status Migrator::Session::Connect() {
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
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", info->Name(), ": ", CleanMessage(e.what())));
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
    auto lease = o_.pool->Acquire(
        key, open, absl::Now() + std::max(o_.lock_wait, o_.connect_timeout), &m_.cancelled_, setup);
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

absl::Status Migrator::Session::UseSchema(const std::string& schema, bool mutating) {
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
          throw CheckFailed(absl::StrCat("schema \"", schema, "\" does not exist in database ",
                                         r[0][0].as<std::string>(),
                                         " (create it, or pass --create-schema)"));
        }
        r = tx.exec(
            absl::StrCat("CREATE SCHEMA IF NOT EXISTS ", tx.quote_name(schema), "; ", use, where));
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

absl::Status Migrator::Session::Lock() {
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
      tx.exec(absl::StrCat("SET statement_timeout = 0; SET lock_timeout = '", Millis(o_.lock_wait),
                           "'"));
      try {
        // Nothing after a lock not had runs (one implicit transaction).
        tx.exec(absl::StrCat("SELECT pg_catalog.pg_advisory_lock(", key, "); ", timeouts));
        got = true;
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() != "55P03") throw;
      }
    } else {
      got =
          tx.exec(absl::StrCat(timeouts, "SELECT pg_catalog.pg_try_advisory_lock(", key, ")"))[0][0]
              .as<bool>();
    }
    if (!got) {
      pqxx::result r = tx.exec(
          absl::StrCat(timeouts,
                       "SELECT pid FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND "
                       "granted AND objsubid = 1 AND classid = ((",
                       key,
                       " >> 32) & 4294967295)::oid "
                       "AND objid = (",
                       key, " & 4294967295)::oid LIMIT 1"));
      if (!r.empty()) holder = r[0][0].as<int>();
    }
  });
  if (err) return ToStatus(err, "while taking the migration lock");
  if (!got) {
    return absl::UnavailableError(
        absl::StrCat("another migration is running on ", database_, "/", schema_,
                     holder ? absl::StrCat(" (pid ", *holder, ")") : std::string(), "; waited ",
                     absl::FormatDuration(o_.lock_wait)));
  }
  locked_ = true;
  return absl::OkStatus();
}

absl::Status Migrator::Session::EnsureTables() {
  if (tables_seen_) return absl::OkStatus();
  DbError err = Guard([&] {
    pqxx::work tx(*conn_);
    if (!Exists(tx, table_.name)) {
      tx.exec(absl::StrCat(
          "CREATE TABLE ", VersionTableName(tx), " (version_num VARCHAR(32) NOT NULL, CONSTRAINT ",
          tx.quote_name(absl::StrCat(table_.name, "_pkc")), " PRIMARY KEY (version_num))"));
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

absl::StatusOr<Rehearsal> Migrator::Session::RunRehearsal(const Plan& plan) {
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
        tx.exec(std::string(
            StatementText(step.script->batch->sql, step.script->batch->statements.front())));
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
    for (const auto& row :
         tx.exec("SELECT CASE WHEN n.nspname = current_schema() THEN c.relname "
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

absl::StatusOr<std::vector<TableSize>> Migrator::Session::ReadTableSizes(
    const std::vector<std::string>& tables) {
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

absl::StatusOr<std::vector<std::string>> Migrator::Session::RunVerifies(
    const std::vector<std::string>& heads) {
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

absl::Status Migrator::Session::ToStatus(const DbError& err, absl::string_view context) {
  switch (err.kind) {
    case ErrKind::kCancelled:
      return absl::CancelledError(absl::StrCat("cancelled ", context));
    case ErrKind::kLost:
      return absl::UnavailableError(
          absl::StrCat("lost the connection to ", database_, " ", context, ": ", err.message));
    default:
      return absl::FailedPreconditionError(err.message);
  }
}

}  // namespace fleet::migrations
