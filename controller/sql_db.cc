// The two kinds of inventory database behind SqlDb: SQLite and PostgreSQL
// (libpq directly: text parameters, bytea sent binary, SQLSTATE classes).
#include "controller/sql_db.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "migrations/dsn.h"

namespace fleet::controller {
namespace {

// --- SQLite ---------------------------------------------------------------

class SqliteStatement final : public SqlStatement {
 public:
  SqliteStatement(sqlite3* db, const std::string& sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  void BindText(int i, const std::string& v) override {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int i, const std::string& v) override {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindInt(int i, int64_t v) override { sqlite3_bind_int64(stmt_, i, v); }
  void BindNull(int i) override { sqlite3_bind_null(stmt_, i); }
  int Step() override {
    last_ = rc_ == SQLITE_OK ? sqlite3_step(stmt_) : rc_;
    if (last_ == SQLITE_ROW) return kRow;
    if (last_ == SQLITE_DONE) return kDone;
    if ((last_ & 0xff) == SQLITE_CONSTRAINT) return kConstraint;
    return kError;
  }
  std::string Text(int col) const override {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  std::string Blob(int col) const override {
    const void* b = sqlite3_column_blob(stmt_, col);
    return b ? std::string(static_cast<const char*>(b),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  int64_t Changes() const override { return sqlite3_changes(db_); }
  std::string ErrorMessage() const override {
    return absl::StrCat(sqlite3_errstr(last_), ": ", sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
  int last_ = SQLITE_OK;
};

class SqliteDb final : public SqlDb {
 public:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteDb() override { sqlite3_close(db_); }
  std::unique_ptr<SqlStatement> Prepare(const std::string& sql) override {
    return std::make_unique<SqliteStatement>(db_, sql);
  }
  absl::Status Exec(const std::string& sql) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return absl::OkStatus();
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("inventory: ", msg));
  }
  const char* BeginWrite() const override { return "BEGIN IMMEDIATE"; }
  bool is_postgres() const override { return false; }
  std::string Name() const override { return absl::StrCat("SQLite ", path_); }

 private:
  sqlite3* db_;
  std::string path_;
};

// --- PostgreSQL -----------------------------------------------------------

// `sql` with each `?` outside quotes turned into $1, $2, ...
std::string Numbered(const std::string& sql) {
  std::string out;
  int n = 0;
  bool quoted = false;
  for (char c : sql) {
    if (c == '\'') quoted = !quoted;
    if (c == '?' && !quoted) {
      absl::StrAppend(&out, "$", ++n);
    } else {
      out.push_back(c);
    }
  }
  return out;
}


class PostgresStatement final : public SqlStatement {
 public:
  PostgresStatement(PGconn* conn, const std::string& sql) : conn_(conn), sql_(Numbered(sql)) {}
  ~PostgresStatement() override { PQclear(result_); }
  void BindText(int i, const std::string& v) override { Set(i, v, 0); }
  void BindBlob(int i, const std::string& v) override { Set(i, v, 1); }
  void BindInt(int i, int64_t v) override { Set(i, std::to_string(v), 0); }
  void BindNull(int i) override {
    Set(i, "", 0);
    nulls_[static_cast<size_t>(i - 1)] = true;
  }
  int Step() override {
    if (result_ == nullptr) {
      std::vector<const char*> values(params_.size());
      std::vector<int> lengths(params_.size());
      for (size_t i = 0; i < params_.size(); ++i) {
        values[i] = nulls_[i] ? nullptr : params_[i].data();
        lengths[i] = static_cast<int>(params_[i].size());
      }
      result_ = PQexecParams(conn_, sql_.c_str(), static_cast<int>(params_.size()), nullptr,
                             values.data(), lengths.data(), formats_.data(), 0);
      const ExecStatusType st = PQresultStatus(result_);
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char* state = PQresultErrorField(result_, PG_DIAG_SQLSTATE);
        error_ = OneLine(PQresultErrorMessage(result_));
        if (error_.empty()) error_ = OneLine(PQerrorMessage(conn_));
        failed_ = state != nullptr && std::string(state).rfind("23", 0) == 0 ? kConstraint
                                                                               : kError;
        return failed_;
      }
    }
    if (failed_ != 0) return failed_;
    if (row_ < PQntuples(result_)) {
      ++row_;
      return kRow;
    }
    return kDone;
  }
  std::string Text(int col) const override {
    if (PQgetisnull(result_, row_ - 1, col)) return "";
    return std::string(PQgetvalue(result_, row_ - 1, col),
                       static_cast<size_t>(PQgetlength(result_, row_ - 1, col)));
  }
  std::string Blob(int col) const override {
    size_t n = 0;
    unsigned char* b = PQunescapeBytea(
        reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row_ - 1, col)), &n);
    std::string out(reinterpret_cast<const char*>(b), n);
    PQfreemem(b);
    return out;
  }
  int64_t Int(int col) const override {
    int64_t v = 0;
    return absl::SimpleAtoi(Text(col), &v) ? v : 0;
  }
  int64_t Changes() const override {
    int64_t v = 0;
    return result_ != nullptr && absl::SimpleAtoi(PQcmdTuples(result_), &v) ? v : 0;
  }
  std::string ErrorMessage() const override { return error_; }

 private:
  void Set(int i, std::string v, int format) {
    const size_t at = static_cast<size_t>(i - 1);
    if (params_.size() <= at) {
      params_.resize(at + 1);
      formats_.resize(at + 1);
      nulls_.resize(at + 1);
    }
    params_[at] = std::move(v);
    formats_[at] = format;
    nulls_[at] = false;
  }

  PGconn* conn_;
  std::string sql_;
  std::vector<std::string> params_;
  std::vector<int> formats_;
  std::vector<bool> nulls_;
  PGresult* result_ = nullptr;
  int row_ = 0;
  int failed_ = 0;
  std::string error_;
};

class PostgresDb final : public SqlDb {
 public:
  PostgresDb(PGconn* conn, std::string name) : conn_(conn), name_(std::move(name)) {}
  ~PostgresDb() override { PQfinish(conn_); }
  std::unique_ptr<SqlStatement> Prepare(const std::string& sql) override {
    Reconnect();
    return std::make_unique<PostgresStatement>(conn_, sql);
  }
  absl::Status Exec(const std::string& sql) override {
    const bool begin = sql.rfind("BEGIN", 0) == 0;
    const bool end = sql.rfind("COMMIT", 0) == 0 || sql.rfind("ROLLBACK", 0) == 0;
    if (end && PQstatus(conn_) != CONNECTION_OK) {
      // The server rolled the transaction back when the connection went.
      in_transaction_ = false;
      return sql.rfind("ROLLBACK", 0) == 0
                 ? absl::OkStatus()
                 : absl::UnavailableError("inventory: the connection was lost; nothing committed");
    }
    Reconnect();
    if (begin) in_transaction_ = true;
    if (end) in_transaction_ = false;
    PGresult* r = PQexec(conn_, sql.c_str());
    const ExecStatusType st = PQresultStatus(r);
    std::string error = OneLine(PQresultErrorMessage(r));
    PQclear(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("inventory: ", error));
  }
  const char* BeginWrite() const override { return "BEGIN"; }
  bool is_postgres() const override { return true; }
  std::string Name() const override { return absl::StrCat("PostgreSQL ", name_); }

 private:
  // A connection lost between calls is opened again — but never inside a
  // transaction: what follows would run outside it, so it fails instead
  // (and the caller rolls back, and sees the error).
  void Reconnect() {
    if (PQstatus(conn_) != CONNECTION_OK && !in_transaction_) PQreset(conn_);
  }

  PGconn* conn_;
  std::string name_;
  bool in_transaction_ = false;
};

}  // namespace

std::string OneLine(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

absl::StatusOr<std::unique_ptr<SqlDb>> OpenSqliteDb(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open inventory ", path, ": ", msg));
  }
  sqlite3_busy_timeout(db, 5000);
  auto out = std::make_unique<SqliteDb>(db, path);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
    if (absl::Status s = out->Exec(pragma); !s.ok()) return s;
  }
  return std::unique_ptr<SqlDb>(std::move(out));
}

absl::StatusOr<std::unique_ptr<SqlDb>> OpenPostgresDb(const std::string& conninfo) {
  // Parsed by libpq first: a string it would misread is refused without
  // being echoed, and the inventory is named by its fields.
  auto info = migrations::ParseConnectionString(conninfo);
  if (!info.ok()) return info.status();
  // Session settings travel in the connection string, so a reconnection
  // (PQreset) keeps them: NOTICEs ("already exists, skipping") stay off
  // stderr, and a transaction left open by a stopped process (SIGSTOP) is
  // ended by the server, so it cannot hold up a takeover.
  std::string full = conninfo;
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"connect_timeout", "10"},
           {"application_name", "fleet-controller"},
           {"options",
            "-c client_min_messages=warning -c idle_in_transaction_session_timeout=10s"}}) {
    full = migrations::WithDefaultOption(full, key, value);
  }
  PGconn* conn = PQconnectdb(full.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat(
        "cannot open inventory ", info->Name(), ": ", migrations::ScrubSecrets(msg, conninfo)));
  }
  return std::unique_ptr<SqlDb>(std::make_unique<PostgresDb>(conn, info->Name()));
}

}  // namespace fleet::controller
