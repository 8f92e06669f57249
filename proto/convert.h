// Conversions between the engine's types and the wire messages, shared by
// the agent, the controller and fleetctl. Header-only; pure functions.
#ifndef FLEET_PROTO_CONVERT_H_
#define FLEET_PROTO_CONVERT_H_

#include <grpcpp/support/status.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fleet/v1/common.pb.h"
#include "migrations/bundle.h"
#include "migrations/lint.h"

namespace fleet::proto {

// The most of a status message sent on the wire. It travels in a trailer
// (grpc-message, percent-encoded), and a client refuses metadata over 8 KiB
// with an error of its own that hides the real one.
inline constexpr size_t kMaxWireMessage = 3000;

// absl and gRPC share their status codes, number for number. A message
// longer than kMaxWireMessage is cut (at a character boundary) and says so.
inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  std::string message(s.message());
  if (message.size() > kMaxWireMessage) {
    size_t cut = kMaxWireMessage;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
    const size_t rest = message.size() - cut;
    message.resize(cut);
    absl::StrAppend(&message, " ... (", rest, " more bytes cut)");
  }
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), message);
}

inline absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

inline std::vector<migrations::BundleFile> FilesFromProto(const fleet::v1::Bundle& b) {
  std::vector<migrations::BundleFile> files;
  files.reserve(b.files_size());
  for (const auto& f : b.files()) files.push_back({f.filename(), f.content(), f.checksum()});
  return files;
}

inline fleet::v1::Bundle BundleToProto(const std::string& digest,
                                       const std::vector<migrations::BundleFile>& files) {
  fleet::v1::Bundle b;
  b.set_digest(digest);
  for (const auto& f : files) {
    auto* out = b.add_files();
    out->set_filename(f.filename);
    out->set_content(f.content);
    out->set_checksum(f.checksum);
  }
  return b;
}

// The bundle as pieces of about `piece_bytes` each (a file is never
// split; one larger than that is a piece of its own), for a streamed push.
// Each piece carries the digest; an empty bundle is one empty piece.
inline std::vector<fleet::v1::Bundle> BundlePieces(const std::string& digest,
                                                   const std::vector<migrations::BundleFile>& files,
                                                   size_t piece_bytes = size_t{2} << 20) {
  std::vector<fleet::v1::Bundle> pieces(1);
  size_t bytes = 0;
  for (const auto& f : files) {
    const size_t size = f.content.size() + f.filename.size() + f.checksum.size();
    if (bytes > 0 && bytes + size > piece_bytes) {
      pieces.emplace_back();
      bytes = 0;
    }
    auto* out = pieces.back().add_files();
    out->set_filename(f.filename);
    out->set_content(f.content);
    out->set_checksum(f.checksum);
    bytes += size;
  }
  for (auto& p : pieces) p.set_digest(digest);
  return pieces;
}

inline fleet::v1::LintFinding LintFindingToProto(const migrations::LintFinding& f) {
  fleet::v1::LintFinding out;
  out.set_rule(f.rule->id);
  out.set_severity(std::string(migrations::LintSeverityName(f.severity)));
  out.set_revision(f.revision);
  out.set_file(f.path);
  out.set_line(f.line);
  out.set_statement(f.statement);
  out.set_table(f.table);
  out.set_detail(f.detail);
  out.set_why(f.rule->why);
  out.set_fix(f.rule->fix);
  out.set_ignored(f.ignored);
  out.set_ignore_reason(f.ignore_reason);
  return out;
}

// A size for people, as fleetctl and the controller's messages print it:
// "512 B", "8.0 KiB", "2.1 GiB".
inline std::string HumanBytes(int64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return absl::StrFormat("%.1f %s", v, units[u]);
}

}  // namespace fleet::proto

#endif  // FLEET_PROTO_CONVERT_H_
