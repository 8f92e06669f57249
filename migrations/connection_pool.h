// ConnectionPool: idle PostgreSQL connections kept for reuse, within a
// budget. A session to a database costs a backend start and a catalog-cache
// warm-up; a process that touches the same databases again and again (the
// agent: polls, plans, migrations, read-backs) keeps them open instead.
//
// - Connections are keyed by their complete connection string: only a
//   caller with the same string (the same database, user and options) gets
//   one back. Keys hold secrets and are never logged or returned.
// - At most `max_connections` are open at once, idle and leased together.
//   When the budget is used up by idle connections of other keys, the one
//   idle longest is closed to make room; when every connection is leased,
//   Acquire waits for one to come back, up to its deadline.
// - A connection is reset before it serves its next holder — settings,
//   search_path, role, advisory locks, cursors, prepared statements,
//   temporary tables (what DISCARD ALL resets) — in the same round trip as
//   that holder's own set-up statements. A holder must release the advisory
//   locks it took before giving a connection back (or Discard it); one that
//   cannot be reset, or that its holder discarded, is closed.
// - A connection idle longer than `idle_timeout` is closed by a background
//   thread, so an agent that goes quiet holds no sessions.
//
// Threads: every method is safe from any thread. Leases must be gone before
// the pool is destroyed.
#ifndef FLEET_MIGRATIONS_CONNECTION_POOL_H_
#define FLEET_MIGRATIONS_CONNECTION_POOL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <pqxx/connection>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fleet::migrations {

struct ConnectionPoolOptions {
  int max_connections = 32;                        // open at once, idle and leased
  absl::Duration idle_timeout = absl::Seconds(60);  // then an idle one is closed
};

struct ConnectionPoolStats {
  int64_t opened = 0;  // connections opened since the pool was made
  int64_t reused = 0;  // leases served by an idle connection
  int64_t closed = 0;  // connections closed (idle timeout, eviction, discard, reset failure)
  int open = 0;        // open now (idle + leased)
  int idle = 0;
  int peak_open = 0;   // the most ever open at once: never above max_connections
};

class ConnectionPool {
 public:
  using Opener = std::function<absl::StatusOr<std::unique_ptr<pqxx::connection>>()>;

  explicit ConnectionPool(ConnectionPoolOptions options);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection held by one caller; given back to the pool when the lease
  // goes (or closed, after Discard).
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

    pqxx::connection& connection() const { return *conn_; }
    // It was open before this lease (an earlier caller used it).
    bool reused() const { return reused_; }
    // Its state is unknown (the session was lost, a lock could not be
    // released): closed instead of given back.
    void Discard() { discard_ = true; }

   private:
    friend class ConnectionPool;
    ConnectionPool* pool_ = nullptr;
    std::string key_;
    std::unique_ptr<pqxx::connection> conn_;
    bool reused_ = false;
    bool discard_ = false;
  };

  // A connection for `key` (the complete connection string): an idle one
  // when there is one, else one made by `open` within the budget, with
  // `setup` (SQL statements, no transaction control; may be empty) run on
  // it — on an idle one after the reset, in one round trip. An idle one
  // that fails them (the server closed it meanwhile) is replaced by a new
  // one, once. `open` runs without the pool's lock; its error is returned
  // as it is. Waits for a free place until `deadline`, then
  // DEADLINE_EXCEEDED; CANCELLED as soon as `*cancelled` becomes true.
  [[nodiscard]] absl::StatusOr<Lease> Acquire(const std::string& key, const Opener& open,
                                              absl::Time deadline,
                                              const std::atomic<bool>* cancelled = nullptr,
                                              const std::string& setup = "")
      ABSL_LOCKS_EXCLUDED(mu_);

  ConnectionPoolStats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  const ConnectionPoolOptions& options() const { return options_; }

 private:
  struct Idle {
    std::string key;
    std::unique_ptr<pqxx::connection> conn;
    absl::Time since;
  };

  // Takes an idle connection of `key`, or a place for a new one (*lease
  // empty), waiting as Acquire says.
  absl::Status Reserve(const std::string& key, absl::Time deadline,
                       const std::atomic<bool>* cancelled, Lease* lease) ABSL_LOCKS_EXCLUDED(mu_);
  void Return(std::string key, std::unique_ptr<pqxx::connection> conn, bool discard)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets one open connection (closed by the caller, outside the lock).
  void Forget() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The reaper thread: closes connections idle longer than idle_timeout.
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);

  const ConnectionPoolOptions options_;
  mutable absl::Mutex mu_;
  // Most recently returned first; evictions and the reaper take from the back.
  std::list<Idle> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased + being opened
  ConnectionPoolStats stats_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar cv_;         // a connection was returned or closed
  absl::CondVar reaper_cv_;  // the pool is going
  std::thread reaper_;
};

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_CONNECTION_POOL_H_
