// ControllerServiceImpl: the gRPC ControllerService over the inventory.
// Validates every request before it touches anything; a refused request
// leaves the inventory unchanged. Thread-safe (its parts are).
#ifndef FLEET_CONTROLLER_CONTROLLER_SERVICE_H_
#define FLEET_CONTROLLER_CONTROLLER_SERVICE_H_

#include "controller/agent_client.h"
#include "controller/auth.h"
#include "controller/fleet_view.h"
#include "controller/inventory.h"
#include "controller/poller.h"
#include "controller/rollout_plan.h"
#include "migrations/lint.h"
#include "controller/rollout_runner.h"
#include "fleet/v1/controller.grpc.pb.h"

namespace fleet::controller {

class ControllerServiceImpl final : public fleet::v1::ControllerService::Service {
 public:
  // Everything is borrowed and must outlive the service. `agents` should
  // follow bundles (AgentClient::FollowBundles). `auth` decides who may call what
  // (see auth.h).
  ControllerServiceImpl(Inventory& inventory, AgentClient& agents, Poller& poller,
                        BundleGraphs& graphs, RolloutRunner& runner, const Authorizer& auth)
      : inventory_(inventory),
        agents_(agents),
        poller_(poller),
        graphs_(graphs),
        runner_(runner),
        auth_(auth) {}

  grpc::Status AddAgent(grpc::ServerContext*, const fleet::v1::AddAgentRequest*,
                        fleet::v1::AddAgentResponse*) override;
  grpc::Status ListAgents(grpc::ServerContext*, const fleet::v1::ListAgentsRequest*,
                          fleet::v1::ListAgentsResponse*) override;
  grpc::Status RemoveAgent(grpc::ServerContext*, const fleet::v1::RemoveAgentRequest*,
                           fleet::v1::RemoveAgentResponse*) override;
  grpc::Status ListTenants(grpc::ServerContext*, const fleet::v1::ListFleetTenantsRequest*,
                           fleet::v1::ListFleetTenantsResponse*) override;
  grpc::Status LabelTenant(grpc::ServerContext*, const fleet::v1::LabelTenantRequest*,
                           fleet::v1::LabelTenantResponse*) override;
  grpc::Status RemoveTenant(grpc::ServerContext*, const fleet::v1::RemoveTenantRequest*,
                            fleet::v1::RemoveTenantResponse*) override;
  grpc::Status TenantHistory(grpc::ServerContext*, const fleet::v1::TenantHistoryRequest*,
                             fleet::v1::TenantHistoryResponse*) override;
  grpc::Status TenantDiff(grpc::ServerContext*, const fleet::v1::TenantDiffRequest*,
                          fleet::v1::TenantDiffResponse*) override;
  grpc::Status PushBundle(grpc::ServerContext*,
                          grpc::ServerReader<fleet::v1::PushBundleRequest>*,
                          fleet::v1::PushBundleResponse*) override;
  grpc::Status ListBundles(grpc::ServerContext*, const fleet::v1::ListBundlesRequest*,
                           fleet::v1::ListBundlesResponse*) override;
  grpc::Status GetBundle(grpc::ServerContext*, const fleet::v1::GetBundleRequest*,
                         fleet::v1::GetBundleResponse*) override;
  grpc::Status Status(grpc::ServerContext*, const fleet::v1::StatusRequest*,
                      fleet::v1::StatusResponse*) override;
  grpc::Status PlanRollout(grpc::ServerContext*, const fleet::v1::RolloutSpec*,
                           fleet::v1::RolloutPlan*) override;
  grpc::Status StartRollout(grpc::ServerContext*, const fleet::v1::RolloutSpec*,
                            fleet::v1::Rollout*) override;
  grpc::Status GetRollout(grpc::ServerContext*, const fleet::v1::GetRolloutRequest*,
                          fleet::v1::Rollout*) override;
  grpc::Status ListRollouts(grpc::ServerContext*, const fleet::v1::ListRolloutsRequest*,
                            fleet::v1::ListRolloutsResponse*) override;
  grpc::Status RolloutAction(grpc::ServerContext*, const fleet::v1::RolloutActionRequest*,
                             fleet::v1::Rollout*) override;

  grpc::Status Leader(grpc::ServerContext*, const fleet::v1::LeaderRequest*,
                      fleet::v1::LeaderResponse*) override;
  // What Leader answers; unset: leading (a controller that is alone).
  void SetLeadership(std::function<fleet::v1::LeaderResponse()> leadership) {
    leadership_ = std::move(leadership);
  }

  // The read-only calls without a gRPC caller to check: for the dashboard,
  // which identified its caller by a session (viewer role or above).
  grpc::Status ReadListAgents(const fleet::v1::ListAgentsRequest* req, fleet::v1::ListAgentsResponse* resp);
  grpc::Status ReadListTenants(const fleet::v1::ListFleetTenantsRequest* req, fleet::v1::ListFleetTenantsResponse* resp);
  grpc::Status ReadTenantHistory(const fleet::v1::TenantHistoryRequest* req, fleet::v1::TenantHistoryResponse* resp);
  grpc::Status ReadStatus(const fleet::v1::StatusRequest* req, fleet::v1::StatusResponse* resp);
  grpc::Status ReadGetRollout(const fleet::v1::GetRolloutRequest* req, fleet::v1::Rollout* resp);
  grpc::Status ReadTenantDiff(const fleet::v1::TenantDiffRequest* req,
                              fleet::v1::TenantDiffResponse* resp);
  grpc::Status ReadListRollouts(const fleet::v1::ListRolloutsRequest* req, fleet::v1::ListRolloutsResponse* resp);

 private:
  Inventory& inventory_;
  AgentClient& agents_;
  Poller& poller_;
  BundleGraphs& graphs_;
  RolloutRunner& runner_;
  const Authorizer& auth_;
  std::function<fleet::v1::LeaderResponse()> leadership_;

  // OK when the caller may read (any authenticated role).
  grpc::Status AllowViewer(const grpc::ServerContext& ctx) const;

  struct Planned {
    fleet::v1::RolloutSpec spec;
    BundleRecord bundle;
    RolloutPlanResult plan;
    // Lint of every revision some planned tenant would run.
    std::vector<migrations::LintFinding> lint;
  };
  absl::StatusOr<Planned> Plan(const fleet::v1::RolloutSpec& request);
  absl::StatusOr<fleet::v1::Rollout> Load(const std::string& id);
};

}  // namespace fleet::controller

#endif  // FLEET_CONTROLLER_CONTROLLER_SERVICE_H_
