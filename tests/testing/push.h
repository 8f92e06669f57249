// Pushing a bundle to a ControllerService stub the way fleetctl does: a
// stream of pieces (proto::BundlePieces), or any pieces a test makes up.
#ifndef FLEET_TESTS_TESTING_PUSH_H_
#define FLEET_TESTS_TESTING_PUSH_H_

#include <grpcpp/grpcpp.h>

#include <vector>

#include "fleet/v1/controller.grpc.pb.h"

namespace fleet::testing {

inline grpc::Status PushPieces(fleet::v1::ControllerService::StubInterface& stub,
                               grpc::ClientContext* ctx,
                               const std::vector<fleet::v1::Bundle>& pieces,
                               fleet::v1::PushBundleResponse* resp) {
  auto writer = stub.PushBundle(ctx, resp);
  for (const auto& piece : pieces) {
    fleet::v1::PushBundleRequest req;
    *req.mutable_bundle() = piece;
    if (!writer->Write(req)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_PUSH_H_
