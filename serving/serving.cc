#include "serving/serving.h"

#include <sys/prctl.h>

#include <csignal>
#include <cstdio>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include "spdlog/sinks/stdout_sinks.h"
#include "serving/log.h"

namespace fleet::serving {

void ProtectProcess() {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  std::signal(SIGPIPE, SIG_IGN);
}

absl::StatusOr<GrpcServer> StartGrpcServer(const std::string& address,
                                           std::shared_ptr<grpc::ServerCredentials> credentials,
                                           const std::vector<grpc::Service*>& services,
                                           int max_receive_bytes, int max_send_bytes) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  GrpcServer out;
  builder.AddListeningPort(address, std::move(credentials), &out.port);
  builder.SetMaxReceiveMessageSize(max_receive_bytes);
  builder.SetMaxSendMessageSize(max_send_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  out.server = builder.BuildAndStart();
  if (!out.server || out.port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  return out;
}

void WaitForStop(const sigset_t& signals, const std::function<void()>& on_hangup) {
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    if (on_hangup) on_hangup();
  }
}

sigset_t BlockSignals(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

HttpEndpoint::~HttpEndpoint() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

absl::StatusOr<int> HttpEndpoint::Start(const std::string& address) {
  if (!server_->is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot serve HTTPS on ", address, ": the certificate or key would not load"));
  }
  size_t colon = address.rfind(':');
  int want = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &want) ||
      want < 0 || want > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address '", address, "' is not host:port"));
  }
  std::string host = address.substr(0, colon);
  int port =
      want == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, want) ? want : -1);
  if (port <= 0) return absl::UnavailableError(absl::StrCat("cannot serve HTTP on ", address));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return port;
}

void WritePortFile(const std::string& path, const std::string& contents) {
  std::ofstream(path + ".tmp") << contents;
  std::rename((path + ".tmp").c_str(), path.c_str());
}

void InitLogging(const std::string& program) {
  auto logger = spdlog::stderr_logger_mt(program);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %n %v", spdlog::pattern_time_type::utc);
  // Every line reaches the file at once: a killed process loses none.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace fleet::serving
