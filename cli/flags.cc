#include "cli/flags.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fleet::cli {

absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view name, absl::string_view text,
                                                 absl::Duration max) {
  absl::Duration d;
  double seconds;
  bool ok = false;
  if (absl::SimpleAtod(text, &seconds)) {
    // Checked before it becomes a duration: nan and inf never get that far.
    ok = std::isfinite(seconds) && seconds >= 0 &&
         seconds <= absl::ToDoubleSeconds(max);
    if (ok) d = absl::Seconds(seconds);
  } else {
    ok = absl::ParseDuration(text, &d) && d >= absl::ZeroDuration() && d <= max;
  }
  if (ok) return d;
  return absl::InvalidArgumentError(absl::StrCat(
      name, " takes a duration from 0 to ", absl::FormatDuration(max),
      " such as 30s, 500ms or 2m (or seconds), not '", text.substr(0, 64), "'"));
}

}  // namespace fleet::cli
