#include "migrations/migrator.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "migrations/dsn.h"
#include "migrations/migrator_session.h"
#include "migrations/status_macros.h"

namespace fleet::migrations {

Migrator::Migrator(const RevisionGraph& graph, MigratorOptions options)
    : graph_(graph), options_(std::move(options)) {}

std::string Migrator::ConnectionString() const {
  int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(options_.connect_timeout));
  return WithDefaultOption(options_.dsn, "connect_timeout", std::to_string(seconds));
}

absl::Status Migrator::Redacted(const absl::Status& status) const {
  if (status.ok()) return status;
  return absl::Status(status.code(), ScrubSecrets(status.message(), options_.dsn));
}

absl::StatusOr<RunResult> Migrator::Run(Direction direction, absl::string_view target,
                                        const StepObserver& observer) {
  auto run = [&]() -> absl::StatusOr<RunResult> {
    Session session(*this);
    RETURN_IF_ERROR(session.Open(/*mutating=*/true));
    RETURN_IF_ERROR(session.Lock());
    const bool check_drift = direction == Direction::kUpgrade && !options_.allow_drift;
    ASSIGN_OR_RETURN(DatabaseState state, session.ReadState(check_drift));
    if (state.dirty) {
      return absl::FailedPreconditionError(absl::StrCat(
          "database ", state.database, "/", state.schema, " is dirty: revision ",
          state.dirty_revision, " failed part-way (", state.dirty_error, ")",
          state.invalid_indexes.empty()
              ? std::string()
              : absl::StrCat("; INVALID indexes left behind: ",
                             absl::StrJoin(state.invalid_indexes, ", ")),
          ". Repair it, then run 'fleetctl stamp <revision>' to clear the mark"));
    }
    if (!state.drift.empty()) {
      std::vector<std::string> lines;
      for (const Drift& d : state.drift) {
        lines.push_back(absl::StrCat(d.revision, " (", d.path, ")"));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "drift: the scripts of applied revisions changed since they ran: ",
          absl::StrJoin(lines, ", "),
          ". Run 'fleetctl validate' for details; --allow-drift upgrades anyway"));
    }
    absl::StatusOr<Plan> planned;
    if (direction == Direction::kUpgrade) {
      planned = graph_.PlanUpgrade(state.heads, target);
    } else if (!target.empty() && target[0] == '=') {
      // "=A,B": exactly these heads ("=" alone: base).
      std::vector<std::string> heads =
          absl::StrSplit(target.substr(1), ',', absl::SkipWhitespace());
      planned = graph_.PlanDowngradeToHeads(state.heads, heads);
    } else {
      planned = graph_.PlanDowngrade(state.heads, target);
    }
    ASSIGN_OR_RETURN(Plan plan, std::move(planned));
    RunResult result;
    result.start_heads = plan.start_heads;
    result.end_heads = state.heads;
    // Only a plan with work creates the version table and the log: a bad
    // target, or nothing to do, leaves the database exactly as it was.
    if (!plan.steps.empty()) RETURN_IF_ERROR(session.EnsureTables());
    for (const Step& step : plan.steps) {
      if (cancelled_) return absl::CancelledError("cancelled before the next revision");
      RETURN_IF_ERROR(session.RunStep(step, observer));
      ++result.steps;
    }
    if (result.steps > 0) {
      // Where the database is now, read back on this connection after the
      // last commit: what callers report, never the plan's expectation.
      ASSIGN_OR_RETURN(DatabaseState after, session.ReadState(/*with_drift=*/false));
      result.end_heads = std::move(after.heads);
    }
    return result;
  };
  absl::StatusOr<RunResult> r = run();
  if (!r.ok()) return Redacted(r.status());
  return r;
}

absl::StatusOr<RunResult> Migrator::Upgrade(absl::string_view target,
                                            const StepObserver& observer) {
  return Run(Direction::kUpgrade, target, observer);
}

absl::StatusOr<RunResult> Migrator::Downgrade(absl::string_view target,
                                              const StepObserver& observer) {
  return Run(Direction::kDowngrade, target, observer);
}

