// What the fleet verbs share: one call to fleet-controller (the channel
// its flags describe, a deadline, the caller's token and who they say they
// are) and the shapes their output takes.
#ifndef FLEET_CLI_CONTROLLER_CALL_H_
#define FLEET_CLI_CONTROLLER_CALL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "fleet/v1/controller.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

using Stub = fleet::v1::ControllerService::Stub;

// One call to the controller: the stub, and a context with the deadline,
// the token and the actor set. When the flags do not make a channel,
// `stub` is null and `code` is the exit code (the error was printed).
struct ControllerCall {
  explicit ControllerCall(Context& ctx);
  int code = kExitOk;
  std::unique_ptr<Stub> stub;
  grpc::ClientContext context;
};

// An action of a fleet verb, given its open call.
using FleetAction = int (*)(Context&, ControllerCall&);

// The handler of a table entry: opens the call, then runs `F` with it.
template <FleetAction F>
int WithController(Context& ctx) {
  ControllerCall call(ctx);
  if (!call.stub) return call.code;
  return F(ctx, call);
}

// Another call on the same connection settings (a watch's next poll).
void PrepareCall(Context& ctx, grpc::ClientContext& c);

// A failed call: its message, and where the controller was when it could
// not be reached. Exit 3.
int Failed(Context& ctx, const grpc::Status& s);

// --selector k=v,k2=v2 into `out`; false (and `code` set) when it is wrong.
bool ParseSelector(Context& ctx, fleet::v1::Selector* out, int* code);

// Columns padded to their widest cell.
void PrintTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows);
std::string Labels(const google::protobuf::Map<std::string, std::string>& labels);
nlohmann::json TenantJson(const fleet::v1::Tenant& t);

}  // namespace fleet::cli

#endif  // FLEET_CLI_CONTROLLER_CALL_H_
