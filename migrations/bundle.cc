#include "migrations/bundle.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "migrations/script.h"
#include "migrations/script_directory.h"
#include "migrations/status_macros.h"

namespace fleet::migrations {
namespace {

absl::Status CheckFilename(const std::string& name) {
  if (name.empty() || name.size() > 255 || name[0] == '.' ||
      name.find_first_of("/\\") != std::string::npos || !absl::EndsWith(name, ".sql")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bundle file name '", name.substr(0, 80),
        "' is not a plain <revision>_<slug>.sql name (no directories, at most 255 bytes)"));
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError("bundle file name holds a control character");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string BundleDigest(const std::vector<BundleFile>& files) {
  std::vector<const BundleFile*> sorted;
  for (const BundleFile& f : files) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(),
            [](const BundleFile* a, const BundleFile* b) { return a->filename < b->filename; });
  std::string text;
  for (const BundleFile* f : sorted) absl::StrAppend(&text, f->filename, "\n", f->checksum, "\n");
  return Sha256Hex(text);
}

absl::Status CheckBundle(const std::string& digest, std::vector<BundleFile>& files) {
  if (files.empty()) return absl::InvalidArgumentError("the bundle holds no scripts");
  if (files.size() > kMaxBundleFiles) {
    return absl::InvalidArgumentError(
        absl::StrCat("the bundle holds ", files.size(), " files; the limit is ", kMaxBundleFiles));
  }
  std::sort(files.begin(), files.end(),
            [](const BundleFile& a, const BundleFile& b) { return a.filename < b.filename; });
  for (size_t i = 0; i < files.size(); ++i) {
    const BundleFile& f = files[i];
    RETURN_IF_ERROR(CheckFilename(f.filename));
    if (i > 0 && files[i - 1].filename == f.filename) {
      return absl::InvalidArgumentError(absl::StrCat("bundle file ", f.filename, " appears twice"));
    }
    if (f.content.size() > kMaxScriptBytes) {
      return absl::InvalidArgumentError(absl::StrCat("bundle file ", f.filename, " is ",
                                                     f.content.size(), " bytes; the limit is ",
                                                     kMaxScriptBytes));
    }
    std::string actual = Sha256Hex(f.content);
    if (actual != f.checksum) {
      return absl::InvalidArgumentError(absl::StrCat("bundle file ", f.filename,
                                                     ": checksum mismatch (sent ", f.checksum.substr(0, 64),
                                                     ", content hashes to ", actual, ")"));
    }
  }
  std::string actual = BundleDigest(files);
  if (actual != digest) {
    return absl::InvalidArgumentError(absl::StrCat("bundle digest mismatch: sent ", digest.substr(0, 64),
                                                   ", the scripts hash to ", actual));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<BundleFile>> ReadBundleFiles(const FileSystem& fs,
                                                        const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<Script> scripts, LoadScripts(fs, dir));  // validates each
  std::vector<BundleFile> files;
  for (const Script& s : scripts) {
    ASSIGN_OR_RETURN(std::string content, fs.ReadFile(s.path));
    std::string name = s.path.substr(s.path.rfind('/') + 1);
    files.push_back({name, std::move(content), s.checksum});
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(dir, " holds no .sql scripts"));
  }
  return files;
}

absl::StatusOr<std::unique_ptr<const RevisionGraph>> BundleGraph(
    const std::string& digest, const std::vector<BundleFile>& files) {
  std::vector<Script> scripts;
  scripts.reserve(files.size());
  std::string prefix = absl::StrCat("bundle ", digest.substr(0, 12), "/");
  for (const BundleFile& f : files) {
    ASSIGN_OR_RETURN(Script s, ParseScript(absl::StrCat(prefix, f.filename), f.content));
    scripts.push_back(std::move(s));
  }
  std::sort(scripts.begin(), scripts.end(),
            [](const Script& a, const Script& b) { return a.path < b.path; });
  return RevisionGraph::Build(std::move(scripts));
}

}  // namespace fleet::migrations
