// Reading the TOML files every process is configured with (agent.toml,
// auth.toml, fleet.toml, a rollout spec): a syntax error becomes one status
// that names the file and line. Header-only (toml++).
#ifndef FLEET_PROTO_CONFIG_FILE_H_
#define FLEET_PROTO_CONFIG_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "toml++/toml.h"

namespace fleet::proto {

// `text` parsed as TOML; on a syntax error INVALID_ARGUMENT "path:line: why".
inline absl::StatusOr<toml::table> ParseToml(const std::string& text, const std::string& path) {
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.source().begin.line, ": ", std::string(e.description())));
  }
}

}  // namespace fleet::proto

#endif  // FLEET_PROTO_CONFIG_FILE_H_
