#include "cli/flags.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

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

absl::StatusOr<int64_t> ParseSizeFlag(absl::string_view name, absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  size_t digits = 0;
  while (digits < t.size() && absl::ascii_isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
  absl::string_view unit = absl::StripAsciiWhitespace(t.substr(digits));
  int shift = -1;
  if (unit.empty() || unit == "B") shift = 0;
  if (unit == "kB" || unit == "KB") shift = 10;
  if (unit == "MB") shift = 20;
  if (unit == "GB") shift = 30;
  if (unit == "TB") shift = 40;
  int64_t n = 0;
  if (digits == 0 || digits > 15 || shift < 0 || !absl::SimpleAtoi(t.substr(0, digits), &n) ||
      n > (INT64_MAX >> shift)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " takes a size: bytes, or a number with kB, MB, GB or TB (\"1GB\"), not \"", text,
        "\""));
  }
  return n << shift;
}

}  // namespace fleet::cli
