// Leadership of a PostgreSQL inventory shared by several controllers (issue
// 20). The leader holds a session advisory lock on a connection of its own;
// the others stand by, trying for it. The lock's session is kept busy (a
// ping each second) and told to end when it idles longer than
// `session_timeout`, and the server's TCP keepalives end it when the
// network does: so a leader killed, stopped (SIGSTOP) or cut off loses the
// lock within about `session_timeout`, and a standby takes it.
//
// Each takeover adds one to the inventory's leader epoch (the `leader` row);
// the inventory refuses every write whose controller holds an older epoch
// (SqlInventory fencing, OpenPostgresInventory), so a deposed leader that
// wakes up cannot change anything.
//
// Threads: one at a time (one connection).
#ifndef FLEET_CONTROLLER_LEADERSHIP_H_
#define FLEET_CONTROLLER_LEADERSHIP_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fleet::controller {

class Leadership {
 public:
  struct Options {
    std::string conninfo;  // the inventory's
    std::string address;   // where this controller serves, recorded when it leads
    absl::Duration session_timeout = absl::Seconds(10);
    absl::Duration retry = absl::Milliseconds(500);  // a standby tries this often
  };
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Leadership>> Open(Options options);
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  // Blocks until this controller leads, then returns the new epoch;
  // CANCELLED when `stop` turns true first. `standing_by` is called once
  // with the leader's address while waiting.
  [[nodiscard]] absl::StatusOr<int64_t> WaitToLead(
      const std::atomic<bool>& stop, const std::function<void(const std::string&)>& standing_by);
  // Records where the leader of `epoch` serves, once its port is known
  // (--listen with port 0); nothing when another epoch leads by then.
  [[nodiscard]] absl::Status Advertise(const std::string& address, int64_t epoch);
  // Pings the lock's session; false once it is gone (the lock with it).
  bool Leading();
  // The address the current leader recorded ("" before any).
  std::string LeaderAddress();

 private:
  struct Conn;
  explicit Leadership(Options options);
  absl::Status Connect();

  Options options_;
  std::unique_ptr<Conn> conn_;
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_LEADERSHIP_H_
