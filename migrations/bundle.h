// Bundles: the set of scripts a rollout ships, identified by a digest that
// covers every script's checksum: SHA-256 over, in file name order, each
// file's "filename\nchecksum\n". Agents and the controller exchange bundles;
// both check checksums and digest before trusting one.
//
// Pure functions plus directory helpers through FileSystem; thread-safe.
#ifndef FLEET_MIGRATIONS_BUNDLE_H_
#define FLEET_MIGRATIONS_BUNDLE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "migrations/file_system.h"
#include "migrations/revision_graph.h"

namespace fleet::migrations {

struct BundleFile {
  std::string filename;  // no directories
  std::string content;
  std::string checksum;  // SHA-256 of content, hex
};

constexpr size_t kMaxBundleFiles = 100000;
constexpr size_t kMaxScriptBytes = 4 << 20;

// The digest of files (any order; sorted by name here).
std::string BundleDigest(const std::vector<BundleFile>& files);

// Checks every file name, size, checksum and the digest; the files are then
// sorted by name. INVALID_ARGUMENT naming the file or the digests.
[[nodiscard]] absl::Status CheckBundle(const std::string& digest, std::vector<BundleFile>& files);

// The `.sql` files of a versions directory as a bundle (checksums filled in).
[[nodiscard]] absl::StatusOr<std::vector<BundleFile>> ReadBundleFiles(const FileSystem& fs,
                                                                      const std::string& dir);

// Parses the files and builds their graph; script paths read
// "bundle <digest[:12]>/<filename>" in messages.
[[nodiscard]] absl::StatusOr<std::unique_ptr<const RevisionGraph>> BundleGraph(
    const std::string& digest, const std::vector<BundleFile>& files);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_BUNDLE_H_
