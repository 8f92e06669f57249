// Connection strings carry passwords. These helpers keep them out of every
// message: a redacted form for display, and a scrubber for error texts that
// might echo one back.
//
// Pure functions; safe from any thread.
#ifndef FLEET_MIGRATIONS_DSN_H_
#define FLEET_MIGRATIONS_DSN_H_

#include <string>

#include "absl/strings/string_view.h"

namespace fleet::migrations {

// `dsn` with any password value replaced by "***", in URLs (the userinfo
// and the password parameter) and in key=value conninfo strings.
std::string RedactDsn(absl::string_view dsn);

// The password a libpq conninfo string or URL holds, or "" (percent-decoded
// for URLs).
std::string DsnPassword(absl::string_view dsn);

// `message` with every occurrence of `dsn`'s password (raw and
// percent-encoded) replaced by "***".
std::string ScrubSecrets(absl::string_view message, absl::string_view dsn);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_DSN_H_
