// FakeClock: a controller Clock that moves only when a test says so. A
// sleeper wakes when Advance() passes its deadline or Wake() is called;
// WaitForSleep() lets a test know that the code under test is waiting,
// so "abort during a bake" is a sequence of steps, not a race.
#ifndef FLEET_TESTS_TESTING_FAKE_CLOCK_H_
#define FLEET_TESTS_TESTING_FAKE_CLOCK_H_

#include <chrono>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/clock.h"

namespace fleet::testing {

class FakeClock final : public controller::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1800000000)) : now_(start) {}

  absl::Time Now() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  bool SleepUntil(absl::Time deadline, const std::function<bool()>& stop) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++sleepers_;
    ++sleeps_;
    changed_.SignalAll();
    bool came = false;
    for (;;) {
      if (stop()) break;
      if (now_ >= deadline) {
        came = true;
        break;
      }
      changed_.Wait(&mu_);
    }
    --sleepers_;
    changed_.SignalAll();
    return came;
  }

  void Wake() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    changed_.SignalAll();
  }

  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    now_ += d;
    changed_.SignalAll();
  }

  // Waits (in real time, up to `timeout`) until the `n`-th sleep on this
  // clock has begun (counting from 1) and a thread is asleep; true when so.
  // With one sleeping thread at a time, that thread is in its n-th sleep.
  bool WaitForSleep(int n, std::chrono::milliseconds timeout = std::chrono::seconds(10))
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    const absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
    while (!(sleeps_ >= n && sleepers_ > 0)) {
      if (changed_.WaitWithDeadline(&mu_, deadline)) return sleeps_ >= n && sleepers_ > 0;
    }
    return true;
  }

 private:
  absl::Mutex mu_;
  absl::CondVar changed_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;  // asleep now
  int sleeps_ ABSL_GUARDED_BY(mu_) = 0;    // sleeps begun, ever
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_FAKE_CLOCK_H_
