// Checks of fleetctl's flag values shared by its verbs. Pure functions.
#ifndef FLEET_CLI_FLAGS_H_
#define FLEET_CLI_FLAGS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fleet::cli {

// A duration flag: seconds as a number ("30", "0.5") or text such as
// "30s", "500ms", "2m". Finite, not negative, at most `max`: "inf", "nan",
// "-1s" and "1e300" are INVALID_ARGUMENT naming `name`.
[[nodiscard]] absl::StatusOr<absl::Duration> ParseDurationFlag(
    absl::string_view name, absl::string_view text, absl::Duration max = absl::Hours(24 * 365));

// A size flag as PostgreSQL writes sizes: a number of bytes, or with a
// unit kB, MB, GB or TB (1024-based, as PostgreSQL's are): "1GB", "512MB".
// INVALID_ARGUMENT naming `name` otherwise.
[[nodiscard]] absl::StatusOr<int64_t> ParseSizeFlag(absl::string_view name, absl::string_view text);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLAGS_H_
