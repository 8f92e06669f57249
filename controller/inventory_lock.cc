#include "controller/inventory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace fleet::controller {

absl::StatusOr<std::unique_ptr<InventoryLock>> InventoryLock::Acquire(
    const std::string& inventory_path, const std::string& program) {
  std::string path = absl::StrCat(inventory_path, ".lock");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create the inventory lock ", path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder;
    char buf[512];
    ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    if (n > 0) holder.assign(buf, static_cast<size_t>(n));
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return absl::UnavailableError(
          absl::StrCat("cannot lock the inventory lock ", path, ": ", std::strerror(err)));
    }
    holder = std::string(absl::StripAsciiWhitespace(holder));
    return absl::FailedPreconditionError(absl::StrCat(
        "inventory ", inventory_path, " is in use by ",
        holder.empty() ? std::string("another process") : holder, " (lock ", path,
        "); one controller per inventory: stop that one first"));
  }
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "?");
  std::string who = absl::StrCat(program, " pid ", ::getpid(), " on host ", host, " since ",
                                 absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                                                  absl::UTCTimeZone()),
                                 "\n");
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, who.data(), who.size(), 0) != static_cast<ssize_t>(who.size())) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot write the inventory lock ", path, ": ", std::strerror(err)));
  }
  return std::unique_ptr<InventoryLock>(new InventoryLock(std::move(path), fd));
}

InventoryLock::~InventoryLock() {
  // Emptied, so that a reader never names a process that is gone; the lock
  // itself goes with the descriptor.
  if (::ftruncate(fd_, 0) != 0) {
    // Nothing to do: the stale text is only read while the lock is held.
  }
  ::close(fd_);
}

}  // namespace fleet::controller
