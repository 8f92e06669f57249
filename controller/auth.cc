#include "controller/auth.h"

#include <openssl/crypto.h>

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "migrations/script.h"
#include "migrations/status_macros.h"
#include "proto/config_file.h"
#include "proto/transport.h"
#include "toml++/toml.h"

namespace fleet::controller {
namespace {

absl::StatusOr<Role> ParseRole(const std::string& where, toml::node_view<const toml::node> v) {
  auto s = v.value<std::string>();
  if (s && *s == "viewer") return Role::kViewer;
  if (s && *s == "operator") return Role::kOperator;
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": role must be \"viewer\" or \"operator\""));
}

// Names become actors in the audit log: keep them short and printable.
absl::Status CheckName(const std::string& where, const std::string& name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": name must be 1-128 characters"));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": name holds a control character"));
    }
  }
  return absl::OkStatus();
}

// Each table of the array `array` ([[tokens]], [[certificates]]): a name,
// unique within the array, and a role; `each` takes the rest. Errors say
// "<path>: <singular> '<name>': ...".
template <typename Each>
absl::Status ForEachEntry(const toml::table& doc, const std::string& path, const char* array,
                          const char* singular, Each&& each) {
  if (!doc[array]) return absl::OkStatus();
  const toml::array* entries = doc[array].as_array();
  if (entries == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", array, " must be [[", array, "]] tables"));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < entries->size(); ++i) {
    std::string where = absl::StrCat(path, ": ", array, "[", i, "]");
    const toml::table* t = (*entries)[i].as_table();
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat(where, ": not a table"));
    std::string name = (*t)["name"].value_or(std::string());
    RETURN_IF_ERROR(CheckName(where, name));
    where = absl::StrCat(path, ": ", singular, " '", name, "'");
    auto role = ParseRole(where, (*t)["role"]);
    if (!role.ok()) return role.status();
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": named twice"));
    }
    RETURN_IF_ERROR(each(where, *t, std::move(name), *role));
  }
  return absl::OkStatus();
}

std::string Claimed(const grpc::ServerContext& ctx) {
  auto it = ctx.client_metadata().find(proto::kActorMetadataKey);
  if (it == ctx.client_metadata().end()) return "";
  std::string claimed(it->second.data(), std::min<size_t>(it->second.size(), 128));
  for (char& c : claimed) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return claimed;
}

}  // namespace

absl::string_view RoleName(Role role) { return role == Role::kOperator ? "operator" : "viewer"; }

absl::StatusOr<AuthConfig> ParseAuthConfig(const std::string& path, const std::string& text) {
  ASSIGN_OR_RETURN(toml::table doc, proto::ParseToml(text, path));
  for (const auto& [key, value] : doc) {
    if (key.str() != "tokens" && key.str() != "certificates") {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unknown key '", std::string(key.str()), "' (expected [[tokens]] or [[certificates]])"));
    }
  }
  AuthConfig c;
  RETURN_IF_ERROR(ForEachEntry(
      doc, path, "tokens", "token",
      [&](const std::string& where, const toml::table& t, std::string name, Role role) {
        if (t["token"]) {
          return absl::InvalidArgumentError(absl::StrCat(
              where, ": holds the token itself; give its hash instead: sha256 = \"<printf %s "
                     "\\\"$TOKEN\\\" | sha256sum>\""));
        }
        std::string sha256 = absl::AsciiStrToLower(t["sha256"].value_or(std::string()));
        bool hex = sha256.size() == 64;
        for (char ch : sha256) hex = hex && absl::ascii_isxdigit(static_cast<unsigned char>(ch));
        if (!hex) {
          return absl::InvalidArgumentError(absl::StrCat(
              where, ": sha256 must be 64 hex digits (printf %s \"$TOKEN\" | sha256sum)"));
        }
        c.tokens.push_back({std::move(name), role, std::move(sha256)});
        return absl::OkStatus();
      }));
  RETURN_IF_ERROR(ForEachEntry(
      doc, path, "certificates", "certificate",
      [&](const std::string&, const toml::table&, std::string name, Role role) {
        c.certificates.push_back({std::move(name), role});
        return absl::OkStatus();
      }));
  if (c.tokens.empty() && c.certificates.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": names nobody: add [[tokens]] or [[certificates]]"));
  }
  return c;
}

void Authorizer::Reload(AuthConfig config) {
  auto fresh = std::make_shared<const AuthConfig>(std::move(config));
  absl::MutexLock lock(&mu_);
  config_ = std::move(fresh);
}

