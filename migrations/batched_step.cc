// A batched revision's upgrade (Script::batch), resumable:
//
//   1. the upgrade section, and the log row `in_progress` (phase
//      "batches"), in one transaction;
//   2. the batch statement again and again, each run in a transaction of
//      its own under lock_timeout and the revision's batch_max_seconds,
//      adding the rows it changed to the log row in the same transaction,
//      until a run changes no row (batch_pause between runs);
//   3. the post section, the verify query, the version-table change and
//      the log row `ok`, in one transaction.
//
// A run that stops anywhere (an error, a cancel, the process killed) leaves
// the tenant at its old revision with every committed batch kept, and the
// row `in_progress`; the next upgrade finds that row and goes on at step 2.
// A stamp since then abandons it (the operator said where the tenant is).
#include <pqxx/pqxx>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "migrations/migrator_session.h"

namespace fleet::migrations {

absl::Status Migrator::Session::EnsureBatchColumns() {
  DbError err = Guard([&] {
    pqxx::work tx(*conn_);
    const bool has = tx.exec_params("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute "
                                    "WHERE attrelid = $1::regclass AND attname = 'rows_done' "
                                    "AND NOT attisdropped)",
                                    LogTable(tx))[0][0]
                         .as<bool>();
    if (has) return;
    // A log made by an older fleet: the columns, and the outcome a batched
    // revision has while it runs.
    tx.exec(absl::StrCat(
        "ALTER TABLE ", LogTable(tx),
        " ADD COLUMN IF NOT EXISTS phase text NOT NULL DEFAULT '',"
        " ADD COLUMN IF NOT EXISTS rows_done bigint NOT NULL DEFAULT 0,"
        " ADD COLUMN IF NOT EXISTS batches bigint NOT NULL DEFAULT 0,"
        " DROP CONSTRAINT IF EXISTS ", tx.quote_name(absl::StrCat(kLogTable, "_outcome_check")),
        ", ADD CONSTRAINT ", tx.quote_name(absl::StrCat(kLogTable, "_outcome_check")),
        " CHECK (outcome IN ('ok', 'failed', 'dirty', 'in_progress'))"));
    tx.commit();
  });
  if (err) return ToStatus(err, "while adding the batch columns to the migration log");
  return absl::OkStatus();
}

absl::Status Migrator::Session::RunBatched(const Step& step, absl::Time start,
                                           const StepObserver& observer, StepEvent* event) {
  const Script& script = *step.script;
  RETURN_IF_ERROR(EnsureBatchColumns());

  // 1. A run of this revision that stopped part-way, unless a stamp came since.
  int64_t log_id = 0;
  DbError err = Guard([&] {
    CheckPid();
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        absl::StrCat("SELECT id, rows_done, batches FROM ", LogTable(tx),
                     " WHERE revision = $1 AND direction = 'upgrade' AND outcome = 'in_progress'"
                     " AND version_table = $2 AND id > coalesce((SELECT max(id) FROM ",
                     LogTable(tx),
                     " WHERE direction = 'stamp' AND outcome = 'ok' AND version_table = $2), 0)"
                     " ORDER BY id DESC LIMIT 1"),
        script.revision, o_.version_table);
    if (r.empty()) return;
    log_id = r[0][0].as<int64_t>();
    event->rows = r[0][1].as<int64_t>();
    event->batches = r[0][2].as<int64_t>();
    event->resumed_rows = event->rows;
  });
  if (err) return ToStatus(err, absl::StrCat("while reading the log of ", script.revision));
  if (log_id != 0) {
    StepEvent resumed = *event;
    resumed.kind = StepEvent::Kind::kProgress;
    if (observer) observer(resumed);
  } else {
    TransactionParts parts;
    parts.finish = [&](pqxx::work& tx) {
      log_id = InsertLog(tx, script.revision, "upgrade", script.checksum, start, "in_progress", "");
      tx.exec_params(absl::StrCat("UPDATE ", LogTable(tx), " SET phase = 'batches' WHERE id = $1"),
                     log_id);
    };
    absl::Status upgraded = RunInTransaction(step, script.upgrade, parts);
    if (!upgraded.ok()) {
      LogFailure(step, start, std::string(upgraded.message()));
      return upgraded;
    }
  }

