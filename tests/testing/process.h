// Process: a real child process (fleetctl, fleet-agent, fleet-controller)
// with its stdout and stderr captured in files; killed when destroyed.
#ifndef FLEET_TESTS_TESTING_PROCESS_H_
#define FLEET_TESTS_TESTING_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace fleet::testing {

class Process {
 public:
  // args[0] is the program's path; `env` ("NAME=value") is added to this
  // process's environment for the child.
  explicit Process(std::vector<std::string> args, std::vector<std::string> env = {})
      : args_(std::move(args)), env_(std::move(env)) {
    Start();
  }
  ~Process() { Kill(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  void Start() {
    out_path_ = dir_.path() + "/out";
    err_path_ = dir_.path() + "/err";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> argv;
    for (std::string& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string name(*e, strcspn(*e, "="));
      bool overridden = false;
      for (const std::string& x : env_) overridden |= x.compare(0, name.size() + 1, name + "=") == 0;
      if (!overridden) envp.push_back(*e);
    }
    for (std::string& x : env_) envp.push_back(x.data());
    envp.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, args_[0].c_str(), &actions, nullptr, argv.data(), envp.data()),
              0);
    posix_spawn_file_actions_destroy(&actions);
    waited_ = false;
  }
  // The exit code, or 128 + signal.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    waited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // The exit code (or 128 + signal) once the process ends within `timeout`;
  // -1 when it is still running then.
  int WaitExit(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    do {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        waited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < until);
    return -1;
  }
  void Signal(int sig) { kill(pid_, sig); }
  pid_t pid() const { return pid_; }
  void Kill() {
    if (pid_ > 0 && !waited_) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }
  std::string Out() const { return Read(out_path_); }
  std::string Err() const { return Read(err_path_); }

 private:
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::vector<std::string> args_;
  std::vector<std::string> env_;
  TempDir dir_;
  std::string out_path_, err_path_;
  pid_t pid_ = -1;
  bool waited_ = true;
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_PROCESS_H_
