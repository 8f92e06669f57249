// Who may call the controller, and as what. Callers prove who they are with
// a bearer token (its SHA-256 is in auth.toml; the controller never holds
// the token itself) or with a client certificate signed by the client CA
// whose CN or DNS name auth.toml lists. Each identity has a role:
//
//   viewer    status, list, show, plan, watch, history
//   operator  everything a viewer may, plus push bundles, enrol and remove
//             agents, label and remove tenants, start, pause, resume, abort
//             and roll back rollouts
//
// auth.toml:
//   [[tokens]]
//   name = "ci"            # recorded as the actor of what it does
//   role = "operator"
//   sha256 = "<hex>"       # printf %s "$TOKEN" | sha256sum
//
//   [[certificates]]
//   name = "operator"      # the client certificate's CN or a DNS SAN
//   role = "operator"
#ifndef FLEET_CONTROLLER_AUTH_H_
#define FLEET_CONTROLLER_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace fleet::controller {

enum class Role { kViewer = 0, kOperator = 1 };

absl::string_view RoleName(Role role);

struct AuthConfig {
  struct Token {
    std::string name;
    Role role = Role::kViewer;
    std::string sha256;  // lower-case hex of the token's SHA-256
  };
  struct Certificate {
    std::string name;  // CN or DNS SAN
    Role role = Role::kViewer;
  };
  std::vector<Token> tokens;
  std::vector<Certificate> certificates;
};

// Parses auth.toml text; errors name the file and the entry.
[[nodiscard]] absl::StatusOr<AuthConfig> ParseAuthConfig(const std::string& path,
                                                         const std::string& text);

// The actor to record for a call: the authenticated identity, or (on an
// insecure loopback controller without --auth) what the request claims,
// at most 256 bytes; "unknown" when neither says.
std::string ActorToRecord(const std::string& authorized, const std::string& claimed);

// Thread-safe; Reload swaps the config for calls that start afterwards.
class Authorizer {
 public:
  // No config: nobody is checked (the controller runs --insecure on
  // loopback without --auth); the actor is what the caller claims (maybe
  // nothing: an empty string).
  explicit Authorizer(std::optional<AuthConfig> config)
      : config_(config ? std::make_shared<const AuthConfig>(*std::move(config)) : nullptr) {}

  void Reload(AuthConfig config) ABSL_LOCKS_EXCLUDED(mu_);

  // The actor to record when the caller of `ctx` may do something needing
  // `needed` (`what` names it in the error): UNAUTHENTICATED when it proves
  // no identity, PERMISSION_DENIED when its role is too low.
  [[nodiscard]] absl::StatusOr<std::string> Authorize(const grpc::ServerContext& ctx, Role needed,
                                                      absl::string_view what) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The same identity check on a call's metadata alone, before its request
  // is read (proto::EarlyCallCheck): UNAUTHENTICATED for a caller who
  // proves no identity, whatever it asks; roles are checked later, by the
  // method. OK for everyone without a config.
  [[nodiscard]] absl::Status CheckCaller(const std::multimap<std::string, std::string>& metadata,
                                         const std::vector<std::string>& peer_names) const
      ABSL_LOCKS_EXCLUDED(mu_);

 public:
  struct Identity {
    std::string name;
    Role role = Role::kViewer;
  };
  // Whether callers are checked at all (there is a config).
  bool Checks() const ABSL_LOCKS_EXCLUDED(mu_);
  // Who holds bearer `token` (the dashboard's sign-in): UNAUTHENTICATED
  // when no token of the config matches, or there is no config.
  [[nodiscard]] absl::StatusOr<Identity> IdentifyToken(const std::string& token) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The same by the token's SHA-256 (lower-case hex), as the config holds
  // it: whether a session's token is still one the (reloaded) config knows.
  [[nodiscard]] absl::StatusOr<Identity> IdentifyDigest(const std::string& sha256) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Who a caller is by `config`: its bearer token (`authorization`, when
  // given) or else its certificate names.
  static absl::StatusOr<Identity> Identify(const AuthConfig& config,
                                           const std::optional<std::string>& authorization,
                                           const std::vector<std::string>& peer_names);

  mutable absl::Mutex mu_;
  // Swapped whole by Reload; a call works on the one it started with.
  std::shared_ptr<const AuthConfig> config_ ABSL_GUARDED_BY(mu_);  // null: no checks
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_AUTH_H_
