// WaitFor: how a test waits for something another thread or process does:
// a condition checked until it holds or a deadline passes. Never a sleep
// of a guessed length.
#ifndef FLEET_TESTS_TESTING_WAIT_H_
#define FLEET_TESTS_TESTING_WAIT_H_

#include <chrono>
#include <functional>
#include <thread>

namespace fleet::testing {

// Polls `condition` until it holds or `timeout` passes; true when it held.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return condition();
}

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_WAIT_H_
