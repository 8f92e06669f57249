#include "proto/transport.h"

#include <arpa/inet.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fleet::proto {
namespace {

// The host of one address: host:port, [v6]:port, a bare v6 address (several
// colons) or a bare host.
std::string HostOfAddress(absl::string_view address) {
  if (absl::StartsWith(address, "[")) {
    size_t close = address.find(']');
    return std::string(address.substr(1, close == absl::string_view::npos ? address.npos : close - 1));
  }
  size_t colon = address.rfind(':');
  if (colon != absl::string_view::npos && address.find(':') == colon) {
    address = address.substr(0, colon);  // host:port (a bare v6 address has several colons)
  }
  return std::string(address);
}

bool IsLoopbackHost(const std::string& raw, bool names_allowed) {
  std::string host = absl::AsciiStrToLower(raw);
  if (names_allowed && (host == "localhost" || absl::EndsWith(host, ".localhost"))) return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  }
  std::stringstream s;
  s << in.rdbuf();
  if (s.str().empty()) return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is empty"));
  return s.str();
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Bio = std::unique_ptr<BIO, BioDeleter>;
using Cert = std::unique_ptr<X509, X509Deleter>;

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate of `pem`, or null.
Cert FirstCertificate(const std::string& pem) {
  Bio bio = MemoryBio(pem);
  Cert first(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();  // a failed read leaves "no start line" queued
  return first;
}

// gRPC core's auth metadata processor, calling an EarlyCallCheck.
struct EarlyCheckState {
  EarlyCallCheck check;
};

std::string SliceText(const grpc_slice& slice) {
  return std::string(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)),
                     GRPC_SLICE_LENGTH(slice));
}

void ProcessMetadata(void* state, grpc_auth_context* context, const grpc_metadata* md,
                     size_t num_md, grpc_process_auth_metadata_done_cb done, void* user_data) {
  auto* s = static_cast<EarlyCheckState*>(state);
  std::multimap<std::string, std::string> metadata;
  for (size_t i = 0; i < num_md; ++i) metadata.emplace(SliceText(md[i].key), SliceText(md[i].value));
  std::vector<std::string> names;
  if (context != nullptr) {
    for (const char* property : {GRPC_X509_CN_PROPERTY_NAME, GRPC_X509_SAN_PROPERTY_NAME}) {
      grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(context, property);
      while (const grpc_auth_property* p = grpc_auth_property_iterator_next(&it)) {
        names.emplace_back(p->value, p->value_length);
      }
    }
  }
  absl::Status verdict = s->check(metadata, names);
  const std::string details(verdict.message());
  done(user_data, nullptr, 0, nullptr, 0, static_cast<grpc_status_code>(verdict.code()),
       verdict.ok() ? nullptr : details.c_str());
}

void DestroyState(void* state) { delete static_cast<EarlyCheckState*>(state); }

void InstallEarlyCheck(grpc_server_credentials* credentials, EarlyCallCheck check) {
  grpc_server_credentials_set_auth_metadata_processor(
      credentials, {ProcessMetadata, DestroyState, new EarlyCheckState{std::move(check)}});
}

class PlaintextCredentials final : public grpc::ServerCredentials {
 public:
  explicit PlaintextCredentials(EarlyCallCheck check)
      : credentials_(grpc_insecure_server_credentials_create()) {
    if (check) InstallEarlyCheck(credentials_, std::move(check));
  }
  ~PlaintextCredentials() override { grpc_server_credentials_release(credentials_); }
  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {}

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    return grpc_server_add_http2_port(server, addr.c_str(), credentials_);
  }
  grpc_server_credentials* credentials_;
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> PlaintextServerCredentials(EarlyCallCheck check) {
  return std::make_shared<PlaintextCredentials>(std::move(check));
}

void ReloadableServerCredentials::SetEarlyCallCheck(EarlyCallCheck check) {
  InstallEarlyCheck(credentials_, std::move(check));
}