absl::StatusOr<Authorizer::Identity> Authorizer::Identify(
    const AuthConfig& config, const std::optional<std::string>& authorization,
    const std::vector<std::string>& peer_names) {
  Identity who;
  bool found = false;
  if (authorization) {
    absl::string_view value(*authorization);
    if (!absl::ConsumePrefix(&value, "Bearer ")) {
      return absl::UnauthenticatedError("the authorization header must be 'Bearer <token>'");
    }
    std::string digest = migrations::Sha256Hex(value);
    for (const auto& t : config.tokens) {
      if (CRYPTO_memcmp(t.sha256.data(), digest.data(), digest.size()) == 0) {
        who = {t.name, t.role};
        found = true;
        break;
      }
    }
    if (!found) {
      return absl::UnauthenticatedError(
          "the bearer token matches no token in the controller's auth config");
    }
    return who;
  }
  // A client certificate: TLS has already checked it against the client CA.
  for (const std::string& peer : peer_names) {
    for (const auto& c : config.certificates) {
      if (c.name == peer && (!found || c.role > who.role)) {
        who = {c.name, c.role};
        found = true;
      }
    }
  }
  if (!found) {
    return absl::UnauthenticatedError(
        "this controller needs a caller identity: a bearer token (FLEET_TOKEN or "
        "--token-file) or a client certificate its auth config names (--tls-cert/--tls-key)");
  }
  return who;
}

absl::Status Authorizer::CheckCaller(const std::multimap<std::string, std::string>& metadata,
                                     const std::vector<std::string>& peer_names) const {
  std::shared_ptr<const AuthConfig> config;
  {
    absl::MutexLock lock(&mu_);
    config = config_;
  }
  if (!config) return absl::OkStatus();
  std::optional<std::string> authorization;
  if (auto it = metadata.find("authorization"); it != metadata.end()) authorization = it->second;
  return Identify(*config, authorization, peer_names).status();
}

absl::StatusOr<std::string> Authorizer::Authorize(const grpc::ServerContext& ctx, Role needed,
                                                  absl::string_view what) const {
  std::string claimed = Claimed(ctx);
  std::shared_ptr<const AuthConfig> config;
  {
    absl::MutexLock lock(&mu_);
    config = config_;
  }
  if (!config) return claimed;
  std::optional<std::string> authorization;
  auto header = ctx.client_metadata().find("authorization");
  if (header != ctx.client_metadata().end()) {
    authorization = std::string(header->second.data(), header->second.size());
  }
  auto who = Identify(*config, authorization, proto::PeerNames(ctx.auth_context().get()));
  if (!who.ok()) return who.status();
  if (who->role < needed) {
    return absl::PermissionDeniedError(absl::StrCat(who->name, " is a ", RoleName(who->role),
                                                    "; ", what, " needs the ",
                                                    RoleName(needed), " role"));
  }
  if (!claimed.empty() && claimed != who->name) return absl::StrCat(who->name, " (", claimed, ")");
  return who->name;
}

bool Authorizer::Checks() const {
  absl::MutexLock lock(&mu_);
  return config_ != nullptr;
}

absl::StatusOr<Authorizer::Identity> Authorizer::IdentifyToken(const std::string& token) const {
  std::shared_ptr<const AuthConfig> config;
  {
    absl::MutexLock lock(&mu_);
    config = config_;
  }
  if (config == nullptr) return absl::UnauthenticatedError("this controller checks no tokens");
  return Identify(*config, absl::StrCat("Bearer ", token), {});
}

absl::StatusOr<Authorizer::Identity> Authorizer::IdentifyDigest(const std::string& sha256) const {
  std::shared_ptr<const AuthConfig> config;
  {
    absl::MutexLock lock(&mu_);
    config = config_;
  }
  if (config == nullptr) return absl::UnauthenticatedError("this controller checks no tokens");
  for (const auto& t : config->tokens) {
    if (t.sha256.size() == sha256.size() &&
        CRYPTO_memcmp(t.sha256.data(), sha256.data(), sha256.size()) == 0) {
      return Identity{t.name, t.role};
    }
  }
  return absl::UnauthenticatedError("the token is no longer in the controller's auth config");
}

std::string ActorToRecord(const std::string& authorized, const std::string& claimed) {
  if (!authorized.empty()) return authorized;
  return claimed.empty() ? "unknown" : claimed.substr(0, 256);
}

}  // namespace fleet::controller
