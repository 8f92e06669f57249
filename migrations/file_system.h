// FileSystem: the engine's only door to the disk.
//
// Everything in migrations/ that reads or writes files goes through this
// interface so tests can use an in-memory fake and inject faults. The default
// implementation is stateless and safe to use from any number of threads.
#ifndef FLEET_MIGRATIONS_FILE_SYSTEM_H_
#define FLEET_MIGRATIONS_FILE_SYSTEM_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fleet::migrations {

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Names (not paths) of the regular files directly inside `dir`, in no
  // particular order. NOT_FOUND when `dir` does not exist.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> ListFiles(
      const std::string& dir) const = 0;

  // The whole content of `path`. NOT_FOUND when it does not exist.
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadFile(const std::string& path) const = 0;

  // Creates `path` with `contents`; ALREADY_EXISTS when a file is there
  // already (nothing is overwritten). The file appears whole or not at all.
  [[nodiscard]] virtual absl::Status WriteNewFile(const std::string& path,
                                                  const std::string& contents) = 0;

  // Creates `dir` and its missing parents; OK when it already exists.
  [[nodiscard]] virtual absl::Status CreateDirectories(const std::string& dir) = 0;

  // A new, empty directory inside `parent` (which must exist), named
  // `prefix` plus a unique suffix, that nobody else writes to; its path.
  [[nodiscard]] virtual absl::StatusOr<std::string> MakeTempDirectory(
      const std::string& parent, const std::string& prefix) = 0;

  // Renames directory `from` to `to` in one step: readers see the old
  // name or the new one, never a half-filled `to`. ALREADY_EXISTS, leaving
  // both as they were, when `to` exists.
  [[nodiscard]] virtual absl::Status RenameDirectory(const std::string& from,
                                                     const std::string& to) = 0;

  // Removes `path` and everything below it; OK when it does not exist.
  [[nodiscard]] virtual absl::Status RemoveAll(const std::string& path) = 0;

  virtual bool Exists(const std::string& path) const = 0;
  virtual bool IsDirectory(const std::string& path) const = 0;
};

// The real disk. Never null; lives for the whole program; thread-safe.
FileSystem& DefaultFileSystem();

// `dir` + "/" + `name`, without doubling the separator.
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_FILE_SYSTEM_H_