bool IsLoopbackAddress(absl::string_view target) {
  // gRPC's target syntax (doc/naming.md): unix sockets are local.
  if (absl::StartsWith(target, "unix:") || absl::StartsWith(target, "unix-abstract:")) {
    return true;
  }
  // ipv4:/ipv6: name a list of addresses: every one must be loopback.
  for (absl::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (absl::ConsumePrefix(&target, scheme)) {
      if (target.empty()) return false;
      for (absl::string_view one : absl::StrSplit(target, ',')) {
        if (one.empty() || !IsLoopbackHost(HostOfAddress(one), /*names_allowed=*/false)) {
          return false;
        }
      }
      return true;
    }
  }
  bool names_allowed = true;
  if (absl::ConsumePrefix(&target, "dns:")) {
    if (absl::ConsumePrefix(&target, "//")) {
      // dns://AUTHORITY/host: a DNS server of the caller's choice may map any
      // name anywhere; only literal loopback addresses pass then.
      size_t slash = target.find('/');
      if (slash == absl::string_view::npos) return false;
      names_allowed = slash == 0;
      target.remove_prefix(slash + 1);
    }
  } else if (size_t colon = target.find(':'); colon != absl::string_view::npos &&
                                              target.substr(colon, 3) == "://") {
    return false;  // another resolver (xds://, ...): not provably local
  }
  // One host: a list is only ipv4:/ipv6: syntax.
  if (target.empty() || absl::StrContains(target, ',')) return false;
  return IsLoopbackHost(HostOfAddress(target), names_allowed);
}

absl::Status CheckPlaintext(absl::string_view program, absl::string_view address, bool insecure) {
  if (!insecure) {
    return absl::FailedPreconditionError(absl::StrCat(
        program, ": no TLS configured for ", address,
        "; give certificates (see --help), or --insecure for plaintext on a loopback address"));
  }
  if (!IsLoopbackAddress(address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        program, ": --insecure allows plaintext only on loopback addresses (127.0.0.1, ::1, "
                 "localhost), and ",
        address,
        " is not one: anyone on that network could read the traffic and send migrations. "
        "Configure TLS instead."));
  }
  return absl::OkStatus();
}

absl::StatusOr<TlsMaterial> ReadTlsFiles(const TlsFiles& files) {
  TlsMaterial m;
  Cert leaf;  // the chain's first certificate, which the key must match
  if (!files.cert.empty()) {
    auto cert = ReadFile(files.cert, "certificate");
    if (!cert.ok()) return cert.status();
    m.cert = *std::move(cert);
    leaf = FirstCertificate(m.cert);
    if (!leaf) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificate ", files.cert, " holds no PEM certificate"));
    }
  }
  if (!files.key.empty()) {
    auto key = ReadFile(files.key, "private key");
    if (!key.ok()) return key.status();
    m.key = *std::move(key);
    Bio bio = MemoryBio(m.key);
    std::unique_ptr<EVP_PKEY, KeyDeleter> pkey(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    if (!pkey) {
      return absl::InvalidArgumentError(absl::StrCat(
          "private key ", files.key, " holds no unencrypted PEM private key"));
    }
    if (leaf) {
      if (X509_check_private_key(leaf.get(), pkey.get()) != 1) {
        ERR_clear_error();
        return absl::InvalidArgumentError(absl::StrCat("private key ", files.key,
                                                       " does not belong to certificate ",
                                                       files.cert));
      }
    }
  }
  if (!files.ca.empty()) {
    auto ca = ReadFile(files.ca, "CA bundle");
    if (!ca.ok()) return ca.status();
    m.ca = *std::move(ca);
    if (!FirstCertificate(m.ca)) {
      return absl::InvalidArgumentError(
          absl::StrCat("CA bundle ", files.ca, " holds no PEM certificate"));
    }
  }
  return m;
}

