#include "controller/poller.h"

#include <algorithm>
#include <future>

#include "absl/strings/str_cat.h"
#include "migrations/status_macros.h"
#include "serving/log.h"

namespace fleet::controller {

Poller::Poller(Inventory& inventory, AgentClient& client, Metrics& metrics, Clock& clock,
               Options options)
    : inventory_(inventory), client_(client), metrics_(metrics), clock_(clock), options_(options) {}

Poller::~Poller() { Stop(); }

void Poller::Start() {
  thread_ = std::thread([this] {
    while (!stop_) {
      if (absl::Status s = PollAll(); !s.ok()) {
        spdlog::error("event=poll-failed error=\"{}\"", s.message());
      }
      clock_.SleepUntil(clock_.Now() + options_.interval, [this] { return stop_.load(); });
    }
  });
}

void Poller::Stop() {
  stop_ = true;
  clock_.Wake();
  if (thread_.joinable()) thread_.join();
}

absl::Status Poller::PollAll() {
  auto agents = inventory_.ListAgents();
  if (!agents.ok()) return agents.status();
  std::vector<std::future<absl::Status>> polls;
  for (const AgentRecord& a : *agents) {
    polls.push_back(std::async(std::launch::async, [this, address = a.address] {
      return PollAgent(address);
    }));
  }
  // An agent that cannot be reached is recorded (and logged) by PollAgent;
  // what is left to report is an inventory that cannot be written.
  absl::Status first;
  for (auto& p : polls) {
    absl::Status s = p.get();
    if (!s.ok() && !absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s) && first.ok()) {
      first = s;
    }
  }
  if (options_.after_poll) options_.after_poll();
  return first;
}

absl::Status Poller::PollAgent(const std::string& address) {
  absl::Time start = clock_.Now();
  // The newest bundle's digest comes from the listing (no script contents);
  // the scripts are read only for an agent that has not been sent them yet.
  auto bundles = inventory_.ListBundles();
  if (!bundles.ok()) return bundles.status();
  std::string digest;
  auto send = [&]() -> absl::Status {
    auto full = inventory_.GetBundle(digest);
    if (!full.ok()) return full.status();
    absl::Status sent = client_.PutBundle(address, *full);
    if (!sent.ok()) {
      spdlog::warn("agent={} bundle={} event=bundle-not-sent error=\"{}\"", address,
                   digest.substr(0, 12), sent.message());
      return sent;
    }
    spdlog::info("agent={} bundle={} event=bundle-sent", address, digest.substr(0, 12));
    absl::MutexLock lock(&mu_);
    has_bundle_.insert({address, digest});
    return absl::OkStatus();
  };
  if (!bundles->empty()) {
    digest = bundles->front().digest;
    bool sent;
    {
      absl::MutexLock lock(&mu_);
      sent = has_bundle_.count({address, digest}) > 0;
    }
    // Not sent yet: send it now. A failure shows in the listing below
    // (bundle_missing), and the next poll tries again.
    if (!sent && send().ok()) sent = true;
  }
  absl::StatusOr<AgentListing> listing = client_.ListTenants(address, digest);
  metrics_.ObservePoll(clock_.Now() - start);
  if (listing.ok()) {
    bool restarted = false;
    {
      absl::MutexLock lock(&mu_);
      std::string& known = instance_of_[address];
      restarted = !known.empty() && known != listing->instance_id;
      known = listing->instance_id;
      if (restarted || listing->bundle_missing) {
        // Forget what it had: it may have come back with an empty cache.
        for (auto it = has_bundle_.begin(); it != has_bundle_.end();) {
          it = it->first == address ? has_bundle_.erase(it) : std::next(it);
        }
      }
    }
    if (restarted) spdlog::info("agent={} event=agent-restarted", address);
    if (listing->bundle_missing && !digest.empty() && send().ok()) {
      // Read again, now with the drift check the missing bundle prevented.
      listing = client_.ListTenants(address, digest);
    }
  }

  absl::MutexLock lock(&poll_mu_);
  auto agents = inventory_.ListAgents();
  if (!agents.ok()) return agents.status();
  auto it = std::find_if(agents->begin(), agents->end(),
                         [&](const AgentRecord& a) { return a.address == address; });
  if (it == agents->end()) return absl::NotFoundError(absl::StrCat("no agent ", address));
  AgentRecord agent = *it;
  if (!listing.ok()) {
    ++agent.missed_polls;
    agent.last_error = std::string(listing.status().message());
    spdlog::warn("agent={} event=poll-missed missed={} error=\"{}\"", address,
                 agent.missed_polls, agent.last_error);
    if (agent.missed_polls >= options_.missed_before_down) {
      if (agent.state != "down") spdlog::warn("agent={} event=agent-down", address);
      agent.state = "down";
      RETURN_IF_ERROR(inventory_.SetAgentTenantsReachable(address, false));
    }
    RETURN_IF_ERROR(inventory_.UpdateAgent(agent));
    return listing.status();
  }
  absl::Status stored = inventory_.ReplaceAgentTenants(address, listing->tenants);
  if (!stored.ok()) {
    spdlog::error("agent={} event=tenants-not-recorded error=\"{}\"", address, stored.message());
  }
  if (agent.state != "up") spdlog::info("agent={} event=agent-up", address);
  agent.state = "up";
  agent.missed_polls = 0;
  agent.last_seen = clock_.NowText();
  agent.version = listing->version;
  agent.last_error = stored.ok() ? "" : std::string(stored.message());
  RETURN_IF_ERROR(inventory_.UpdateAgent(agent));
  return stored;
}

}  // namespace fleet::controller
