// Checks of fleetctl's flag values shared by its verbs. Pure functions.
#ifndef FLEET_CLI_FLAGS_H_
#define FLEET_CLI_FLAGS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fleet::cli {

// A duration flag: seconds as a number ("30", "0.5") or text such as
// "30s", "500ms", "2m". Finite, not negative, at most `max`: "inf", "nan",
// "-1s" and "1e300" are INVALID_ARGUMENT naming `name`.
[[nodiscard]] absl::StatusOr<absl::Duration> ParseDurationFlag(
    absl::string_view name, absl::string_view text, absl::Duration max = absl::Hours(24 * 365));

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLAGS_H_
