#include "agent/agent_service.h"

#include <grpc/grpc_security_constants.h>

#include <atomic>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "agent/read_batches.h"
#include "migrations/autogenerate.h"
#include "migrations/dsn.h"
#include "migrations/migrator.h"
#include "migrations/status_macros.h"
#include "proto/convert.h"
#include "proto/transport.h"
#include "proto/validate.h"
#include "proto/version.h"
#include "serving/log.h"

namespace fleet::agent {
namespace {

// Cancels a migrator's running call when the gRPC caller goes away (its
// deadline passed, the controller died), from construction until
// destruction. Cancel() runs with no lock of ours held (it takes the
// migrator's and connects to the database).
class CancelWhenCallerLeaves {
 public:
  CancelWhenCallerLeaves(grpc::ServerContext* ctx, migrations::Migrator& m)
      : watcher_([this, ctx, &m] {
          while (!done_.WaitForNotificationWithTimeout(absl::Milliseconds(50))) {
            if (ctx->IsCancelled()) {
              m.Cancel();
              return;
            }
          }
        }) {}
  ~CancelWhenCallerLeaves() {
    done_.Notify();
    watcher_.join();
  }
  CancelWhenCallerLeaves(const CancelWhenCallerLeaves&) = delete;
  CancelWhenCallerLeaves& operator=(const CancelWhenCallerLeaves&) = delete;

