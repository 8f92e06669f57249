// Clock: the controller's only source of time and of waiting. The runner's
// bakes, retry backoffs and tenant deadlines and the poller's interval all
// go through it, so tests run them on a fake clock that moves only when
// told (tests/testing/fake_clock.h) and interleavings become deterministic.
//
// Threads: implementations are safe to call from any thread.
#ifndef FLEET_CONTROLLER_CLOCK_H_
#define FLEET_CONTROLLER_CLOCK_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fleet::controller {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Blocks until Now() reaches `deadline` or `stop()` holds. `stop` is
  // checked on entry and after every Wake(), possibly with the clock's own
  // lock held: it must not call back into the clock. True when the deadline
  // came, false when `stop` ended the wait.
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
  bool SleepUntil(absl::Time deadline, const std::function<bool()>& stop) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    // `stop` is checked under mu_, so a Wake() after its condition became
    // true cannot slip in between the check and the wait.
    absl::MutexLock lock(&mu_);
    for (;;) {
      if (stop()) return false;
      if (absl::Now() >= deadline) return true;
      // Wake() signals; the deadline ends the wait by itself.
      cv_.WaitWithDeadline(&mu_, deadline);
    }
  }
  void Wake() override ABSL_LOCKS_EXCLUDED(mu_) {
    { absl::MutexLock lock(&mu_); }
    cv_.SignalAll();
  }

 private:
  // Guards no data: it pairs each sleeper's check of `stop` with Wake().
  absl::Mutex mu_;
  absl::CondVar cv_;
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_CLOCK_H_
