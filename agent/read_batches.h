// How an agent splits its tenants into reads for ListTenants (a plan, a
// no-op rollout, status --refresh): which tenants one session reads in one
// Migrator::InspectSchemas call, and on which pooled session.
#ifndef FLEET_AGENT_READ_BATCHES_H_
#define FLEET_AGENT_READ_BATCHES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "agent/agent_config.h"

namespace fleet::agent {

// Schemas of one database are read up to 500 per session (two queries per
// 200): more sessions on one database would not read faster, and every
// session idle there while a rollout runs must take in each catalog
// invalidation its DDL sends (at 10,000 schemas, about a tenth of the
// server's CPU went to that with 13 read sessions per agent).
inline constexpr size_t kSchemasPerSession = 500;

struct ReadBatch {
  std::vector<size_t> tenants;  // indexes into the agent's tenants, one database
  // MigratorOptions::pool_affinity: each chunk of a database's schemas is
  // read on the same pooled session every time, so that session's catalog
  // caches already hold those schemas' tables (200 schemas: 21 ms warm,
  // 338 ms cold). Empty for the first chunk, which shares the migrations'
  // sessions.
  std::string affinity;
};

// Tenants grouped by database (dsn and version table), each database's
// split into as many chunks as `workers` allow among the databases, none
// over kSchemasPerSession unless the workers run out. Every tenant is in
// exactly one batch; a batch's tenants keep their order.
std::vector<ReadBatch> PlanReadBatches(const std::vector<TenantConfig>& tenants, size_t workers);

}  // namespace fleet::agent

#endif  // FLEET_AGENT_READ_BATCHES_H_
