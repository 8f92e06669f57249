// The inventory's database, either kind: SQLite (one file, one machine) or
// PostgreSQL (shared by several controllers). The inventory's SQL is written
// once, in the dialect both accept — `?` placeholders (turned into $1, $2 for
// PostgreSQL), CAST(? AS TEXT) where a parameter's type must be said,
// ON CONFLICT — and runs through this seam; only each schema's DDL differs.
//
// Not thread-safe: the inventory serializes calls under its own mutex.
#ifndef FLEET_CONTROLLER_SQL_DB_H_
#define FLEET_CONTROLLER_SQL_DB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace fleet::controller {

// What Step() says.
inline constexpr int kRow = 1;         // a row is ready: read it with Text/Int/Blob
inline constexpr int kDone = 2;        // the statement ran; no (more) rows
inline constexpr int kConstraint = 3;  // refused: a unique or foreign key constraint
inline constexpr int kError = 4;       // failed; ErrorMessage() says why

// One statement with `?` parameters: bind (1-based), then step.
class SqlStatement {
 public:
  virtual ~SqlStatement() = default;
  virtual void BindText(int i, const std::string& v) = 0;
  virtual void BindBlob(int i, const std::string& v) = 0;
  virtual void BindInt(int i, int64_t v) = 0;
  virtual void BindNull(int i) = 0;
  virtual int Step() = 0;
  virtual std::string Text(int col) const = 0;  // "" for NULL
  virtual std::string Blob(int col) const = 0;
  virtual int64_t Int(int col) const = 0;
  virtual int64_t Changes() const = 0;  // rows the statement changed
  virtual std::string ErrorMessage() const = 0;
};

class SqlDb {
 public:
  virtual ~SqlDb() = default;
  virtual std::unique_ptr<SqlStatement> Prepare(const std::string& sql) = 0;
  // Runs `sql` (statements separated by semicolons, no parameters).
  [[nodiscard]] virtual absl::Status Exec(const std::string& sql) = 0;
  // What starts a write transaction ("BEGIN IMMEDIATE" for SQLite).
  virtual const char* BeginWrite() const = 0;
  virtual bool is_postgres() const = 0;
  // "SQLite ./fleet.sqlite" or "PostgreSQL user@host:port/dbname": for
  // messages, never the password.
  virtual std::string Name() const = 0;
};

// A statement and its binding position, as the inventory writes them.
class Stmt {
 public:
  Stmt(SqlDb& db, const std::string& sql) : s_(db.Prepare(sql)) {}
  Stmt& Bind(const std::string& v) {
    s_->BindText(++n_, v);
    return *this;
  }
  Stmt& BindBlob(const std::string& v) {
    s_->BindBlob(++n_, v);
    return *this;
  }
  Stmt& Bind(int64_t v) {
    s_->BindInt(++n_, v);
    return *this;
  }
  // NULL when absent.
  Stmt& BindOptional(const std::optional<std::string>& v) {
    if (v) return Bind(*v);
    s_->BindNull(++n_);
    return *this;
  }
  Stmt& BindOptional(const std::optional<int>& v) {
    if (v) return Bind(int64_t{*v});
    s_->BindNull(++n_);
    return *this;
  }
  int Step() { return s_->Step(); }
  absl::Status Run() {
    int rc = Step();
    if (rc == kDone || rc == kRow) return absl::OkStatus();
    return Error(rc);
  }
  absl::Status Error(int) const {
    return absl::InternalError(absl::StrCat("inventory: ", s_->ErrorMessage()));
  }
  std::string Text(int col) const { return s_->Text(col); }
  std::string Blob(int col) const { return s_->Blob(col); }
  int64_t Int(int col) const { return s_->Int(col); }
  int64_t changes() const { return s_->Changes(); }

 private:
  std::unique_ptr<SqlStatement> s_;
  int n_ = 0;
};

// libpq's multi-line message ("ERROR:  ...\nLINE 1: ...") on one line.
std::string OneLine(const char* message);

// Opens (creating) the SQLite file at `path`: WAL, foreign keys, a busy
// timeout.
[[nodiscard]] absl::StatusOr<std::unique_ptr<SqlDb>> OpenSqliteDb(const std::string& path);
// Connects to PostgreSQL with a libpq connection string or postgresql://
// URL (the password by reference: ~/.pgpass, PGPASSFILE, a service file).
[[nodiscard]] absl::StatusOr<std::unique_ptr<SqlDb>> OpenPostgresDb(const std::string& conninfo);

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_SQL_DB_H_
