// Transport security shared by every process: which addresses may carry
// plaintext, reading and checking TLS material, server credentials whose
// certificate files can be re-read while the server runs (SIGHUP), and the
// names a peer's certificate proves.
//
// The rule for plaintext is the same everywhere: only with --insecure, and
// only on a loopback address. Everything here is thread-safe.
#ifndef FLEET_PROTO_TRANSPORT_H_
#define FLEET_PROTO_TRANSPORT_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace fleet::proto {

// Call metadata fleetctl sends: the user@host it runs as. The controller
// records it as the actor only when it checks no identities (plaintext on
// loopback without --auth); otherwise it adds it to the proven name.
inline constexpr char kActorMetadataKey[] = "x-fleet-actor";

// True when `target`, read as gRPC reads it (host:port, [v6]:port, a bare
// host, dns:[//authority/]host[:port], ipv4:a[:p][,b...], ipv6:[a]:p[,...],
// unix:path, unix-abstract:name), names this machine only: every address
// in 127.0.0.0/8 or ::1 (or ::ffff:127.x), localhost (not through a chosen
// DNS server), or a unix socket. Wildcards (0.0.0.0, [::]) and any other
// scheme are not loopback.
bool IsLoopbackAddress(absl::string_view target);

// Whether `program` may use plaintext on `address`. Without `insecure` it
// is refused (TLS is the default); with it, only on loopback. The error
// says why and what to do instead.
absl::Status CheckPlaintext(absl::string_view program, absl::string_view address, bool insecure);

// Paths of a certificate chain, its private key and a CA bundle. Any of them
// may be empty where the caller does not need it.
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string ca;
};

// The PEM contents of TlsFiles. `key` is secret: never log it.
struct TlsMaterial {
  std::string cert;
  std::string key;
  std::string ca;
};

// Reads the files that are set and checks them with OpenSSL: the chain and
// the CA bundle parse as certificates, the key parses and belongs to the
// first certificate of the chain. Errors name the file (never its bytes).
absl::StatusOr<TlsMaterial> ReadTlsFiles(const TlsFiles& files);

// Client credentials: TLS with `material.ca` as roots (empty: the system's),
// presenting `material.cert`/`key` when set.
std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const TlsMaterial& material);

// How a client reaches a server: the one place that decides plaintext or
// TLS, reads and checks TLS material, and sets message limits.
struct ChannelOptions {
  std::string program;      // starts messages: "fleetctl", "fleet-controller"
  std::string target;       // gRPC target syntax (see IsLoopbackAddress)
  bool plaintext = false;   // --insecure: refused unless every address is loopback
  TlsFiles tls_files;       // read when `tls` is empty; an empty CA: the system's roots
  std::optional<TlsMaterial> tls;  // already read (the controller re-reads on SIGHUP)
  int max_receive_bytes = 8 << 20;
  int max_send_bytes = 8 << 20;
  // Reconnect within a second instead of gRPC's backoff of up to two
  // minutes: a daemon polling a peer that restarts.
  bool fast_reconnect = false;
};

// The channel `options` describe. FAILED_PRECONDITION (CheckPlaintext's
// message) for plaintext to a target that is not loopback;
// INVALID_ARGUMENT naming the file for TLS material that does not check out.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelFor(
    const ChannelOptions& options);

// The identities a peer's verified certificate names: its subject CN and
// every subject alternative name. Empty without a client certificate.
std::vector<std::string> PeerNames(const grpc::AuthContext* auth);

// TLS server credentials whose certificate, key and client CA are re-read
// by Reload(); connections accepted afterwards use the new files, ones
// already open keep theirs. Built on gRPC's certificate-config fetcher.
// A check run on each call's metadata before its request is read: OK lets
// the call go on, an error ends it with that status. `metadata` holds the
// call's headers (authorization among them), `peer_names` the CN and DNS
// names of its client certificate (none over plaintext).
using EarlyCallCheck = std::function<absl::Status(
    const std::multimap<std::string, std::string>& metadata,
    const std::vector<std::string>& peer_names)>;

// Plaintext server credentials (loopback development) that run `check` on
// each call before its request is read.
std::shared_ptr<grpc::ServerCredentials> PlaintextServerCredentials(EarlyCallCheck check);

class ReloadableServerCredentials final : public grpc::ServerCredentials {
 public:
  // `client_certificates` is how clients are asked for a certificate
  // (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY for mutual
  // TLS, GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY when a bearer token
  // may stand in for one). Fails when the files do not check out.
  static absl::StatusOr<std::shared_ptr<ReloadableServerCredentials>> Create(
      TlsFiles files, grpc_ssl_client_certificate_request_type client_certificates);
  ~ReloadableServerCredentials() override;

  // Re-reads the files. On an error the old material stays in use.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `check` on each call before its request is read (see
  // EarlyCallCheck). Call before the server is built.
  void SetEarlyCallCheck(EarlyCallCheck check);

  // Not used by fleet: SetEarlyCallCheck is its form of this.
  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {}

 private:
  ReloadableServerCredentials(TlsFiles files, TlsMaterial material,
                              grpc_ssl_client_certificate_request_type client_certificates);
  int AddPortToServer(const std::string& addr, grpc_server* server) override;
  static grpc_ssl_certificate_config_reload_status Fetch(void* self,
                                                         grpc_ssl_server_certificate_config** config);

  const TlsFiles files_;
  grpc_server_credentials* credentials_ = nullptr;
  absl::Mutex mu_;
  TlsMaterial material_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;  // bumped by each successful Reload
  uint64_t handed_out_ ABSL_GUARDED_BY(mu_) = 0;  // the generation gRPC last fetched
};

}  // namespace fleet::proto

#endif  // FLEET_PROTO_TRANSPORT_H_
