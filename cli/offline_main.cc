// fleetctl: the verbs that need no server, in a program that loads neither
// libpq nor gRPC (cli/online.h says why). Every command line it cannot run
// itself goes, unchanged, to fleetctl-online: found beside this program (a
// build tree) or where `cmake --install` puts it (FLEETCTL_ONLINE_RELATIVE,
// relative to this program's directory).
#include <limits.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/fleetctl.h"
#include "cli/online.h"

#ifndef FLEETCTL_ONLINE_RELATIVE
#define FLEETCTL_ONLINE_RELATIVE "../libexec/fleet/fleetctl-online"
#endif

namespace fleet::cli {
namespace {

// Replaces this process with fleetctl-online and the same arguments; returns
// only when that could not be done, saying why.
absl::Status ExecOnline(Context& ctx) {
  ctx.out.flush();
  ctx.err.flush();
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    return absl::InternalError(
        absl::StrCat("cannot find this program (/proc/self/exe): ", std::strerror(errno)));
  }
  std::string dir(self, static_cast<size_t>(n));
  dir.erase(dir.rfind('/') + 1);
  std::vector<std::string> candidates = {dir + "fleetctl-online", dir + FLEETCTL_ONLINE_RELATIVE};
  for (const std::string& path : candidates) {
    if (access(path.c_str(), X_OK) != 0) continue;
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (int i = 1; i < ctx.argc; ++i) argv.push_back(const_cast<char*>(ctx.argv[i]));
    argv.push_back(nullptr);
    execv(path.c_str(), argv.data());
    return absl::InternalError(absl::StrCat("cannot run ", path, ": ", std::strerror(errno)));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "this command needs fleetctl-online (fleetctl with its database and fleet-controller "
      "verbs), which is neither at ",
      candidates[0], " nor at ", candidates[1], "; reinstall fleet"));
}

}  // namespace

std::optional<int> HandOver(Context& ctx) { return Fail(ctx, ExecOnline(ctx)); }

int RunMigrate(Context& ctx, migrations::Direction) { return *HandOver(ctx); }
int RunStampDatabase(Context& ctx) { return *HandOver(ctx); }
int RunCurrent(Context& ctx) { return *HandOver(ctx); }
int RunCheckDatabase(Context& ctx) { return *HandOver(ctx); }
int RunValidate(Context& ctx) { return *HandOver(ctx); }
int RunTest(Context& ctx) { return *HandOver(ctx); }
std::optional<std::vector<std::string>> DatabaseHeads(Context& ctx,
                                                      const migrations::RevisionGraph&, int* code) {
  *code = *HandOver(ctx);
  return std::nullopt;
}
absl::StatusOr<migrations::RevisionDiffs> Autogenerate(Context& ctx) { return ExecOnline(ctx); }

// Only fleetctl-online has them: a command line naming one is handed over.
std::vector<Command> FleetVerbs() { return {}; }
std::vector<Command> RolloutVerbs() { return {}; }
std::vector<Command> CompletionVerbs() { return {}; }

namespace {

// The heap in 2 MiB pages where the kernel offers them for the asking
// (transparent huge pages in "madvise" mode, Debian's default; elsewhere the
// advice changes nothing). Reading a history of 2,400 revisions touches about
// 5 MB of new heap, and on a VM a 4 KiB page fault costs about 12 us: 1,100
// of them were a fifth of `fleetctl heads`. The heap is grown 32 MiB ahead
// (address space; only what is touched is memory) and advised; the loading
// threads share it rather than each growing an arena of its own, and blocks
// up to 16 MiB (the array of loaded scripts) come from it rather than from
// mappings of their own. fleetctl-online is not tuned: this is for the
// commands that start, read a history and end.
void UseLargePagesForTheHeap() {
#if defined(__GLIBC__)
  constexpr uintptr_t kPad = uintptr_t{32} << 20, kLarge = uintptr_t{2} << 20;
  const uintptr_t before = reinterpret_cast<uintptr_t>(sbrk(0));
  if (mallopt(M_ARENA_MAX, 1) != 1 || mallopt(M_TOP_PAD, static_cast<int>(kPad)) != 1 ||
      mallopt(M_MMAP_THRESHOLD, 16 << 20) != 1) {
    return;
  }
  // More than the heap has left: it grows, by this and the pad, and keeps
  // the pad when it is freed. (volatile: a malloc the compiler sees unused
  // may be left out.)
  void* volatile grow = malloc(512 << 10);
  free(grow);
  const uintptr_t end = reinterpret_cast<uintptr_t>(sbrk(0)) & ~(kLarge - 1);
  const uintptr_t begin = (before + kLarge - 1) & ~(kLarge - 1);
  if (before == static_cast<uintptr_t>(-1) || end <= begin) return;  // not a brk heap
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

}  // namespace
}  // namespace fleet::cli

int main(int argc, char** argv) {
  fleet::cli::UseLargePagesForTheHeap();
  return fleet::cli::RunFleetctl(argc, argv, std::cout, std::cerr,
                                 fleet::migrations::DefaultFileSystem());
}