  // What a stop between steps leaves, said once for every way of stopping.
  auto kept = [&] {
    return absl::StrCat(event->rows, " rows in ", event->batches,
                        " batches are done and kept; the revision stays in progress (not "
                        "applied) and the next upgrade resumes it");
  };
  auto note_error = [&](absl::string_view phase, const std::string& message) {
    try {
      pqxx::nontransaction tx(*conn_);
      tx.exec_params(absl::StrCat("UPDATE ", LogTable(tx),
                                  " SET phase = $2, error = $3 WHERE id = $1"),
                     log_id, std::string(phase), ScrubSecrets(message, o_.dsn));
    } catch (const std::exception&) {
      // The row stays in_progress with its rows: what resuming needs.
    }
  };

  // 2. The batches.
  const std::string prelude =
      absl::StrCat("SET LOCAL statement_timeout = '", Millis(script.batch_max), "'");
  const absl::Time batches_from = absl::Now();
  const int64_t rows_before = event->rows;
  for (;;) {
    if (m_.cancelled_) {
      std::string message = absl::StrCat("revision ", script.revision,
                                         " was cancelled between batches: ", kept());
      note_error("batches", message);
      return absl::CancelledError(message);
    }
    int64_t changed = 0;
    const absl::Time batch_start = absl::Now();
    TransactionParts parts;
    parts.prelude = prelude;
    parts.finish = [&](pqxx::work& tx) {
      tx.exec_params(absl::StrCat("UPDATE ", LogTable(tx),
                                  " SET rows_done = rows_done + $2, batches = batches + 1,"
                                  " error = '' WHERE id = $1"),
                     log_id, changed);
    };
    parts.affected = &changed;
    parts.undone = "this batch";
    absl::Status ran = RunInTransaction(step, *script.batch, parts);
    if (!ran.ok()) {
      std::string why(ran.message());
      if (absl::StrContains(why, "statement timeout") && !m_.cancelled_) {
        why = absl::StrCat(why, " (one batch may run ", absl::FormatDuration(script.batch_max),
                           ": batch_max_seconds; make each batch change fewer rows)");
      }
      std::string message = absl::StrCat("batch ", event->batches + 1, " of ", why, "; ", kept());
      note_error("batches", message);
      return absl::Status(ran.code(), message);
    }
    event->rows += changed;
    event->batches += 1;
    const double seconds = absl::ToDoubleSeconds(absl::Now() - batches_from);
    event->rows_per_second =
        seconds > 0 ? static_cast<double>(event->rows - rows_before) / seconds : 0;
    event->duration = absl::Now() - start;
    StepEvent progress = *event;
    progress.kind = StepEvent::Kind::kProgress;
    progress.duration = absl::Now() - batch_start;
    if (observer) observer(progress);
    if (changed == 0) break;
    if (WaitOrCancelled(script.batch_pause)) continue;  // reported at the top
  }

  // 3. The contract step and the version table, together.
  static const SqlSection kNoPost;
  TransactionParts parts;
  parts.verify = script.verify.has_value();
  parts.finish = [&](pqxx::work& tx) {
    ApplyVersionChanges(tx, step,
                        absl::StrCat("UPDATE ", LogTable(tx),
                                     " SET outcome = 'ok', phase = '', error = '', checksum = ",
                                     Literal(tx, script.checksum),
                                     ", finished_at = clock_timestamp(), duration_ms = (extract("
                                     "epoch FROM clock_timestamp() - started_at) * 1000)::bigint"
                                     " WHERE id = ", log_id));
  };
  absl::Status done = RunInTransaction(step, script.post ? *script.post : kNoPost, parts);
  if (!done.ok()) {
    std::string message =
        absl::StrCat(done.message(), "; every batch is done: ", kept());
    note_error("post", message);
    return absl::Status(done.code(), message);
  }
  return absl::OkStatus();
}

}  // namespace fleet::migrations
