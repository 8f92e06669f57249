// Clock: the controller's only source of time and of waiting. The runner's
// bakes, retry backoffs and tenant deadlines and the poller's interval all
// go through it, so tests run them on a fake clock that moves only when
// told (tests/testing/fake_clock.h) and interleavings become deterministic.
//
// Threads: implementations are safe to call from any thread.
#ifndef FLEET_CONTROLLER_CLOCK_H_
#define FLEET_CONTROLLER_CLOCK_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fleet::controller {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Blocks until Now() reaches `deadline` or `stop()` holds. `stop` is
  // checked on entry and after every Wake(). True when the deadline came,
  // false when `stop` ended the wait.
  virtual bool SleepUntil(absl::Time deadline, const std::function<bool()>& stop) = 0;
  // Makes every SleepUntil check its `stop` again.
  virtual void Wake() = 0;

  // RFC 3339 UTC to the second, as the inventory stores times.
  std::string NowText() { return Format(Now()); }
  static std::string Format(absl::Time t) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
  }
};

// The wall clock.
class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  bool SleepUntil(absl::Time deadline, const std::function<bool()>& stop) override {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (stop()) return false;
      if (absl::Now() >= deadline) return true;
      // Wake() notifies; the timeout covers the deadline itself.
      cv_.wait_until(lock, absl::ToChronoTime(deadline));
    }
  }
  void Wake() override {
    { std::lock_guard<std::mutex> lock(mu_); }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_CLOCK_H_
