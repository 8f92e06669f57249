// Connection strings carry passwords. libpq's own parser (PQconninfoParse)
// reads them — URLs and key=value strings alike — and a connection is
// named in every message as user@host:port/dbname built from the parsed
// fields, never by the string itself.
//
// Pure functions; safe from any thread.
#ifndef FLEET_MIGRATIONS_DSN_H_
#define FLEET_MIGRATIONS_DSN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fleet::migrations {

// What a connection string says, as libpq reads it, with libpq's defaults
// (the PG* environment, the operating-system user) for what it leaves out.
struct ConnectionInfo {
  std::string user, host, port, dbname;
  std::string password;  // the literal password, "" when none: a secret

  // "user@host:port/dbname": how the connection is shown.
  std::string Name() const;
};

// INVALID_ARGUMENT, in words that never quote the string (a piece of it
// may be a password), when libpq cannot parse it, or when it is a URL
// with an '@' that libpq does not read as the end of its user and password
// (a password holding an unencoded '/': libpq would take part of it for
// the host, port or database).
[[nodiscard]] absl::StatusOr<ConnectionInfo> ParseConnectionString(absl::string_view dsn);

// ParseConnectionString(dsn)->Name(), or "an unparseable connection string".
std::string ConnectionName(absl::string_view dsn);

// The password the string holds as libpq reads it (percent-decoded in a
// URL), or "".
std::string DsnPassword(absl::string_view dsn);

// `dsn` as a key=value string with `keyword` set to `value` when the string
// does not set it itself (connect_timeout, application_name): what to open
// a connection with. `dsn` unchanged when libpq cannot parse it (opening
// it then fails with the parser's refusal). Holds the password: a secret.
std::string WithDefaultOption(absl::string_view dsn, const std::string& keyword,
                              const std::string& value);

// The same with `keyword` set to `value` whatever the string says (another
// dbname on the same server). Holds the password: a secret.
std::string WithOption(absl::string_view dsn, const std::string& keyword,
                       const std::string& value);

// `value` percent-encoded for a URL: every byte but letters, digits and
// -._~ as %XX.
std::string PercentEncode(absl::string_view value);

// `message` with every occurrence of `dsn` itself replaced by its name and
// of its password (raw and percent-encoded) by "***".
std::string ScrubSecrets(absl::string_view message, absl::string_view dsn);

}  // namespace fleet::migrations

#endif  // FLEET_MIGRATIONS_DSN_H_