absl::StatusOr<RunResult> Migrator::Stamp(const std::vector<std::string>& revisions, bool purge) {
  auto run = [&]() -> absl::StatusOr<RunResult> {
    Session session(*this);
    RETURN_IF_ERROR(session.Open(/*mutating=*/true));
    RETURN_IF_ERROR(session.Lock());
    RETURN_IF_ERROR(session.EnsureTables());
    ASSIGN_OR_RETURN(DatabaseState state, session.ReadState(false));
    ASSIGN_OR_RETURN(Plan plan, graph_.PlanStamp(state.heads, revisions, purge));
    RETURN_IF_ERROR(session.RunStamp(plan, purge));
    return RunResult{plan.start_heads, plan.end_heads, static_cast<int>(plan.steps.size())};
  };
  absl::StatusOr<RunResult> r = run();
  if (!r.ok()) return Redacted(r.status());
  return r;
}

absl::StatusOr<Rehearsal> Migrator::Rehearse(absl::string_view target) {
  auto run = [&]() -> absl::StatusOr<Rehearsal> {
    Session session(*this);
    RETURN_IF_ERROR(session.Open(/*mutating=*/false));
    RETURN_IF_ERROR(session.Lock());
    ASSIGN_OR_RETURN(DatabaseState state, session.ReadState(/*with_drift=*/false));
    if (state.dirty) {
      return absl::FailedPreconditionError(
          absl::StrCat("database ", state.database, "/", state.schema, " is dirty: revision ",
                       state.dirty_revision, " failed part-way; nothing was rehearsed"));
    }
    ASSIGN_OR_RETURN(Plan plan, graph_.PlanUpgrade(state.heads, target));
    return session.RunRehearsal(plan);
  };
  absl::StatusOr<Rehearsal> r = run();
  if (!r.ok()) return Redacted(r.status());
  r->error = ScrubSecrets(r->error, options_.dsn);
  return r;
}

absl::StatusOr<std::vector<TableSize>> Migrator::TableSizes(const std::vector<std::string>& tables) {
  auto run = [&]() -> absl::StatusOr<std::vector<TableSize>> {
    Session session(*this);
    RETURN_IF_ERROR(session.Open(/*mutating=*/false));
    return session.ReadTableSizes(tables);
  };
  auto r = run();
  if (!r.ok()) return Redacted(r.status());
  return r;
}

absl::StatusOr<DatabaseState> Migrator::Inspect() {
  auto run = [&]() -> absl::StatusOr<DatabaseState> {
    // Reads name the schema in every query: no search_path to set, and
    // the whole read is the session's set-up and two queries.
    Session session(*this);
    RETURN_IF_ERROR(session.Connect());
    return std::move(session.ReadSchemaStates({options_.schema}, /*with_drift=*/true).front());
  };
  absl::StatusOr<DatabaseState> r = run();
  if (!r.ok()) return Redacted(r.status());
  return r;
}

absl::StatusOr<std::vector<std::string>> Migrator::RunVerifies() {
  auto run = [&]() -> absl::StatusOr<std::vector<std::string>> {
    Session session(*this);
    RETURN_IF_ERROR(session.Open(/*mutating=*/false));
    ASSIGN_OR_RETURN(DatabaseState state, session.ReadState(false));
    return session.RunVerifies(state.heads);
  };
  auto r = run();
  if (!r.ok()) return Redacted(r.status());
  for (std::string& line : *r) line = ScrubSecrets(line, options_.dsn);
  return r;
}

std::vector<absl::StatusOr<DatabaseState>> Migrator::InspectSchemas(
    const std::vector<std::string>& schemas) {
  std::vector<absl::StatusOr<DatabaseState>> out;
  Session session(*this);
  absl::Status connected = session.Connect();
  if (!connected.ok()) {
    out.assign(schemas.size(), Redacted(connected));
    return out;
  }
  // The schemas of one database, their tables read all at once (an empty
  // name: the connection's current schema).
  out = session.ReadSchemaStates(schemas, /*with_drift=*/true);
  for (auto& state : out) {
    if (!state.ok()) state = Redacted(state.status());
  }
  return out;
}

void Migrator::Cancel() {
  cancelled_ = true;
  int pid;
  {
    absl::MutexLock lock(&mu_);
    pid = active_pid_;
  }
  if (pid == 0) return;
  try {
    pqxx::connection c(ConnectionString());
    pqxx::nontransaction tx(c);
    tx.exec_params("SELECT pg_cancel_backend($1)", pid);
  } catch (const std::exception&) {
    // The flag alone stops the run at the next statement.
  }
}

}  // namespace fleet::migrations
