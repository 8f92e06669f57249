// The agent's configuration file (agent.toml): where to listen, where to
// cache bundles, timeouts, and the tenants it serves. Connection strings are
// given by reference (an environment variable, a libpq service, or a DSN
// without a password plus a passfile): a literal password is refused.
#ifndef FLEET_AGENT_AGENT_CONFIG_H_
#define FLEET_AGENT_AGENT_CONFIG_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fleet::agent {

struct TenantConfig {
  std::string id;
  std::string dsn;  // resolved; holds secrets: never log, never send
  std::string dsn_source;  // "env ACME_DSN", "service acme", "dsn": safe to show
  std::string schema;
  std::string version_table = "alembic_version";
  std::map<std::string, std::string> labels;
};

// Mutual TLS: this agent's certificate and key, the fleet CA that signs its
// clients' certificates, and the identities (certificate CN or DNS SAN) of
// the clients it serves (the controller).
struct AgentTls {
  std::string cert;
  std::string key;
  std::string ca;
  std::vector<std::string> allowed_clients;
};

struct AgentConfig {
  std::string listen = "127.0.0.1:7070";
  std::string versions_cache;
  absl::Duration lock_wait = absl::Seconds(30);
  absl::Duration lock_timeout = absl::Seconds(2);
  absl::Duration statement_timeout = absl::ZeroDuration();
  absl::Duration connect_timeout = absl::Seconds(10);  // opening a tenant's connection
  absl::Duration read_timeout = absl::Seconds(30);     // every read of a tenant (0: off)
  int retries = 3;
  int max_concurrent_migrations = 4;
  int max_concurrent_reads = 16;  // connections used at once to read tenants
  // Tenant connections are kept open for reuse: at most this many at once,
  // idle and in use, for all tenants together; one idle this long is closed.
  int max_connections = 32;
  absl::Duration connection_idle_timeout = absl::Minutes(10);
  std::vector<TenantConfig> tenants;
  std::optional<AgentTls> tls;  // absent: plaintext (loopback development only)
};

// Parses agent.toml text. `getenv` resolves dsn_env (tests pass their own).
// A literal password in a dsn is refused unless `allow_plaintext_password`.
// Errors name the file, the tenant and the key.
[[nodiscard]] absl::StatusOr<AgentConfig> ParseAgentConfig(
    const std::string& path, const std::string& text,
    const std::function<const char*(const char*)>& getenv, bool allow_plaintext_password = false);

}  // namespace fleet::agent

#endif  // FLEET_AGENT_AGENT_CONFIG_H_
