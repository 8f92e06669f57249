#include "agent/agent_config.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "migrations/dsn.h"
#include "migrations/status_macros.h"
#include "proto/config_file.h"
#include "proto/validate.h"
#include "toml++/toml.h"

namespace fleet::agent {
namespace {

// A duration: seconds as a number, or text such as "2s" or "500ms". Finite,
// not negative, at most a day: nan, inf and -1 are refused.
absl::StatusOr<absl::Duration> Duration(const std::string& where, toml::node_view<toml::node> v,
                                        absl::Duration fallback) {
  if (!v) return fallback;
  absl::Duration d;
  bool parsed = false;
  if (auto n = v.value<double>()) {
    parsed = std::isfinite(*n) && *n >= 0 && *n <= 86400;
    if (parsed) d = absl::Seconds(*n);
  } else if (auto s = v.value<std::string>()) {
    parsed = absl::ParseDuration(*s, &d) && d >= absl::ZeroDuration() && d <= absl::Hours(24);
  }
  if (parsed) return d;
  return absl::InvalidArgumentError(absl::StrCat(
      where, ": expected a duration from 0 to 24h such as \"2s\" or \"500ms\""));
}

// A misspelt key must not be silently ignored (a typo in lock_timeout would
// run with the default): every table accepts only the keys it knows.
absl::Status KnownKeys(const std::string& where, const toml::table& table,
                       std::initializer_list<absl::string_view> known) {
  for (const auto& [key, value] : table) {
    if (std::find(known.begin(), known.end(), std::string(key.str())) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown key '",
                                                     std::string(key.str()), "' (known: ",
                                                     absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

// A conninfo value, single-quoted with \ and ' escaped, as libpq reads it.
std::string QuotedConninfoValue(absl::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

}  // namespace

absl::StatusOr<AgentConfig> ParseAgentConfig(
    const std::string& path, const std::string& text,
    const std::function<const char*(const char*)>& getenv, bool allow_plaintext_password) {
  ASSIGN_OR_RETURN(toml::table doc, proto::ParseToml(text, path));
  if (absl::Status s = KnownKeys(path, doc,
                                 {"listen", "versions_cache", "lock_wait", "lock_timeout",
                                  "statement_timeout", "connect_timeout", "read_timeout",
                                  "retries", "max_concurrent_migrations", "max_concurrent_reads",
                                  "max_connections", "connection_idle_timeout", "tls",
                                  "tenants"});
      !s.ok()) {
    return s;
  }
  AgentConfig c;
  if (auto v = doc["listen"].value<std::string>()) c.listen = *v;
  if (auto v = doc["versions_cache"].value<std::string>()) c.versions_cache = *v;
  if (c.versions_cache.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": versions_cache (a directory for cached bundles) is required"));
  }
  auto lw = Duration(path + ": lock_wait", doc["lock_wait"], c.lock_wait);
  auto lt = Duration(path + ": lock_timeout", doc["lock_timeout"], c.lock_timeout);
  auto st = Duration(path + ": statement_timeout", doc["statement_timeout"], c.statement_timeout);
  auto ct = Duration(path + ": connect_timeout", doc["connect_timeout"], c.connect_timeout);
  auto rt = Duration(path + ": read_timeout", doc["read_timeout"], c.read_timeout);
  auto it = Duration(path + ": connection_idle_timeout", doc["connection_idle_timeout"],
                     c.connection_idle_timeout);
  for (absl::StatusOr<absl::Duration>* s : {&lw, &lt, &st, &ct, &rt, &it}) {
    if (!s->ok()) return s->status();
  }
  c.lock_wait = *lw;
  c.lock_timeout = *lt;
  c.statement_timeout = *st;
  c.connect_timeout = *ct;
  c.read_timeout = *rt;
  c.connection_idle_timeout = *it;
  if (c.connection_idle_timeout < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": connection_idle_timeout: at least 1s"));
  }
  if (c.connect_timeout < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": connect_timeout: at least 1s (libpq counts whole seconds, at least 2)"));
  }
  // Whole numbers in a range; anything else (1.5, "4", nan) is named.
  for (auto [key, out, low, high] : {std::tuple{"retries", &c.retries, 0, 100},
                                     std::tuple{"max_concurrent_migrations",
                                                &c.max_concurrent_migrations, 1, 256},
                                     std::tuple{"max_concurrent_reads", &c.max_concurrent_reads,
                                                1, 256},
                                     std::tuple{"max_connections", &c.max_connections, 1, 4096}}) {
    auto node = doc[key];
    if (!node) continue;
    const toml::value<int64_t>* v = node.as_integer();
    if (v == nullptr || v->get() < low || v->get() > high) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", key, " must be a whole number from ", low, " to ", high));
    }
    *out = static_cast<int>(v->get());
  }
  if (const toml::table* tls = doc["tls"].as_table()) {
    if (absl::Status s = KnownKeys(path + ": [tls]", *tls, {"cert", "key", "ca", "allowed_clients"});
        !s.ok()) {
      return s;
    }
    AgentTls t;
    t.cert = tls->at_path("cert").value_or(std::string());
    t.key = tls->at_path("key").value_or(std::string());
    t.ca = tls->at_path("ca").value_or(std::string());
    if (const toml::array* allowed = tls->at_path("allowed_clients").as_array()) {
      for (const auto& a : *allowed) t.allowed_clients.push_back(a.value_or(std::string()));
    }
    if (t.cert.empty() || t.key.empty() || t.ca.empty() || t.allowed_clients.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": [tls] needs cert, key, ca and allowed_clients (the controller's certificate "
                "name, e.g. [\"controller\"])"));
    }
    c.tls = std::move(t);
  }
  const toml::array* tenants = doc["tenants"].as_array();
  if (tenants == nullptr || tenants->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no [[tenants]]"));
  }
  std::set<std::string> seen;
  for (const toml::node& node : *tenants) {
    const toml::table* t = node.as_table();
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat(path, ": [[tenants]] entries must be tables"));
    TenantConfig tc;
    tc.id = t->at_path("id").value_or(std::string());
    if (absl::Status s = proto::ValidateTenantId(tc.id); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
    }
    if (absl::Status s = KnownKeys(absl::StrCat(path, ": tenant ", tc.id), *t,
                                   {"id", "dsn_env", "service", "dsn", "passfile", "schema",
                                    "version_table", "labels"});
        !s.ok()) {
      return s;
    }
    if (!seen.insert(tc.id).second) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tenant ", tc.id, " is listed twice"));
    }
    std::string where = absl::StrCat(path, ": tenant ", tc.id);
    auto dsn_env = t->at_path("dsn_env").value<std::string>();
    auto service = t->at_path("service").value<std::string>();
    auto dsn = t->at_path("dsn").value<std::string>();
    int given = (dsn_env ? 1 : 0) + (service ? 1 : 0) + (dsn ? 1 : 0);
    if (given != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": give exactly one of dsn_env (an environment variable holding the connection "
                 "string), service (a libpq service name) or dsn (without a password; use a "
                 "passfile)"));
    }
    if (dsn_env) {
      const char* value = getenv(dsn_env->c_str());
      if (value == nullptr || *value == '\0') {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": environment variable ", *dsn_env, " is not set"));
      }
      tc.dsn = value;
      tc.dsn_source = absl::StrCat("env ", *dsn_env);
    } else if (service) {
      tc.dsn = absl::StrCat("service=", QuotedConninfoValue(*service));
      tc.dsn_source = absl::StrCat("service ", *service);
    } else {
      tc.dsn = *dsn;
      tc.dsn_source = "dsn";
    }
    if (auto passfile = t->at_path("passfile").value<std::string>()) {
      const bool url = tc.dsn.find("://") != std::string::npos;
      tc.dsn = url ? absl::StrCat(tc.dsn, tc.dsn.find('?') == std::string::npos ? "?" : "&",
                                  "passfile=", migrations::PercentEncode(*passfile))
                   : absl::StrCat(tc.dsn, " passfile=", QuotedConninfoValue(*passfile));
    }
    // libpq reads the string now, not at the first connection: a string it
    // cannot read, or reads otherwise than it looks (see dsn.h), is named by
    // where it came from, never shown.
    auto parsed = migrations::ParseConnectionString(tc.dsn);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " (", tc.dsn_source, "): ", parsed.status().message()));
    }
    if (dsn && !parsed->password.empty() && !allow_plaintext_password) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": dsn holds a literal password; keep it out of the file: use dsn_env, a "
                 "libpq service file, or a passfile (passfile = \"...\"), or start with "
                 "--allow-plaintext-password"));
    }
    tc.schema = t->at_path("schema").value_or(std::string());
    tc.version_table = t->at_path("version_table").value_or(std::string("alembic_version"));
    if (const toml::table* labels = t->at_path("labels").as_table()) {
      for (const auto& [k, v] : *labels) {
        auto value = v.value<std::string>();
        if (!value) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": label ", std::string(k.str()), " must be a string"));
        }
        tc.labels[std::string(k.str())] = *value;
      }
    }
    c.tenants.push_back(std::move(tc));
  }
  return c;
}

}  // namespace fleet::agent