std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const TlsMaterial& material) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = material.ca;
  o.pem_cert_chain = material.cert;
  o.pem_private_key = material.key;
  return grpc::SslCredentials(o);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelFor(const ChannelOptions& o) {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (o.plaintext) {
    if (absl::Status s = CheckPlaintext(o.program, o.target, true); !s.ok()) return s;
    credentials = grpc::InsecureChannelCredentials();
  } else if (o.tls) {
    credentials = ClientCredentials(*o.tls);
  } else {
    if (o.tls_files.cert.empty() != o.tls_files.key.empty()) {
      return absl::InvalidArgumentError("a client certificate needs both its file and its key");
    }
    absl::StatusOr<TlsMaterial> material = ReadTlsFiles(o.tls_files);
    if (!material.ok()) return absl::InvalidArgumentError(material.status().message());
    credentials = ClientCredentials(*material);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(o.max_receive_bytes);
  args.SetMaxSendMessageSize(o.max_send_bytes);
  if (o.fast_reconnect) {
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  }
  return grpc::CreateCustomChannel(o.target, credentials, args);
}

std::vector<std::string> PeerNames(const grpc::AuthContext* auth) {
  std::vector<std::string> names;
  if (auth == nullptr) return names;
  for (const char* property : {GRPC_X509_CN_PROPERTY_NAME, GRPC_X509_SAN_PROPERTY_NAME}) {
    for (const auto& v : auth->FindPropertyValues(property)) names.emplace_back(v.data(), v.size());
  }
  return names;
}

absl::StatusOr<std::shared_ptr<ReloadableServerCredentials>> ReloadableServerCredentials::Create(
    TlsFiles files, grpc_ssl_client_certificate_request_type client_certificates) {
  if (files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError("a TLS server needs a certificate and its private key");
  }
  auto material = ReadTlsFiles(files);
  if (!material.ok()) return material.status();
  return std::shared_ptr<ReloadableServerCredentials>(new ReloadableServerCredentials(
      std::move(files), *std::move(material), client_certificates));
}

ReloadableServerCredentials::ReloadableServerCredentials(
    TlsFiles files, TlsMaterial material,
    grpc_ssl_client_certificate_request_type client_certificates)
    : files_(std::move(files)), material_(std::move(material)) {
  grpc_ssl_server_credentials_options* options =
      grpc_ssl_server_credentials_create_options_using_config_fetcher(client_certificates,
                                                                      &Fetch, this);
  credentials_ = grpc_ssl_server_credentials_create_with_options(options);  // takes `options`
}

ReloadableServerCredentials::~ReloadableServerCredentials() {
  grpc_server_credentials_release(credentials_);
}

absl::Status ReloadableServerCredentials::Reload() {
  auto material = ReadTlsFiles(files_);
  if (!material.ok()) return material.status();
  absl::MutexLock lock(&mu_);
  material_ = *std::move(material);
  ++generation_;
  return absl::OkStatus();
}

int ReloadableServerCredentials::AddPortToServer(const std::string& addr, grpc_server* server) {
  return grpc_server_add_http2_port(server, addr.c_str(), credentials_);
}

// Called by gRPC when the server starts and before each handshake.
grpc_ssl_certificate_config_reload_status ReloadableServerCredentials::Fetch(
    void* self, grpc_ssl_server_certificate_config** config) {
  auto* me = static_cast<ReloadableServerCredentials*>(self);
  absl::MutexLock lock(&me->mu_);
  if (me->handed_out_ == me->generation_) return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
  grpc_ssl_pem_key_cert_pair pair{me->material_.key.c_str(), me->material_.cert.c_str()};
  *config = grpc_ssl_server_certificate_config_create(
      me->material_.ca.empty() ? nullptr : me->material_.ca.c_str(), &pair, 1);
  me->handed_out_ = me->generation_;
  return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

}  // namespace fleet::proto
