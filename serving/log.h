// The one include for logging with spdlog (set up by InitLogging in
// serving.h). Debian's abseil has its own string_view type, which fmt does
// not know: it is taught here, so a status message can be logged as is.
//
//   spdlog::info("rollout={} tenant={} event=upgrade-failed error=\"{}\"", id, t, s.message());
//
// Events are one line each, key=value, with ids; never a connection string.
#ifndef FLEET_SERVING_LOG_H_
#define FLEET_SERVING_LOG_H_

#include <type_traits>
#include <string_view>

#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

#if !defined(ABSL_USES_STD_STRING_VIEW)
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view v, FormatContext& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(v.data(), v.size()), ctx);
  }
};
#endif

#endif  // FLEET_SERVING_LOG_H_
