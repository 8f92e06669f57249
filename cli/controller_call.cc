#include "cli/controller_call.h"

#include <unistd.h>

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/transport.h"
#include "proto/validate.h"

namespace fleet::cli {
namespace {

std::unique_ptr<Stub> Connect(Context& ctx, int* code) {
  FleetOptions& o = ctx.options.fleet;
  if (o.controller.empty()) {
    if (const char* env = std::getenv("FLEET_CONTROLLER")) o.controller = env;
  }
  if (o.controller.empty()) {
    *code = UsageError(ctx, "no controller given: pass --controller HOST:PORT or set FLEET_CONTROLLER");
    return nullptr;
  }
  for (auto [value, env] : {std::pair{&o.tls_ca, "FLEET_TLS_CA"}, {&o.tls_cert, "FLEET_TLS_CERT"},
                            {&o.tls_key, "FLEET_TLS_KEY"}, {&o.token_file, "FLEET_TOKEN_FILE"}}) {
    if (value->empty()) {
      if (const char* v = std::getenv(env)) *value = v;
    }
  }
  if (!o.insecure && o.tls_cert.empty() != o.tls_key.empty()) {
    *code = UsageError(ctx, "a client certificate needs both --tls-cert and --tls-key");
    return nullptr;
  }
  // The token comes from a file or the environment, never from a flag: a
  // flag shows in `ps` and in shell history.
  if (!o.token_file.empty()) {
    auto text = ctx.fs.ReadFile(o.token_file);
    if (!text.ok()) {
      *code = UsageError(ctx, absl::StrCat("--token-file: ", text.status().message()));
      return nullptr;
    }
    o.token = std::string(absl::StripAsciiWhitespace(*text));
    if (o.token.empty()) {
      *code = UsageError(ctx, absl::StrCat("--token-file ", o.token_file, " is empty"));
      return nullptr;
    }
  } else if (const char* env = std::getenv("FLEET_TOKEN")) {
    o.token = std::string(absl::StripAsciiWhitespace(env));
  }
  for (char c : o.token) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      *code = UsageError(ctx, "the token holds a space or a non-printable character");
      return nullptr;
    }
  }
  auto channel_to = [&](const std::string& address) {
    proto::ChannelOptions channel_options;
    channel_options.program = "fleetctl";
    channel_options.target = address;
    channel_options.plaintext = o.insecure;
    channel_options.tls_files = {o.tls_cert, o.tls_key, o.tls_ca};
    channel_options.max_receive_bytes = 256 << 20;  // bundle show
    channel_options.max_send_bytes = 8 << 20;       // the controller's limit: bundles go in pieces
    return proto::ChannelFor(channel_options);
  };
  std::vector<std::string> addresses = absl::StrSplit(o.controller, ',', absl::SkipWhitespace());
  if (addresses.size() > 1) {
    // Controllers sharing an inventory: the one that leads, else the first
    // that answers (a standby reads, and refuses writes naming the leader).
    std::string reachable;
    for (const std::string& address : addresses) {
      auto channel = channel_to(address);
      if (!channel.ok()) {
        *code = UsageError(ctx, channel.status().message());
        return nullptr;
      }
      auto stub = fleet::v1::ControllerService::NewStub(*channel);
      grpc::ClientContext c;
      PrepareCall(ctx, c);
      c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
      fleet::v1::LeaderResponse leader;
      grpc::Status s = stub->Leader(&c, fleet::v1::LeaderRequest(), &leader);
      if (!s.ok()) continue;
      if (leader.leading()) {
        o.controller = address;
        return stub;
      }
      if (reachable.empty()) reachable = address;
    }
    o.controller = reachable.empty() ? addresses.front() : reachable;
  }
  auto channel = channel_to(o.controller);
  if (!channel.ok()) {
    *code = UsageError(ctx, channel.status().message());
    return nullptr;
  }
  return fleet::v1::ControllerService::NewStub(*std::move(channel));
}

}  // namespace

ControllerCall::ControllerCall(Context& ctx) : stub(Connect(ctx, &code)) {
  PrepareCall(ctx, context);
}

// Every call: a deadline, the caller's token, and who they say they are.
void PrepareCall(Context& ctx, grpc::ClientContext& c) {
  c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(ctx.options.fleet.timeout_seconds)));
  if (!ctx.options.fleet.token.empty()) c.AddMetadata("authorization", "Bearer " + ctx.options.fleet.token);
  c.AddMetadata(proto::kActorMetadataKey, WhoAmI());
}

int Failed(Context& ctx, const grpc::Status& s) {
  std::string where = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                              s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                          ? absl::StrCat(" (controller ", ctx.options.fleet.controller,
                                         ctx.options.fleet.insecure ? ", plaintext" : ", TLS", ")")
                          : "";
  ctx.err << "error: " << s.error_message() << where << "\n";
  return kExitFailed;
}

// "k=v,k2=v2" into a selector; errors name the bad part.
bool ParseSelector(Context& ctx, fleet::v1::Selector* out, int* code) {
  for (absl::string_view part : absl::StrSplit(ctx.options.fleet.selector, ',', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.size() != 2) {
      *code = UsageError(ctx, absl::StrCat("--selector takes k=v[,k=v...]; '", part, "' has no '='"));
      return false;
    }
    if (absl::Status s = proto::ValidateLabel(kv[0], kv[1]); !s.ok()) {
      *code = UsageError(ctx, s.message());
      return false;
    }
    (*out->mutable_match_labels())[kv[0]] = kv[1];
  }
  return true;
}

// Columns padded to their widest cell.
void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

std::string Labels(const google::protobuf::Map<std::string, std::string>& labels) {
  std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(absl::StrCat(k, "=", v));
  return parts.empty() ? "-" : absl::StrJoin(parts, ",");
}

nlohmann::json TenantJson(const fleet::v1::Tenant& t) {
  return {{"id", t.id()},
          {"agent", t.agent()},
          {"labels", std::map<std::string, std::string>(t.labels().begin(), t.labels().end())},
          {"heads", std::vector<std::string>(t.heads().begin(), t.heads().end())},
          {"dirty", t.dirty()},
          {"drifted_revisions",
           std::vector<std::string>(t.drifted_revisions().begin(), t.drifted_revisions().end())},
          {"reachable", t.reachable()},
          {"last_seen", t.last_seen()},
          {"error", t.error()}};
}

}  // namespace fleet::cli
