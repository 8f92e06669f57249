// Interrupt: lets another thread (main's signal thread on Ctrl-C) stop the
// command that is running. The running command registers what "stop" means
// for it (Migrator::Cancel); a trigger before registration is remembered.
// All methods are thread-safe.
#ifndef FLEET_CLI_INTERRUPT_H_
#define FLEET_CLI_INTERRUPT_H_

#include <functional>
#include <mutex>

namespace fleet::cli {

class Interrupt {
 public:
  Interrupt() = default;
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  // Calls the registered handler (once per trigger), or remembers the trigger.
  void Trigger() {
    std::function<void()> handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      triggered_ = true;
      handler = handler_;
    }
    if (handler) handler();
  }

  // Registers `handler`; runs it at once if a trigger came first.
  void SetHandler(std::function<void()> handler) {
    bool run;
    {
      std::lock_guard<std::mutex> lock(mu_);
      handler_ = handler;
      run = triggered_;
    }
    if (run && handler) handler();
  }

  void ClearHandler() {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = nullptr;
  }

  bool triggered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return triggered_;
  }

 private:
  mutable std::mutex mu_;
  bool triggered_ = false;            // GUARDED_BY(mu_)
  std::function<void()> handler_;     // GUARDED_BY(mu_)
};

}  // namespace fleet::cli

#endif  // FLEET_CLI_INTERRUPT_H_
