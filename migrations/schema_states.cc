// Migrator::Session: reading where tenants are, one schema or many of one
// database at once: the version tables and the migration logs.
#include "migrations/migrator_session.h"

namespace fleet::migrations {

absl::StatusOr<DatabaseState> Migrator::Session::ReadState(bool with_drift) {
  std::vector<char> both;
  absl::StatusOr<DatabaseState> state =
      std::move(ReadSchemaStates({schema_}, with_drift, &both).front());
  if (state.ok()) tables_seen_ = both.front() != 0;
  return state;
}

void Migrator::Session::AddDrift(const std::vector<std::pair<std::string, std::string>>& recorded,
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

void Migrator::Session::FromLog(const std::vector<LogRow>& rows, bool with_drift, DatabaseState* st,
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

std::vector<absl::StatusOr<DatabaseState>> Migrator::Session::ReadSchemaStates(
    const std::vector<std::string>& schemas, bool with_drift, std::vector<char>* tables_found) {
  constexpr size_t kChunk = 200;
  const size_t n = schemas.size();
  std::vector<absl::StatusOr<DatabaseState>> out;
  std::vector<DatabaseState> states(n);
  std::vector<std::vector<std::pair<std::string, std::string>>> recorded(n);
  std::vector<std::string> missing(n);       // the error of a schema that does not exist
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
               "AND c.relname = ",
               vt,
               "), "
               "EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid "
               "AND c.relname = '",
               kLogTable,
               "'), v.name::text, current_database() "
               "FROM (VALUES ",
               values,
               ") AS v(i, name) "
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
                          ", version_num::text, '', '', '', 0::bigint, '', '', '' FROM ", schema,
                          ".", tx.quote_name(o_.version_table), ")");
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

}  // namespace fleet::migrations
