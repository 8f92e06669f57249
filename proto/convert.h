// Conversions between the engine's types and the wire messages, shared by
// the agent, the controller and fleetctl. Header-only; pure functions.
#ifndef FLEET_PROTO_CONVERT_H_
#define FLEET_PROTO_CONVERT_H_

#include <grpcpp/support/status.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fleet/v1/common.pb.h"
#include "migrations/bundle.h"

namespace fleet::proto {

// absl and gRPC share their status codes, number for number.
inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
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

}  // namespace fleet::proto

#endif  // FLEET_PROTO_CONVERT_H_
