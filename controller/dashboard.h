// The dashboard: read-only pages for people on the controller's HTTP
// address — the fleet at a glance, a tenant, the rollouts, one rollout live
// (Server-Sent Events) — and the small JSON API under /api/v1/ they use.
//
//   GET  /                      the pages (one HTML file; views by #/fleet, #/tenant/ID, ...)
//   GET  /assets/NAME           its script and style, compiled into the binary
//   GET  /signin, POST /signin  sign in with a token auth.toml knows (form field `token`)
//   POST /signout
//   GET  /api/v1/status         as `fleetctl status -o json` reads it (StatusResponse)
//   GET  /api/v1/tenants/ID     the tenant and its history across rollouts
//   GET  /api/v1/rollouts       the rollouts, newest first
//   GET  /api/v1/rollouts/ID    one rollout and its tenants
//   GET  /api/v1/rollouts/ID/events   text/event-stream: the rollout on every change
//
// With an auth config, every page and call needs a session: a random id in
// an HttpOnly, SameSite=Strict cookie (Secure when `tls`), kept in memory
// by its SHA-256, expiring after `session_ttl`. Without one a page answers
// with the sign-in page (401) and the API with 401. Without an auth config
// (a loopback development controller) nobody is asked, as on gRPC.
// Every answer carries a strict Content-Security-Policy: no inline script,
// nothing from elsewhere; the pages build the DOM from text, never HTML.
//
// Threads: httplib calls handlers from its pool; everything here is
// guarded or per-request.
#ifndef FLEET_CONTROLLER_DASHBOARD_H_
#define FLEET_CONTROLLER_DASHBOARD_H_

#include <httplib.h>

#include <atomic>
#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/auth.h"
#include "controller/controller_service.h"

namespace fleet::controller {

struct DashboardOptions {
  bool tls = false;  // the HTTP endpoint serves TLS: cookies are Secure
  absl::Duration session_ttl = absl::Hours(8);
  size_t max_sessions = 10000;          // the oldest go first
  int max_event_streams = 32;           // open /events at once
  absl::Duration event_poll = absl::Milliseconds(250);
  absl::Duration event_heartbeat = absl::Seconds(5);  // finds a closed client
};

class Dashboard {
 public:
  // Both borrowed; they must outlive the server the dashboard is added to.
  Dashboard(ControllerServiceImpl& service, const Authorizer& auth, DashboardOptions options)
      : service_(service), auth_(auth), options_(options) {}
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;
  ~Dashboard() { Stop(); }

  // Ends the live views at their next poll; call before stopping the HTTP
  // server, whose shutdown waits for them.
  void Stop() { stopping_ = true; }

  // Registers every route on `server`; this must outlive it.
  void Register(httplib::Server& server);

 private:
  struct Session {
    std::string name;
    Role role = Role::kViewer;
    absl::Time expires;
    // SHA-256 of the token it signed in with (as auth.toml holds it): a
    // token a reloaded config drops, or demotes, ends its sessions.
    std::string token_sha256;
  };
  // Who sent `req`: nullopt when it proves nobody (no cookie, an unknown or
  // expired session). Everyone, as "anonymous", without an auth config.
  std::optional<Session> Caller(const httplib::Request& req) ABSL_LOCKS_EXCLUDED(mu_);
  // The same by the session id itself (the cookie's value).
  std::optional<Session> SessionById(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  // A new session for `name`; returns its id (the cookie's value).
  std::string NewSession(const std::string& name, Role role, const std::string& token_sha256)
      ABSL_LOCKS_EXCLUDED(mu_);
  void EndSession(const httplib::Request& req) ABSL_LOCKS_EXCLUDED(mu_);
  std::string Cookie(const std::string& value, absl::Duration max_age) const;
  const char* CookieName() const;

  ControllerServiceImpl& service_;
  const Authorizer& auth_;
  const DashboardOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> streams_{0};
  absl::Mutex mu_;
  std::map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);  // by SHA-256 of the id
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_DASHBOARD_H_
