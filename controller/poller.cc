#include "controller/poller.h"

#include <future>

#include "absl/strings/str_cat.h"

namespace fleet::controller {
namespace {

std::string Now() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
}

}  // namespace

Poller::Poller(Inventory& inventory, AgentClient& client, Metrics& metrics, Options options)
    : inventory_(inventory), client_(client), metrics_(metrics), options_(options) {}

Poller::~Poller() { Stop(); }

void Poller::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      PollAll();
      lock.lock();
      wake_.wait_for(lock, absl::ToChronoMilliseconds(options_.interval), [this] { return stop_; });
    }
  });
}

void Poller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Poller::PollAll() {
  auto agents = inventory_.ListAgents();
  if (!agents.ok()) return;
  std::vector<std::future<absl::Status>> polls;
  for (const AgentRecord& a : *agents) {
    polls.push_back(std::async(std::launch::async, [this, address = a.address] {
      return PollAgent(address);
    }));
  }
  for (auto& p : polls) (void)p.get();  // failures are recorded per agent
}

absl::Status Poller::PollAgent(const std::string& address) {
  absl::Time start = absl::Now();
  // The newest bundle's digest comes from the listing (no script contents);
  // the scripts are read only for an agent that has not been sent them yet.
  auto bundles = inventory_.ListBundles();
  std::string digest;
  if (bundles.ok() && !bundles->empty()) {
    digest = bundles->front().digest;
    bool sent;
    {
      std::lock_guard<std::mutex> lock(mu_);
      sent = has_bundle_.count({address, digest}) > 0;
    }
    if (!sent) {
      auto full = inventory_.GetBundle(digest);
      if (full.ok() && client_.PutBundle(address, *full).ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        has_bundle_.insert({address, digest});
      }
    }
  }
  absl::StatusOr<std::vector<TenantRecord>> tenants = client_.ListTenants(address, digest);
  metrics_.ObservePoll(absl::Now() - start);

  std::lock_guard<std::mutex> lock(poll_mu_);
  auto agents = inventory_.ListAgents();
  if (!agents.ok()) return agents.status();
  auto it = std::find_if(agents->begin(), agents->end(),
                         [&](const AgentRecord& a) { return a.address == address; });
  if (it == agents->end()) return absl::NotFoundError(absl::StrCat("no agent ", address));
  AgentRecord agent = *it;
  if (!tenants.ok()) {
    ++agent.missed_polls;
    agent.last_error = std::string(tenants.status().message());
    if (agent.missed_polls >= options_.missed_before_down) {
      agent.state = "down";
      (void)inventory_.SetAgentTenantsReachable(address, false);
    }
    (void)inventory_.UpdateAgent(agent);
    return tenants.status();
  }
  absl::Status stored = inventory_.ReplaceAgentTenants(address, *tenants);
  agent.state = "up";
  agent.missed_polls = 0;
  agent.last_seen = Now();
  agent.last_error = stored.ok() ? "" : std::string(stored.message());
  (void)inventory_.UpdateAgent(agent);
  return stored;
}

}  // namespace fleet::controller
