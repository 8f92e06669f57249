#include "migrations/connection_pool.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace fleet::migrations {

ConnectionPool::Lease& ConnectionPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (pool_ != nullptr && conn_) pool_->Return(std::move(key_), std::move(conn_), discard_);
    pool_ = std::exchange(other.pool_, nullptr);
    key_ = std::move(other.key_);
    conn_ = std::move(other.conn_);
    reused_ = other.reused_;
    discard_ = other.discard_;
  }
  return *this;
}

ConnectionPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_) pool_->Return(std::move(key_), std::move(conn_), discard_);
}

ConnectionPool::ConnectionPool(ConnectionPoolOptions options) : options_(options) {
  reaper_ = std::thread([this] { Reap(); });
}

ConnectionPool::~ConnectionPool() {
  std::list<Idle> idle;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    idle.swap(idle_);
    reaper_cv_.Signal();
  }
  reaper_.join();
  // `idle` closes its connections here, outside the lock.
}

namespace {

// What DISCARD ALL resets, in statements a multi-statement query may hold
// (DISCARD ALL itself may not), so the reset and the next holder's set-up
// travel together.
constexpr char kReset[] =
    "SET SESSION AUTHORIZATION DEFAULT; RESET ALL; CLOSE ALL; UNLISTEN *; "
    "SELECT pg_advisory_unlock_all(); DEALLOCATE ALL; DISCARD TEMP; DISCARD SEQUENCES; ";

// Runs `sql` on `conn`; false when it fails (the connection is suspect).
bool RunSetup(pqxx::connection& conn, const std::string& sql) {
  if (sql.empty()) return true;
  try {
    pqxx::nontransaction tx(conn);
    tx.exec(sql);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

absl::Status ConnectionPool::Reserve(const std::string& key, absl::Time deadline,
                                     const std::atomic<bool>* cancelled, Lease* lease) {
  std::unique_ptr<pqxx::connection> evicted;
  {
    absl::MutexLock lock(&mu_);
    for (;;) {
      if (cancelled != nullptr && cancelled->load()) return absl::CancelledError("cancelled");
      auto same = std::find_if(idle_.begin(), idle_.end(),
                               [&](const Idle& i) { return i.key == key; });
      if (same != idle_.end()) {
        lease->pool_ = this;
        lease->key_ = key;
        lease->conn_ = std::move(same->conn);
        lease->reused_ = true;
        idle_.erase(same);
        ++stats_.reused;
        return absl::OkStatus();
      }
      if (open_ < options_.max_connections) {
        ++open_;
        stats_.peak_open = std::max(stats_.peak_open, open_);
        break;
      }
      if (!idle_.empty()) {
        // The budget is full of other databases' idle sessions: the one
        // idle longest makes room (its place passes to the new one).
        evicted = std::move(idle_.back().conn);
        idle_.pop_back();
        ++stats_.closed;
        break;
      }
      absl::Time now = absl::Now();
      if (now >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "all ", options_.max_connections,
            " database connections of this process are in use (max_connections)"));
      }
      // Woken by a returned or closed connection; a cancel is seen within
      // the slice.
      cv_.WaitWithDeadline(&mu_, std::min(deadline, now + absl::Milliseconds(50)));
    }
  }
  evicted.reset();  // closed outside the lock
  return absl::OkStatus();
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(const std::string& key,
                                                              const Opener& open,
                                                              absl::Time deadline,
                                                              const std::atomic<bool>* cancelled,
                                                              const std::string& setup) {
  Lease lease;
  if (absl::Status s = Reserve(key, deadline, cancelled, &lease); !s.ok()) return s;
  if (lease.conn_) {
    if (RunSetup(*lease.conn_, kReset + setup)) return lease;
    // The server closed it while it was idle (a restart, an idle timeout):
    // a new one in its place.
    lease.conn_.reset();
    lease.pool_ = nullptr;
    absl::MutexLock lock(&mu_);
    ++stats_.closed;  // its place stays counted in open_ for the new one
  }
  absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = open();
  if (conn.ok() && *conn != nullptr && !RunSetup(**conn, setup)) {
    conn = absl::UnavailableError("a new database connection failed its set-up statements");
  }
  absl::MutexLock lock(&mu_);
  if (!conn.ok() || *conn == nullptr) {
    --open_;
    cv_.SignalAll();
    if (!conn.ok()) return conn.status();
    return absl::InternalError("the connection opener returned nothing");
  }
  ++stats_.opened;
  lease.pool_ = this;
  lease.key_ = key;
  lease.conn_ = *std::move(conn);
  lease.reused_ = false;
  return lease;
}

void ConnectionPool::Return(std::string key, std::unique_ptr<pqxx::connection> conn,
                            bool discard) {
  {
    absl::MutexLock lock(&mu_);
    if (!discard && !stop_ && conn->is_open()) {
      idle_.push_front(Idle{std::move(key), std::move(conn), absl::Now()});
      cv_.SignalAll();
      return;
    }
    Forget();
  }
  conn.reset();  // closed outside the lock
}

void ConnectionPool::Forget() {
  --open_;
  ++stats_.closed;
  cv_.SignalAll();
}

void ConnectionPool::Reap() {
  for (;;) {
    std::vector<std::unique_ptr<pqxx::connection>> expired;
    {
      absl::MutexLock lock(&mu_);
      // Wake when the oldest idle connection expires (or a while from now:
      // one returned meanwhile expires later than that).
      absl::Time wake = absl::Now() + options_.idle_timeout;
      if (!idle_.empty()) wake = idle_.back().since + options_.idle_timeout;
      if (stop_) return;
      reaper_cv_.WaitWithDeadline(&mu_, std::max(wake, absl::Now() + absl::Milliseconds(10)));
      if (stop_) return;
      const absl::Time cutoff = absl::Now() - options_.idle_timeout;
      while (!idle_.empty() && idle_.back().since <= cutoff) {
        expired.push_back(std::move(idle_.back().conn));
        idle_.pop_back();
        Forget();
      }
    }
    // `expired` closes its connections here, outside the lock.
  }
}

ConnectionPoolStats ConnectionPool::stats() const {
  absl::MutexLock lock(&mu_);
  ConnectionPoolStats s = stats_;
  s.open = open_;
  s.idle = static_cast<int>(idle_.size());
  return s;
}

}  // namespace fleet::migrations