 private:
  absl::Notification done_;
  std::thread watcher_;
};

constexpr size_t kMaxTargetLength = 256;
constexpr size_t kMaxActorLength = 256;
constexpr size_t kMaxRevisions = 64;

bool IsDigest(const std::string& d) {
  return d.size() == 64 && std::all_of(d.begin(), d.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

absl::Status CheckText(absl::string_view field, const std::string& value, size_t max,
                       bool required) {
  if (required && value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  if (value.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", value.size(), " bytes; the limit is ", max));
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError(absl::StrCat(field, " holds a control character"));
    }
  }
  return absl::OkStatus();
}

std::string NewInstanceId() {
  std::random_device rd;
  return absl::StrFormat("%08x%08x", rd(), rd());
}

// The answer to a call whose bundle could not be had: a missing one carries
// the trailing metadata that tells the controller to send it.
grpc::Status BundleError(grpc::ServerContext* ctx, const absl::Status& s,
                         const std::string& digest) {
  if (absl::IsNotFound(s)) ctx->AddTrailingMetadata("fleet-bundle-missing", digest);
  return proto::ToGrpc(s);
}

}  // namespace

AgentServiceImpl::AgentServiceImpl(AgentConfig config, migrations::FileSystem& fs)
    : config_(std::move(config)),
      fs_(fs),
      instance_id_(NewInstanceId()),
      empty_graph_(*migrations::RevisionGraph::Build({})),
      migrations_(config_.max_concurrent_migrations),
      pool_({config_.max_connections, config_.connection_idle_timeout}) {
  for (const TenantConfig& t : config_.tenants) by_id_[t.id] = &t;
}

absl::Status AgentServiceImpl::CheckPeer(const grpc::ServerContext* ctx) const {
  if (!config_.tls) return absl::OkStatus();
  auto auth = ctx->auth_context();
  std::vector<std::string> names = proto::PeerNames(auth.get());
  for (const auto& n : names) {
    for (const auto& allowed : config_.tls->allowed_clients) {
      if (n == allowed) return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "this agent serves only ", absl::StrJoin(config_.tls->allowed_clients, ", "),
      "; the client certificate names ", names.empty() ? "nobody" : absl::StrJoin(names, ", ")));
}

absl::StatusOr<const TenantConfig*> AgentServiceImpl::FindTenant(const std::string& id) const {
  RETURN_IF_ERROR(CheckText("tenant_id", id, 128, true));
  auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    if (absl::Status s = proto::ValidateTenantId(id); !s.ok()) return s;
    return absl::NotFoundError(absl::StrCat("this agent serves no tenant '", id, "'"));
  }
  return it->second;
}

absl::StatusOr<const TenantConfig*> AgentServiceImpl::PeerTenant(const grpc::ServerContext* ctx,
                                                                 const std::string& id) const {
  RETURN_IF_ERROR(CheckPeer(ctx));
  return FindTenant(id);
}

absl::StatusOr<std::shared_ptr<const AgentServiceImpl::LoadedBundle>>
AgentServiceImpl::StoreBundle(std::string digest, std::vector<migrations::BundleFile> files) {
  if (!IsDigest(digest)) {
    return absl::InvalidArgumentError("bundle digest must be 64 lowercase hex digits");
  }
  RETURN_IF_ERROR(migrations::CheckBundle(digest, files));
  auto graph = migrations::BundleGraph(digest, files);
  if (!graph.ok()) return absl::InvalidArgumentError(graph.status().message());
  std::string dir = migrations::JoinPath(config_.versions_cache, digest);
  if (!fs_.IsDirectory(dir)) {
    // Written into a private directory, then renamed into place whole: a
    // crash leaves a stray temporary directory, never a half-written entry.
    RETURN_IF_ERROR(fs_.CreateDirectories(config_.versions_cache));
    ASSIGN_OR_RETURN(std::string tmp, fs_.MakeTempDirectory(config_.versions_cache, ".incoming-"));
    absl::Status written = absl::OkStatus();
    for (const auto& f : files) {
      written = fs_.WriteNewFile(migrations::JoinPath(tmp, f.filename), f.content);
      if (!written.ok()) break;
    }
    if (written.ok()) written = fs_.RenameDirectory(tmp, dir);
    if (!written.ok()) {
      if (absl::Status removed = fs_.RemoveAll(tmp); !removed.ok()) {
        spdlog::warn("bundle={} event=cache-temp-left path={} error=\"{}\"", digest.substr(0, 12),
                     tmp, removed.message());
      }
      // Another call published the same bundle first: theirs is as good.
      if (!absl::IsAlreadyExists(written)) return written;
    } else {
      spdlog::info("bundle={} event=bundle-cached files={}", digest.substr(0, 12), files.size());
    }
  }
  size_t bytes = 0;
  for (const auto& f : files) bytes += f.content.size();
  auto loaded = std::make_shared<LoadedBundle>();
  loaded->digest = digest;
  loaded->graph = *std::move(graph);  // holds the scripts; the files are not kept twice
  std::shared_ptr<const LoadedBundle> shared = loaded;
  bundles_.Put(digest, {shared, bytes});
  return shared;
}

absl::StatusOr<std::shared_ptr<const AgentServiceImpl::LoadedBundle>>
AgentServiceImpl::CachedBundle(const std::string& digest) {
  if (!IsDigest(digest)) {
    return absl::InvalidArgumentError("bundle_digest must be 64 lowercase hex digits");
  }
  if (auto memory = bundles_.Find(digest)) return memory;
  std::string dir = migrations::JoinPath(config_.versions_cache, digest);
  if (!fs_.IsDirectory(dir)) {
    return absl::NotFoundError(absl::StrCat("bundle ", digest.substr(0, 12),
                                            " is not cached on this agent; send its scripts"));
  }
  // The cache is re-checked: a tampered or damaged file must not run. A
  // damaged entry is removed and reported missing, so that the controller
  // sends the bundle again: never an error that sticks.
  auto files = migrations::ReadBundleFiles(fs_, dir);
  absl::StatusOr<std::shared_ptr<const LoadedBundle>> loaded =
      files.ok() ? StoreBundle(digest, *std::move(files)) : files.status();
  if (loaded.ok()) return loaded;
  spdlog::warn("bundle={} event=cache-entry-damaged error=\"{}\"", digest.substr(0, 12),
               loaded.status().message());
  if (absl::Status removed = fs_.RemoveAll(dir); !removed.ok()) {
    spdlog::error("bundle={} event=cache-entry-not-removed error=\"{}\"", digest.substr(0, 12),
                  removed.message());
    return absl::InternalError(absl::StrCat("bundle ", digest.substr(0, 12),
                                            ": its cache entry is damaged and cannot be removed: ",
                                            removed.message()));
  }
  return absl::NotFoundError(absl::StrCat("bundle ", digest.substr(0, 12),
                                          " was damaged in this agent's cache and was removed; "
                                          "send its scripts"));
}

absl::StatusOr<std::shared_ptr<const AgentServiceImpl::LoadedBundle>>
AgentServiceImpl::ResolveBundle(const fleet::v1::Bundle& bundle, const std::string& digest,
                                bool required) {
  if (bundle.files_size() > 0) {
    if (!digest.empty() && digest != bundle.digest()) {
      return absl::InvalidArgumentError("bundle_digest and bundle.digest disagree");
    }
    return StoreBundle(bundle.digest(), proto::FilesFromProto(bundle));
  }
  std::string d = digest.empty() ? bundle.digest() : digest;
  if (d.empty()) {
    if (required) return absl::InvalidArgumentError("a bundle or a bundle_digest is required");
    return std::shared_ptr<const LoadedBundle>();
  }
  return CachedBundle(d);
}

migrations::MigratorOptions AgentServiceImpl::OptionsFor(const TenantConfig& t,
                                                         const std::string& actor,
                                                         const std::string& rollout_id) const {
  migrations::MigratorOptions o;
  o.dsn = t.dsn;
  o.schema = t.schema;
  o.version_table = t.version_table;
  o.lock_wait = config_.lock_wait;
  o.lock_timeout = config_.lock_timeout;
  o.statement_timeout = config_.statement_timeout;
  o.connect_timeout = config_.connect_timeout;
  o.read_timeout = config_.read_timeout;
  o.retries = config_.retries;
  o.actor = actor.empty() ? "fleet-agent" : actor;
  o.rollout_id = rollout_id;
  o.pool = &pool_;
  return o;
}

fleet::v1::TenantState AgentServiceImpl::ToState(const TenantConfig& t,
                                                 const absl::StatusOr<migrations::DatabaseState>& state) {
  fleet::v1::TenantState out;
  out.set_id(t.id);
  for (const auto& [k, v] : t.labels) (*out.mutable_labels())[k] = v;
  if (!state.ok()) {
    out.set_error(migrations::ScrubSecrets(state.status().message(), t.dsn));
    return out;
  }
  for (const auto& h : state->heads) out.add_heads(h);
  out.set_dirty(state->dirty);
  out.set_dirty_revision(state->dirty_revision);
  for (const auto& d : state->drift) out.add_drifted_revisions(d.revision);
  auto* last = out.mutable_last_migration();
  last->set_revision(state->last_revision);
  last->set_direction(state->last_direction);
  last->set_outcome(state->last_outcome);
  last->set_finished_at(state->last_finished_at);
  return out;
}

fleet::v1::TenantState AgentServiceImpl::Inspect(const TenantConfig& t,
                                                 const migrations::RevisionGraph& graph) {
  migrations::Migrator m(graph, OptionsFor(t, "", ""));
  return ToState(t, m.Inspect());
}

grpc::Status AgentServiceImpl::ListTenants(grpc::ServerContext* ctx,
                                           const fleet::v1::ListTenantsRequest* req,
                                           fleet::v1::ListTenantsResponse* resp) {
  if (absl::Status p = CheckPeer(ctx); !p.ok()) return proto::ToGrpc(p);
  auto bundle = ResolveBundle(req->bundle_digest(), false);
  // An unknown bundle only means no drift check, and a request to send it.
  const migrations::RevisionGraph& graph =
      bundle.ok() && *bundle ? *(*bundle)->graph : *empty_graph_;
  if (!bundle.ok() && absl::IsInvalidArgument(bundle.status())) {
    return proto::ToGrpc(bundle.status());
  }
  resp->set_instance_id(instance_id_);
  resp->set_version(proto::kVersion);
  resp->set_bundle_missing(absl::IsNotFound(bundle.status()));
  // Read tenants in parallel so a slow database does not hold up the rest,
  // with a bounded number of connections (an agent may serve hundreds), and
  // tenants that share a database (schema-per-tenant) share a connection.
  const size_t n = config_.tenants.size();
  std::vector<fleet::v1::TenantState> states(n);
  const size_t workers_wanted = std::max<size_t>(1, config_.max_concurrent_reads);
  const std::vector<ReadBatch> batches = PlanReadBatches(config_.tenants, workers_wanted);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t b = next++; b < batches.size(); b = next++) {
      if (ctx->IsCancelled()) return;  // the caller went away: read no more
      const std::vector<size_t>& batch = batches[b].tenants;
      migrations::MigratorOptions options = OptionsFor(config_.tenants[batch[0]], "", "");
      options.pool_affinity = batches[b].affinity;
      migrations::Migrator m(graph, options);
      std::vector<std::string> schemas;
      for (size_t i : batch) schemas.push_back(config_.tenants[i].schema);
      auto results = m.InspectSchemas(schemas);
      for (size_t k = 0; k < batch.size(); ++k) {
        states[batch[k]] = ToState(config_.tenants[batch[k]], results[k]);
      }
    }
  };
  std::vector<std::thread> workers;
  for (size_t w = 0; w < workers_wanted && w < batches.size(); ++w) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
  if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  for (auto& s : states) *resp->add_tenants() = std::move(s);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::GetTenant(grpc::ServerContext* ctx,
                                         const fleet::v1::GetTenantRequest* req,
                                         fleet::v1::TenantState* resp) {
  auto t = PeerTenant(ctx, req->tenant_id());
  if (!t.ok()) return proto::ToGrpc(t.status());
  auto bundle = ResolveBundle(req->bundle_digest(), false);
  if (!bundle.ok()) return BundleError(ctx, bundle.status(), req->bundle_digest());
  *resp = Inspect(**t, bundle.ok() && *bundle ? *(*bundle)->graph : *empty_graph_);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::PutBundle(grpc::ServerContext* ctx,
                                         const fleet::v1::PutBundleRequest* req,
                                         fleet::v1::PutBundleResponse* resp) {
  if (absl::Status p = CheckPeer(ctx); !p.ok()) return proto::ToGrpc(p);
  auto b = StoreBundle(req->bundle().digest(), proto::FilesFromProto(req->bundle()));
  if (!b.ok()) return proto::ToGrpc(b.status());
  resp->set_digest((*b)->digest);
  for (auto h : (*b)->graph->heads()) resp->add_heads((*b)->graph->id(h));
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::Migrate(grpc::ServerContext* ctx,
                                       const fleet::v1::MigrateRequest* req,
                                       grpc::ServerWriter<fleet::v1::MigrateEvent>* writer) {
  auto t = PeerTenant(ctx, req->tenant_id());
  if (!t.ok()) return proto::ToGrpc(t.status());
  for (absl::Status s : {CheckText("target", req->target(), kMaxTargetLength, true),
                         CheckText("actor", req->actor(), kMaxActorLength, false),
                         CheckText("rollout_id", req->rollout_id(), 128, false)}) {
    if (!s.ok()) return proto::ToGrpc(s);
  }
  if (req->direction() != fleet::v1::MigrateRequest::UPGRADE &&
      req->direction() != fleet::v1::MigrateRequest::DOWNGRADE) {
    return proto::ToGrpc(absl::InvalidArgumentError("direction must be UPGRADE or DOWNGRADE"));
  }
  auto bundle = ResolveBundle(req->bundle(), req->bundle_digest(), true);
  if (!bundle.ok()) return BundleError(ctx, bundle.status(), req->bundle_digest());
  Slot slot(migrations_);
  if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  migrations::Migrator m(*(*bundle)->graph, OptionsFor(**t, req->actor(), req->rollout_id()));
  auto observer = [&](const migrations::StepEvent& e) {
    fleet::v1::MigrateEvent ev;
    switch (e.kind) {
      case migrations::StepEvent::Kind::kStarted:
        ev.set_kind(fleet::v1::MigrateEvent::STARTED);
        break;
      case migrations::StepEvent::Kind::kProgress:
        ev.set_kind(fleet::v1::MigrateEvent::PROGRESS);
        break;
      case migrations::StepEvent::Kind::kSucceeded:
        ev.set_kind(fleet::v1::MigrateEvent::SUCCEEDED);
        break;
      case migrations::StepEvent::Kind::kFailed:
        ev.set_kind(fleet::v1::MigrateEvent::FAILED);
        break;
    }
    ev.set_rows(e.rows);
    ev.set_batches(e.batches);
    ev.set_resumed(e.resumed_rows >= 0);
    ev.set_rows_per_second(e.rows_per_second);
    ev.set_revision(e.revision);
    ev.set_direction(std::string(migrations::DirectionName(e.direction)));
    for (const auto& r : e.from_revisions) ev.add_from_revisions(r);
    for (const auto& r : e.to_revisions) ev.add_to_revisions(r);
    ev.set_duration_ms(absl::ToInt64Milliseconds(e.duration));
    ev.set_error(e.error);
    writer->Write(ev);
  };
  // A caller that goes away (its deadline passed, the controller died) gets
  // its migration cancelled: the running revision rolls back rather than
  // finishing behind the caller's back.
  std::optional<CancelWhenCallerLeaves> watch(std::in_place, ctx, m);
  const bool upgrade = req->direction() == fleet::v1::MigrateRequest::UPGRADE;
  spdlog::info("tenant={} rollout={} event=migrate-started direction={} target={}", (*t)->id,
               req->rollout_id(), upgrade ? "upgrade" : "downgrade", req->target());
  auto result = upgrade ? m.Upgrade(req->target(), observer) : m.Downgrade(req->target(), observer);
  watch.reset();
  if (!result.ok()) {
    spdlog::warn("tenant={} rollout={} event=migrate-failed error=\"{}\"", (*t)->id,
                 req->rollout_id(), migrations::ScrubSecrets(result.status().message(), (*t)->dsn));
    return proto::ToGrpc(result.status());
  }
  spdlog::info("tenant={} rollout={} event=migrate-done steps={} heads={}", (*t)->id,
               req->rollout_id(), result->steps, absl::StrJoin(result->end_heads, ","));
  fleet::v1::MigrateEvent last;
  last.set_kind(result->steps == 0 ? fleet::v1::MigrateEvent::NOTHING_TO_DO
                                   : fleet::v1::MigrateEvent::DONE);
  for (const auto& h : result->end_heads) last.add_heads(h);
  writer->Write(last);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::Stamp(grpc::ServerContext* ctx, const fleet::v1::StampRequest* req,
                                     fleet::v1::StampResponse* resp) {
  auto t = PeerTenant(ctx, req->tenant_id());
  if (!t.ok()) return proto::ToGrpc(t.status());
  if (req->revisions_size() == 0 || static_cast<size_t>(req->revisions_size()) > kMaxRevisions) {
    return proto::ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("revisions: give 1 to ", kMaxRevisions, " revisions (or 'base')")));
  }
  std::vector<std::string> revisions;
  for (const auto& r : req->revisions()) {
    if (absl::Status s = CheckText("revision", r, kMaxTargetLength, true); !s.ok()) {
      return proto::ToGrpc(s);
    }
    revisions.push_back(r);
  }
  auto bundle = ResolveBundle(req->bundle(), req->bundle_digest(), true);
  if (!bundle.ok()) return BundleError(ctx, bundle.status(), req->bundle_digest());
  migrations::Migrator m(*(*bundle)->graph, OptionsFor(**t, req->actor(), ""));
  auto result = m.Stamp(revisions, req->purge());
  if (!result.ok()) return proto::ToGrpc(result.status());
  for (const auto& h : result->end_heads) resp->add_heads(h);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::Verify(grpc::ServerContext* ctx, const fleet::v1::VerifyRequest* req,
                                      fleet::v1::VerifyResponse* resp) {
  auto t = PeerTenant(ctx, req->tenant_id());
  if (!t.ok()) return proto::ToGrpc(t.status());
  auto bundle = ResolveBundle(req->bundle_digest(), true);
  if (!bundle.ok()) return BundleError(ctx, bundle.status(), req->bundle_digest());
  *resp->mutable_tenant() = Inspect(**t, *(*bundle)->graph);
  bool known = true;
  for (const auto& h : resp->tenant().heads()) known = known && (*bundle)->graph->FindExact(h);
  if (!resp->tenant().error().empty()) resp->add_failures(resp->tenant().error());
  if (resp->tenant().dirty()) resp->add_failures("dirty");
  for (const auto& d : resp->tenant().drifted_revisions()) {
    resp->add_failures(absl::StrCat("revision ", d, " drifted"));
  }
  if (!known) resp->add_failures("a head unknown to the bundle");
  if (known && resp->tenant().error().empty()) {
    migrations::Migrator m(*(*bundle)->graph, OptionsFor(**t, "", ""));
    auto verifies = m.RunVerifies();
    if (!verifies.ok()) {
      resp->add_failures(migrations::ScrubSecrets(verifies.status().message(), (*t)->dsn));
    } else {
      for (const auto& f : *verifies) resp->add_failures(f);
    }
  }
  resp->set_ok(resp->failures_size() == 0);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::DiffTenant(grpc::ServerContext* ctx,
                                          const fleet::v1::DiffTenantRequest* req,
                                          fleet::v1::DiffTenantResponse* resp) {
  auto t = PeerTenant(ctx, req->tenant_id());
  if (!t.ok()) return proto::ToGrpc(t.status());
  if (absl::Status s = CheckText("against", req->against(), kMaxTargetLength, false); !s.ok()) {
    return proto::ToGrpc(s);
  }
  auto bundle = ResolveBundle(req->bundle_digest(), true);
  if (!bundle.ok()) return BundleError(ctx, bundle.status(), req->bundle_digest());
  // Building the expected schema runs every upgrade script: it shares the
  // migrations' bound, so a fleet-wide --schema-drift cannot swamp a host.
  Slot slot(migrations_);
  if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  const std::string dsn = migrations::WithDefaultOption(
      (*t)->dsn, "connect_timeout",
      std::to_string(std::max<int64_t>(1, absl::ToInt64Seconds(config_.connect_timeout))));
  auto diff = migrations::DiffDatabaseAgainstRevisions(*(*bundle)->graph, dsn, (*t)->schema,
                                                       (*t)->version_table, req->against(),
                                                       (*bundle)->digest, &expected_);
  if (!diff.ok()) {
    return proto::ToGrpc(absl::Status(
        diff.status().code(),
        absl::StrCat("tenant ", (*t)->id, ": ", migrations::ScrubSecrets(diff.status().message(), (*t)->dsn))));
  }
  for (const auto& h : diff->compared_heads) resp->add_compared_heads(h);
  for (const auto& c : diff->diff.changes) {
    resp->add_differences(c.summary);
    resp->add_statements(c.sql);
  }
  for (const auto& r : diff->diff.refusals) resp->add_differences(r);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::Rehearse(grpc::ServerContext* ctx,
                                        const fleet::v1::RehearseRequest* req,
                                        fleet::v1::Rehearsal* resp) {
  auto t = PeerTenant(ctx, req->tenant_id());
  if (!t.ok()) return proto::ToGrpc(t.status());
  if (absl::Status s = CheckText("target", req->target(), kMaxTargetLength, true); !s.ok()) {
    return proto::ToGrpc(s);
  }
  auto bundle = ResolveBundle(req->bundle_digest(), true);
  if (!bundle.ok()) return BundleError(ctx, bundle.status(), req->bundle_digest());
  // It takes real locks on the tenant: it shares the migrations' bound.
  Slot slot(migrations_);
  if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  migrations::Migrator m(*(*bundle)->graph, OptionsFor(**t, "fleet-agent rehearsal", ""));
  // A caller that goes away gets its rehearsal cancelled: it holds real
  // locks on the tenant, for nobody.
  std::optional<CancelWhenCallerLeaves> watch(std::in_place, ctx, m);
  auto r = m.Rehearse(req->target());
  watch.reset();
  if (!r.ok()) {
    spdlog::warn("tenant={} event=rehearsal-error error=\"{}\"", (*t)->id,
                 migrations::ScrubSecrets(r.status().message(), (*t)->dsn));
    return proto::ToGrpc(absl::Status(
        r.status().code(),
        absl::StrCat("tenant ", (*t)->id, ": ",
                     migrations::ScrubSecrets(r.status().message(), (*t)->dsn))));
  }
  resp->set_outcome(r->failed ? "failed" : "ok");
  resp->set_error(r->error);
  resp->set_revision(r->revision);
  resp->set_file(r->file);
  resp->set_line(r->line);
  resp->set_statement(r->statement);
  resp->set_duration_ms(absl::ToInt64Milliseconds(r->duration));
  for (const auto& l : r->locks) {
    auto* lock = resp->add_locks();
    lock->set_relation(l.relation);
    lock->set_mode(l.mode);
  }
  for (const auto& rev : r->rehearsed) resp->add_rehearsed(rev);
  for (const auto& rev : r->not_rehearsed) resp->add_not_rehearsed(rev);
  spdlog::info("tenant={} event=rehearsed outcome={} revision={} duration_ms={}", (*t)->id,
               resp->outcome(), r->revision, resp->duration_ms());
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::TableSizes(grpc::ServerContext* ctx,
                                          const fleet::v1::TableSizesRequest* req,
                                          fleet::v1::TableSizesResponse* resp) {
  auto t = PeerTenant(ctx, req->tenant_id());
  if (!t.ok()) return proto::ToGrpc(t.status());
  if (req->tables_size() > 256) {
    return proto::ToGrpc(absl::InvalidArgumentError("at most 256 tables at once"));
  }
  std::vector<std::string> tables;
  for (const std::string& name : req->tables()) {
    // PostgreSQL's identifiers are at most 63 bytes.
    if (absl::Status s = CheckText("table", name, 63, true); !s.ok()) return proto::ToGrpc(s);
    tables.push_back(name);
  }
  // No bundle is needed: an empty graph is enough to open a session.
  migrations::Migrator m(*empty_graph_, OptionsFor(**t, "", ""));
  auto sizes = m.TableSizes(tables);
  if (!sizes.ok()) {
    return proto::ToGrpc(absl::Status(
        sizes.status().code(),
        absl::StrCat("tenant ", (*t)->id, ": ",
                     migrations::ScrubSecrets(sizes.status().message(), (*t)->dsn))));
  }
  for (const auto& size : *sizes) {
    auto* out = resp->add_tables();
    out->set_table(size.table);
    out->set_bytes(size.bytes);
    out->set_rows(size.rows);
  }
  return grpc::Status::OK;
}

}  // namespace fleet::agent
