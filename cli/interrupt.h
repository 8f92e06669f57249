// Interrupt: lets another thread (main's signal thread on Ctrl-C) stop the
// command that is running. The running command registers what "stop" means
// for it (Migrator::Cancel); a trigger before registration is remembered.
// All methods are thread-safe; handlers run without the lock held.
#ifndef FLEET_CLI_INTERRUPT_H_
#define FLEET_CLI_INTERRUPT_H_

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace fleet::cli {

class Interrupt {
 public:
  Interrupt() = default;
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  // Calls the registered handler (once per trigger), or remembers the trigger.
  void Trigger() ABSL_LOCKS_EXCLUDED(mu_) {
    std::function<void()> handler;
    {
      absl::MutexLock lock(&mu_);
      triggered_ = true;
      handler = handler_;
    }
    if (handler) handler();
  }

  // Registers `handler`; runs it at once if a trigger came first.
  void SetHandler(std::function<void()> handler) ABSL_LOCKS_EXCLUDED(mu_) {
    bool run;
    {
      absl::MutexLock lock(&mu_);
      handler_ = handler;
      run = triggered_;
    }
    if (run && handler) handler();
  }

  void ClearHandler() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    handler_ = nullptr;
  }

  bool triggered() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return triggered_;
  }

 private:
  mutable absl::Mutex mu_;
  bool triggered_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> handler_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::cli

#endif  // FLEET_CLI_INTERRUPT_H_
