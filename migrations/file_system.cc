#include "migrations/file_system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace fleet::migrations {
namespace {

namespace fs = std::filesystem;

class PosixFileSystem final : public FileSystem {
 public:
  absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& dir) const override {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
    }
    std::vector<std::string> names;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) names.push_back(it->path().filename().string());
    }
    if (ec) return absl::InternalError(absl::StrCat(dir, ": ", ec.message()));
    return names;
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path) const override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
      return absl::PermissionDeniedError(absl::StrCat(path, ": ", std::strerror(errno)));
    }
    // Sized once from fstat, then read until that size (a file that grows
    // meanwhile is read as it was): no extra read() to meet the end, which
    // counts when a history of thousands of files is loaded.
    struct stat st;
    std::string out;
    size_t expected = 0;
    if (::fstat(fd, &st) == 0 && st.st_size > 0 && S_ISREG(st.st_mode)) {
      expected = static_cast<size_t>(st.st_size);
      out.reserve(expected);
    }
    char buf[65536];
    while (expected == 0 || out.size() < expected) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return absl::InternalError(absl::StrCat(path, ": read failed: ", why));
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  absl::Status WriteNewFile(const std::string& path, const std::string& contents) override {
    // Write to a temporary name, then link it into place: link() fails when
    // the target exists, so nothing is overwritten and no half file appears.
    std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return absl::InternalError(absl::StrCat(tmp, ": ", std::strerror(errno)));
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return absl::InternalError(absl::StrCat(tmp, ": ", std::strerror(err)));
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      ::unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat(tmp, ": ", std::strerror(errno)));
    }
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      if (err == EEXIST) return absl::AlreadyExistsError(absl::StrCat(path, ": already exists"));
      return absl::InternalError(absl::StrCat(path, ": ", std::strerror(err)));
    }
    ::unlink(tmp.c_str());
    return absl::OkStatus();
  }

  absl::Status CreateDirectories(const std::string& dir) override {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return absl::InternalError(absl::StrCat(dir, ": ", ec.message()));
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> MakeTempDirectory(const std::string& parent,
                                                const std::string& prefix) override {
    std::string pattern = JoinPath(parent, prefix + "XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat(pattern, ": ", std::strerror(errno)));
    }
    return pattern;
  }

  absl::Status RenameDirectory(const std::string& from, const std::string& to) override {
    // RENAME_NOREPLACE: an existing `to`, even an empty one, is never replaced.
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
      return absl::OkStatus();
    }
    int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) {
      return absl::AlreadyExistsError(absl::StrCat(to, ": already exists"));
    }
    return absl::InternalError(absl::StrCat(from, " -> ", to, ": ", std::strerror(err)));
  }

  absl::Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) return absl::InternalError(absl::StrCat(path, ": ", ec.message()));
    return absl::OkStatus();
  }

  bool Exists(const std::string& path) const override {
    std::error_code ec;
    return fs::exists(path, ec);
  }

  bool IsDirectory(const std::string& path) const override {
    std::error_code ec;
    return fs::is_directory(path, ec);
  }
};

}  // namespace

FileSystem& DefaultFileSystem() {
  static PosixFileSystem* const kFileSystem = new PosixFileSystem();
  return *kFileSystem;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

}  // namespace fleet::migrations
