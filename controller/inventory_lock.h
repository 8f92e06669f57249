// InventoryLock: one controller per inventory. The controller holds an
// exclusive lock on "<inventory>.lock" (flock) for its whole life, with its
// pid, host and start time written inside; a second controller started on
// the same inventory is refused with the holder's pid and host. The kernel
// drops the lock when the process ends, however it ends (kill -9 too).
//
// Threads: a value type; the lock belongs to the process.
#ifndef FLEET_CONTROLLER_INVENTORY_LOCK_H_
#define FLEET_CONTROLLER_INVENTORY_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace fleet::controller {

class InventoryLock {
 public:
  // Takes the lock of the inventory at `inventory_path`. FAILED_PRECONDITION
  // naming the holder ("fleet-controller pid 4242 on host db-1 since ...")
  // when another process has it; UNAVAILABLE when the lock file cannot be
  // created. `program` is written into the file for the next one to read.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<InventoryLock>> Acquire(
      const std::string& inventory_path, const std::string& program);
  ~InventoryLock();
  InventoryLock(const InventoryLock&) = delete;
  InventoryLock& operator=(const InventoryLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  InventoryLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_INVENTORY_LOCK_H_
