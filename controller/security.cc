#include "controller/security.h"

#include "absl/strings/str_cat.h"
#include "migrations/file_system.h"

namespace fleet::controller {

absl::StatusOr<std::optional<AuthConfig>> ControllerSecurity::ReadAuth() const {
  if (flags_.auth_path.empty()) return std::nullopt;
  auto text = migrations::DefaultFileSystem().ReadFile(flags_.auth_path);
  if (!text.ok()) return text.status();
  auto parsed = ParseAuthConfig(flags_.auth_path, *text);
  if (!parsed.ok()) return parsed.status();
  return std::optional<AuthConfig>(*std::move(parsed));
}

absl::StatusOr<std::unique_ptr<ControllerSecurity>> ControllerSecurity::Create(
    const SecurityFlags& flags) {
  std::unique_ptr<ControllerSecurity> s(new ControllerSecurity(flags));
  const bool api_tls = !flags.api_cert.empty() || !flags.api_key.empty();
  if (api_tls) {
    if (flags.auth_path.empty()) {
      return absl::InvalidArgumentError(
          "--tls-cert needs --auth FILE naming who may call (bearer tokens or client "
          "certificates, each a viewer or an operator); see --help");
    }
    auto created = proto::ReloadableServerCredentials::Create(
        {flags.api_cert, flags.api_key, flags.api_client_ca},
        flags.api_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                    : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
    if (!created.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-cert/--tls-key: ", created.status().message()));
    }
    s->api_tls_ = *created;
  } else if (absl::Status p = proto::CheckPlaintext("fleet-controller", flags.listen,
                                                    flags.insecure);
             !p.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(p.message(), " (--tls-cert, --tls-key, --auth)"));
  }
  auto auth = s->ReadAuth();
  if (!auth.ok()) return absl::InvalidArgumentError(absl::StrCat("--auth: ", auth.status().message()));
  s->authorizer_ = std::make_unique<Authorizer>(*std::move(auth));
  // Every call proves who it is on its metadata, before its request is
  // read: an unauthenticated caller cannot make the controller read a byte.
  Authorizer* authorizer = s->authorizer_.get();
  proto::EarlyCallCheck early = [authorizer](const std::multimap<std::string, std::string>& md,
                                             const std::vector<std::string>& peer_names) {
    return authorizer->CheckCaller(md, peer_names);
  };
  if (s->api_tls_) {
    s->api_tls_->SetEarlyCallCheck(early);
    s->api_credentials_ = s->api_tls_;
  } else {
    s->api_credentials_ = proto::PlaintextServerCredentials(early);
  }
  const bool any_agent_tls =
      !flags.agent_cert.empty() || !flags.agent_key.empty() || !flags.agent_ca.empty();
  if (any_agent_tls) {
    if (flags.agent_cert.empty() || flags.agent_key.empty() || flags.agent_ca.empty()) {
      return absl::InvalidArgumentError(
          "agent TLS needs all of --agent-tls-cert, --agent-tls-key and --agent-tls-ca");
    }
    auto material = proto::ReadTlsFiles({flags.agent_cert, flags.agent_key, flags.agent_ca});
    if (!material.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("agent TLS: ", material.status().message()));
    }
    s->agent_tls_ = *std::move(material);
  } else if (!flags.insecure) {
    return absl::InvalidArgumentError(
        "no TLS configured for agents: give --agent-tls-cert, --agent-tls-key and "
        "--agent-tls-ca, or --insecure for plaintext to agents on loopback addresses");
  }
  return s;
}

std::unique_ptr<GrpcAgentClient> ControllerSecurity::NewAgentClient(absl::Duration deadline) const {
  if (agent_tls_) return std::make_unique<GrpcAgentClient>(deadline, *agent_tls_);
  return std::make_unique<GrpcAgentClient>(deadline);
}

std::string ControllerSecurity::Describe() const {
  return absl::StrCat(api_tls_ ? "TLS" : "plaintext",
                      flags_.auth_path.empty() ? ", no caller checks" : ", callers checked",
                      "; agents over ", agent_tls_ ? "mutual TLS" : "plaintext");
}

std::vector<std::string> ControllerSecurity::Reload(GrpcAgentClient& agents) {
  std::vector<std::string> lines;
  auto outcome = [](const absl::Status& s) {
    return s.ok() ? std::string("reloaded") : absl::StrCat("kept: ", s.message());
  };
  if (api_tls_) lines.push_back(absl::StrCat("API certificate ", outcome(api_tls_->Reload())));
  if (agent_tls_) {
    auto material = proto::ReadTlsFiles({flags_.agent_cert, flags_.agent_key, flags_.agent_ca});
    if (material.ok()) {
      agent_tls_ = *material;
      agents.SetTls(*std::move(material));
    }
    lines.push_back(absl::StrCat("agent TLS certificate ", outcome(material.status())));
  }
  if (!flags_.auth_path.empty()) {
    auto reloaded = ReadAuth();
    if (reloaded.ok()) authorizer_->Reload(**reloaded);
    lines.push_back(absl::StrCat("--auth ", outcome(reloaded.status())));
  }
  return lines;
}

}  // namespace fleet::controller
