#include "controller/dashboard.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/rand.h>

#include <chrono>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "controller/dashboard_assets.h"
#include "migrations/script.h"
#include "nlohmann/json.hpp"
#include "proto/validate.h"
#include "serving/log.h"

namespace fleet::controller {
namespace {

// With TLS the __Host- prefix: the browser keeps it only from this host,
// over HTTPS, for every path.
constexpr char kCookie[] = "fleet_session";
constexpr char kSecureCookie[] = "__Host-fleet_session";

// A form post from another site (login CSRF): its Origin is not this host,
// or the browser says it is cross-site.
bool CrossSite(const httplib::Request& req) {
  // Browsers say where a request comes from; with Referrer-Policy
  // no-referrer their Origin is "null", so Sec-Fetch-Site decides first.
  const std::string site = req.get_header_value("Sec-Fetch-Site");
  if (!site.empty()) return site != "same-origin" && site != "none";
  const std::string origin_header = req.get_header_value("Origin");  // a copy: it must outlive `origin`
  absl::string_view origin = origin_header;
  if (origin.empty() || origin == "null") return false;  // not a browser's cross-site post
  if (!absl::ConsumePrefix(&origin, "https://")) absl::ConsumePrefix(&origin, "http://");
  return origin != req.get_header_value("Host");
}

// No inline script or style, nothing from elsewhere, no framing.
constexpr char kPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

void Secure(httplib::Response& res) {
  res.set_header("Content-Security-Policy", kPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Cache-Control", "no-store");
}

const serving::EmbeddedFile* FindAsset(absl::string_view name) {
  return serving::FindEmbedded(DashboardAssets(), std::string_view(name.data(), name.size()));
}

std::string ContentType(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(name, ".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

void SendAsset(httplib::Response& res, const serving::EmbeddedFile& a, int status = 200) {
  Secure(res);
  res.status = status;
  res.set_content(a.bytes().data(), a.size, ContentType(a.name));
}

// The sign-in page, with `message` (a constant of ours, escaped anyway) in
// its placeholder.
void SendSignIn(httplib::Response& res, int status, absl::string_view message) {
  std::string html(FindAsset("signin.html")->bytes());
  std::string escaped = absl::StrReplaceAll(
      message, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
  html = absl::StrReplaceAll(html, {{"<!--message-->", escaped}});
  Secure(res);
  res.status = status;
  res.set_content(html, "text/html; charset=utf-8");
}

void SendJson(httplib::Response& res, const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  Secure(res);
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    res.status = 500;
    res.set_content(R"({"error":"could not encode the answer"})", "application/json");
    return;
  }
  res.set_content(json, "application/json");
}

void SendError(httplib::Response& res, const grpc::Status& s) {
  Secure(res);
  switch (s.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      res.status = 404;
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      res.status = 400;
      break;
    default:
      res.status = 500;
  }
  std::string message = s.error_message();
  if (res.status == 500) {
    spdlog::warn("event=dashboard-read-failed error=\"{}\"", message);
    message = "the controller could not read its inventory; see its log";
  }
  res.set_content(nlohmann::json{{"error", message}}.dump(), "application/json");
}

std::string NewId() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return "";
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

// The value of cookie `name` in `req`, or "".
std::string CookieValue(const httplib::Request& req, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(req.get_header_value("Cookie"), ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}


}  // namespace

std::optional<Dashboard::Session> Dashboard::Caller(const httplib::Request& req) {
  return SessionById(CookieValue(req, CookieName()));
}

std::optional<Dashboard::Session> Dashboard::SessionById(const std::string& id) {
  if (!auth_.Checks()) return Session{"anonymous", Role::kViewer, absl::InfiniteFuture(), ""};
  if (id.empty()) return std::nullopt;
  const std::string key = migrations::Sha256Hex(id);
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  // Expired, or its token dropped or demoted by a reload of auth.toml.
  auto who = auth_.IdentifyDigest(it->second.token_sha256);
  if (it->second.expires <= absl::Now() || !who.ok() || who->name != it->second.name ||
      who->role != it->second.role) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

std::string Dashboard::NewSession(const std::string& name, Role role,
                                  const std::string& token_sha256) {
  std::string id = NewId();
  if (id.empty()) return id;
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.expires <= now ? sessions_.erase(it) : std::next(it);
  }
  while (sessions_.size() >= options_.max_sessions) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.expires < oldest->second.expires) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_[migrations::Sha256Hex(id)] =
      Session{name, role, now + options_.session_ttl, token_sha256};
  return id;
}

const char* Dashboard::CookieName() const { return options_.tls ? kSecureCookie : kCookie; }

void Dashboard::EndSession(const httplib::Request& req) {
  const std::string id = CookieValue(req, CookieName());
  if (id.empty()) return;
  absl::MutexLock lock(&mu_);
  sessions_.erase(migrations::Sha256Hex(id));
}

std::string Dashboard::Cookie(const std::string& value, absl::Duration max_age) const {
  return absl::StrCat(CookieName(), "=", value, "; Path=/; HttpOnly; SameSite=Strict; Max-Age=",
                      absl::ToInt64Seconds(max_age), options_.tls ? "; Secure" : "");
}

void Dashboard::Register(httplib::Server& server) {
  // Each live view holds a worker while it is open: room for all of them
  // and for the pages, /healthz and /metrics besides.
  server.new_task_queue = [n = options_.max_event_streams + 16] {
    return new httplib::ThreadPool(static_cast<size_t>(n));
  };
  // Nothing here takes more than a sign-in form.
  server.set_payload_max_length(16 << 10);
  if (options_.tls) {
    server.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
      res.set_header("Strict-Transport-Security", "max-age=31536000");
    });
  }
  // Pages: the sign-in page for whoever proves nobody.
  auto page = [this](const httplib::Request& req, httplib::Response& res) {
    if (!Caller(req)) return SendSignIn(res, 401, "");
    SendAsset(res, *FindAsset("index.html"));
  };
  server.Get("/", page);
  server.Get("/index.html", page);
  // Script and style hold no data: the sign-in page needs them too.
  server.Get(R"(/assets/([a-z]+\.(js|css|svg)))",
             [](const httplib::Request& req, httplib::Response& res) {
               const serving::EmbeddedFile* a = FindAsset(req.matches[1].str());
               if (a == nullptr) {
                 Secure(res);
                 res.status = 404;
                 return;
               }
               SendAsset(res, *a);
             });
  server.Get("/signin", [this](const httplib::Request& req, httplib::Response& res) {
    if (Caller(req)) {
      Secure(res);
      return res.set_redirect("/", 303);
    }
    SendSignIn(res, 200, "");
  });
  server.Post("/signin", [this](const httplib::Request& req, httplib::Response& res) {
    if (CrossSite(req)) {
      spdlog::warn("event=dashboard-signin-refused reason=cross-site peer={}", req.remote_addr);
      return SendSignIn(res, 403, "Sign in from this controller's own page.");
    }
    // From the form only: a token in the URL would reach logs and history.
    if (absl::StrContains(req.target, "?")) {
      return SendSignIn(res, 400, "Send the token in the form, not in the address.");
    }
    EndSession(req);  // a new sign-in replaces the old session
    const std::string token = req.get_param_value("token");
    auto who = auth_.Checks() ? auth_.IdentifyToken(token)
                              : absl::StatusOr<Authorizer::Identity>(
                                    Authorizer::Identity{"anonymous", Role::kViewer});
    if (!who.ok()) {
      spdlog::warn("event=dashboard-signin-refused peer={}", req.remote_addr);
      return SendSignIn(res, 401, "That token is not one this controller knows.");
    }
    const std::string id = NewSession(who->name, who->role, migrations::Sha256Hex(token));
    if (id.empty()) return SendSignIn(res, 500, "No session could be made; try again.");
    spdlog::info("event=dashboard-signin name=\"{}\" role={} peer={}", who->name,
                 RoleName(who->role), req.remote_addr);
    Secure(res);
    res.set_header("Set-Cookie", Cookie(id, options_.session_ttl));
    res.set_redirect("/", 303);
  });
  server.Post("/signout", [this](const httplib::Request& req, httplib::Response& res) {
    if (CrossSite(req)) {
      Secure(res);
      res.status = 403;
      return;
    }
    EndSession(req);
    Secure(res);
    res.set_header("Set-Cookie", Cookie("", absl::ZeroDuration()));
    res.set_redirect("/signin", 303);
  });

  // The API: 401 for whoever proves nobody.
  auto api = [this](auto handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      std::optional<Session> who = Caller(req);
      if (!who) {
        Secure(res);
        res.status = 401;
        res.set_content(R"({"error":"sign in first: POST /signin with a token"})",
                        "application/json");
        return;
      }
      handler(req, res);
    };
  };
  server.Get("/api/v1/status", api([this](const httplib::Request&, httplib::Response& res) {
               fleet::v1::StatusRequest in;
               fleet::v1::StatusResponse out;
               grpc::Status s = service_.ReadStatus(&in, &out);
               return s.ok() ? SendJson(res, out) : SendError(res, s);
             }));
  server.Get(R"(/api/v1/tenants/([^/]+))",
             api([this](const httplib::Request& req, httplib::Response& res) {
               const std::string id = req.matches[1].str();
               if (absl::Status v = proto::ValidateTenantId(id); !v.ok()) {
                 return SendError(res, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                    std::string(v.message())));
               }
               fleet::v1::StatusRequest in;
               in.mutable_selector()->add_ids(id);
               fleet::v1::StatusResponse status;
               grpc::Status s = service_.ReadStatus(&in, &status);
               if (!s.ok()) return SendError(res, s);
               if (status.tenants_size() == 0) {
                 return SendError(res, grpc::Status(grpc::StatusCode::NOT_FOUND,
                                                    absl::StrCat("no tenant ", id)));
               }
               fleet::v1::TenantHistoryRequest hin;
               hin.set_tenant_id(id);
               fleet::v1::TenantHistoryResponse history;
               s = service_.ReadTenantHistory(&hin, &history);
               if (!s.ok()) return SendError(res, s);
               // One answer: the status row and the history, side by side.
               fleet::v1::StatusResponse one;
               *one.add_tenants() = status.tenants(0);
               one.set_head_bundle(status.head_bundle());
               *one.mutable_heads() = status.heads();
               std::string row, past;
               google::protobuf::util::JsonPrintOptions o;
               o.preserve_proto_field_names = true;
               o.always_print_primitive_fields = true;
               if (!google::protobuf::util::MessageToJsonString(one, &row, o).ok() ||
                   !google::protobuf::util::MessageToJsonString(history, &past, o).ok()) {
                 return SendError(res, grpc::Status(grpc::StatusCode::INTERNAL, "encoding"));
               }
               Secure(res);
               res.set_content(absl::StrCat(R"({"status":)", row, R"(,"history":)", past, "}"),
                               "application/json");
             }));
  // Asks the tenant's agent now: how its real schema differs from what its
  // revisions build (as fleetctl tenants diff).
  server.Get(R"(/api/v1/tenants/([^/]+)/diff)",
             api([this](const httplib::Request& req, httplib::Response& res) {
               fleet::v1::TenantDiffRequest in;
               in.set_tenant_id(req.matches[1].str());
               fleet::v1::TenantDiffResponse out;
               grpc::Status s = service_.ReadTenantDiff(&in, &out);
               if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND &&
                   s.error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
                 // The agent's answer (unreachable, no bundle) is the user's to see.
                 Secure(res);
                 res.status = 502;
                 res.set_content(nlohmann::json{{"error", s.error_message()}}.dump(),
                                 "application/json");
                 return;
               }
               return s.ok() ? SendJson(res, out) : SendError(res, s);
             }));
  server.Get("/api/v1/rollouts", api([this](const httplib::Request&, httplib::Response& res) {
               fleet::v1::ListRolloutsRequest in;
               fleet::v1::ListRolloutsResponse out;
               grpc::Status s = service_.ReadListRollouts(&in, &out);
               return s.ok() ? SendJson(res, out) : SendError(res, s);
             }));
  server.Get(R"(/api/v1/rollouts/([A-Za-z0-9-]+))",
             api([this](const httplib::Request& req, httplib::Response& res) {
               fleet::v1::GetRolloutRequest in;
               in.set_id(req.matches[1].str());
               fleet::v1::Rollout out;
               grpc::Status s = service_.ReadGetRollout(&in, &out);
               return s.ok() ? SendJson(res, out) : SendError(res, s);
             }));
  server.Get(
      R"(/api/v1/rollouts/([A-Za-z0-9-]+)/events)",
      api([this](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1].str();
        {
          // An unknown rollout is a 404 (EventSource does not retry that).
          fleet::v1::GetRolloutRequest in;
          in.set_id(id);
          fleet::v1::Rollout r;
          if (grpc::Status s = service_.ReadGetRollout(&in, &r); !s.ok()) return SendError(res, s);
        }
        if (streams_.fetch_add(1) >= options_.max_event_streams) {
          --streams_;
          Secure(res);
          res.status = 503;
          res.set_content(R"({"error":"too many live views open"})", "application/json");
          return;
        }
        Secure(res);
        res.set_header("X-Accel-Buffering", "no");
        // The rollout as JSON each time it changes, for as long as the
        // page is open (even a finished rollout can be rolled back); a
        // comment every few seconds finds a closed client and keeps proxies
        // from closing a quiet stream. Ends when the client goes, its
        // session ends, or the controller stops.
        res.set_chunked_content_provider(
            "text/event-stream",
            [this, id, session = CookieValue(req, CookieName()), last = std::string(),
             quiet = absl::Time()](size_t, httplib::DataSink& sink) mutable {
              while (!stopping_ && sink.is_writable()) {
                if (!SessionById(session)) return false;
                fleet::v1::GetRolloutRequest in;
                in.set_id(id);
                fleet::v1::Rollout r;
                grpc::Status s = service_.ReadGetRollout(&in, &r);
                std::string json;
                google::protobuf::util::JsonPrintOptions o;
                o.preserve_proto_field_names = true;
                o.always_print_primitive_fields = true;
                if (!s.ok() || !google::protobuf::util::MessageToJsonString(r, &json, o).ok()) {
                  spdlog::warn("rollout={} event=live-view-failed error=\"{}\"", id,
                               s.ok() ? "encoding" : s.error_message());
                  const std::string e = "event: error\ndata: {}\n\n";
                  sink.write(e.data(), e.size());
                  sink.done();
                  return true;
                }
                if (json != last) {
                  last = json;
                  quiet = absl::Now();
                  std::string event = absl::StrCat("event: rollout\ndata: ", json, "\n\n");
                  if (!sink.write(event.data(), event.size())) return false;
                } else if (absl::Now() - quiet > options_.event_heartbeat) {
                  quiet = absl::Now();
                  if (!sink.write(": still here\n\n", 14)) return false;
                }
                std::this_thread::sleep_for(absl::ToChronoMilliseconds(options_.event_poll));
              }
              return false;
            },
            [this](bool) { --streams_; });
      }));
}

}  // namespace fleet::controller
