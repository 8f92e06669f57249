// FakeClock: a controller Clock that moves only when a test says so. A
// sleeper wakes when Advance() passes its deadline or Wake() is called;
// WaitForSleep() lets a test know that the code under test is waiting,
// so "abort during a bake" is a sequence of steps, not a race.
#ifndef FLEET_TESTS_TESTING_FAKE_CLOCK_H_
#define FLEET_TESTS_TESTING_FAKE_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "absl/time/time.h"
#include "controller/clock.h"

namespace fleet::testing {

class FakeClock final : public controller::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1800000000)) : now_(start) {}

  absl::Time Now() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }

  bool SleepUntil(absl::Time deadline, const std::function<bool()>& stop) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++sleepers_;
    ++sleeps_;
    changed_.notify_all();
    bool came = false;
    for (;;) {
      if (stop()) break;
      if (now_ >= deadline) {
        came = true;
        break;
      }
      changed_.wait(lock);
    }
    --sleepers_;
    changed_.notify_all();
    return came;
  }

  void Wake() override {
    std::lock_guard<std::mutex> lock(mu_);
    changed_.notify_all();
  }

  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
    changed_.notify_all();
  }

  // Waits (in real time, up to `timeout`) until the `n`-th sleep on this
  // clock has begun (counting from 1) and a thread is asleep; true when so.
  // With one sleeping thread at a time, that thread is in its n-th sleep.
  bool WaitForSleep(int n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return sleeps_ >= n && sleepers_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  absl::Time now_;   // GUARDED_BY(mu_)
  int sleepers_ = 0;  // GUARDED_BY(mu_): asleep now
  int sleeps_ = 0;     // GUARDED_BY(mu_): sleeps begun, ever
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_FAKE_CLOCK_H_
