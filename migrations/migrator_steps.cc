// Migrator::Session: running steps (transactional, non-transactional,
// stamps), the version table changes and log rows that record them, and
// retries with their lock-blocker watcher. A batched step: batched_step.cc.
#include "migrations/migrator_session.h"

namespace fleet::migrations {

absl::Status Migrator::Session::RunStep(const Step& step, const StepObserver& observer) {
  StepEvent event = EventFor(step);
  if (observer) observer(event);
  absl::Time start = absl::Now();
  absl::Status status = step.direction == Direction::kUpgrade && step.script->is_batched()
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

absl::Status Migrator::Session::RunStamp(const Plan& plan, bool purge) {
  absl::Time start = absl::Now();
  DbError err = Guard([&] {
    CheckPid();
    pqxx::work tx(*conn_);
    if (purge) tx.exec(absl::StrCat("DELETE FROM ", VersionTableName(tx)));
    for (const Step& step : plan.steps) {
      std::string rev =
          step.to_revisions.empty() ? step.from_revisions.front() : step.to_revisions.front();
      std::optional<RevisionGraph::Index> idx = m_.graph_.FindExact(rev);
      ApplyVersionChanges(
          tx, step,
          LogInsert(tx, rev, "stamp", idx ? m_.graph_.script(*idx).checksum : "", start, "ok", ""));
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

void Migrator::Session::ApplyVersionChanges(pqxx::transaction_base& tx, const Step& step,
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
      throw CheckFailed(
          absl::StrCat("Online migration expected to match one row when "
                       "deleting '",
                       c.from, "' in '", table_.name, "'; ", matched, " found"));
    }
    if (c.kind == VersionChange::Kind::kUpdate && matched != 1) {
      throw CheckFailed(
          absl::StrCat("Online migration expected to match one row when "
                       "updating '",
                       c.from, "' to '", c.to, "' in '", table_.name, "'; ", matched, " found"));
    }
  }
}

std::string Migrator::Session::LogInsert(pqxx::transaction_base& tx, const std::string& revision,
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
      finished ? absl::StrCat("clock_timestamp(), ", absl::ToInt64Milliseconds(absl::Now() - start))
               : std::string("NULL, NULL"),
      ", ", Literal(tx, std::string(outcome)), ", ", Literal(tx, ScrubSecrets(error, o_.dsn)), ", ",
      Literal(tx, o_.actor), ", ", Literal(tx, o_.rollout_id), ", ", Literal(tx, o_.version_table),
      ")");
}

int64_t Migrator::Session::InsertLog(pqxx::transaction_base& tx, const std::string& revision,
                                     absl::string_view direction, const std::string& checksum,
                                     absl::Time start, absl::string_view outcome,
                                     const std::string& error) {
  return tx
      .exec(absl::StrCat(LogInsert(tx, revision, direction, checksum, start, outcome, error),
                         " RETURNING id"))[0][0]
      .as<int64_t>();
}

void Migrator::Session::LogFailure(const Step& step, absl::Time start, const std::string& error) {
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

absl::Status Migrator::Session::RunTransactional(const Step& step, absl::Time start) {
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

absl::Status Migrator::Session::RunInTransaction(const Step& step, const SqlSection& section,
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
    return absl::UnavailableError(
        absl::StrCat(Where(step, line), " failed: lost the connection to ", database_, " (",
                     err.message, "); ", parts.undone, " was rolled back by the server"));
  }
  if (err.kind == ErrKind::kRetryable) {
    return absl::AbortedError(absl::StrCat(
        Where(step, line), " failed after ", o_.retries + 1, " attempts: ", err.message,
        blockers.empty() ? std::string()
                         : absl::StrCat("; blocked by pid ", absl::StrJoin(blockers, ", "))));
  }
  return absl::FailedPreconditionError(absl::StrCat(Where(step, line), " failed: ", err.message));
}

absl::Status Migrator::Session::RunNonTransactional(const Step& step, absl::Time start) {
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
    ApplyVersionChanges(
        tx, step,
        absl::StrCat("UPDATE ", LogTable(tx),
                     " SET outcome = 'ok', error = '', finished_at = "
                     "clock_timestamp(), duration_ms = ",
                     absl::ToInt64Milliseconds(absl::Now() - start), " WHERE id = ", log_id));
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

bool Migrator::Session::WaitOrCancelled(absl::Duration d) {
  absl::Time until = absl::Now() + d;
  while (absl::Now() < until) {
    if (m_.cancelled_) return true;
    absl::SleepFor(std::min(absl::Milliseconds(20), until - absl::Now()));
  }
  return m_.cancelled_;
}

void Migrator::Session::StartWatcher(std::set<int>* blockers) {
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
          for (const auto& row : tx.exec_params("SELECT unnest(pg_blocking_pids($1))", pid_)) {
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

void Migrator::Session::StopWatcher() {
  if (!watcher_.joinable()) return;
  {
    absl::MutexLock lock(&watcher_mu_);
    watcher_stop_ = true;
  }
  watcher_.join();
}

}  // namespace fleet::migrations
