// SqlInventory's schema: the tables of each version and Init, which
// creates them or brings an older inventory up to date
// (controller/sql_inventory_internal.h).
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/sql_inventory_internal.h"
#include "migrations/status_macros.h"

namespace fleet::controller::sql_inventory_internal {
namespace {

constexpr int kSchemaVersion = 5;

constexpr char kSchemaV1[] = R"sql(
CREATE TABLE agents (
  address TEXT PRIMARY KEY,
  state TEXT NOT NULL DEFAULT 'up',
  last_seen TEXT NOT NULL DEFAULT '',
  missed_polls INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  added_at TEXT NOT NULL
);
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL REFERENCES agents(address) ON DELETE CASCADE,
  agent_labels TEXT NOT NULL DEFAULT '{}',
  operator_labels TEXT NOT NULL DEFAULT '{}',
  heads TEXT NOT NULL DEFAULT '[]',
  dirty INTEGER NOT NULL DEFAULT 0,
  dirty_revision TEXT NOT NULL DEFAULT '',
  drifted TEXT NOT NULL DEFAULT '[]',
  reachable INTEGER NOT NULL DEFAULT 1,
  last_seen TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tenants_agent ON tenants(agent);
CREATE TABLE bundles (
  digest TEXT PRIMARY KEY,
  pushed_at TEXT NOT NULL,
  seq INTEGER NOT NULL,
  heads TEXT NOT NULL,
  revisions INTEGER NOT NULL
);
CREATE TABLE bundle_files (
  digest TEXT NOT NULL REFERENCES bundles(digest) ON DELETE CASCADE,
  filename TEXT NOT NULL,
  checksum TEXT NOT NULL,
  content BLOB NOT NULL,
  PRIMARY KEY (digest, filename)
);
)sql";

constexpr char kSchemaV2[] = R"sql(
CREATE TABLE rollouts (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  spec TEXT NOT NULL,
  bundle_digest TEXT NOT NULL,
  target TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  wave INTEGER NOT NULL DEFAULT 0,
  waves INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  bake_until TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE rollout_tenants (
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  tenant_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  wave INTEGER NOT NULL,
  state TEXT NOT NULL,
  start_heads TEXT NOT NULL,
  heads TEXT NOT NULL DEFAULT '[]',
  error TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL DEFAULT '',
  finished_at TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (rollout_id, tenant_id)
);
CREATE INDEX rollout_tenants_tenant ON rollout_tenants(tenant_id);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  rollout_id TEXT NOT NULL DEFAULT '',
  tenant_id TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT ''
);
)sql";

// Each tenant's rehearsal is kept with the rollout it preceded.
constexpr char kSchemaV3[] = R"sql(
ALTER TABLE rollout_tenants ADD COLUMN rehearsal TEXT NOT NULL DEFAULT '';
)sql";

// Which build each agent runs, as it last said.
constexpr char kSchemaV4[] = R"sql(
ALTER TABLE agents ADD COLUMN version TEXT NOT NULL DEFAULT '';
)sql";

// A batched revision's progress per tenant of a rollout.
constexpr char kSchemaV5[] = R"sql(
ALTER TABLE rollout_tenants ADD COLUMN progress TEXT NOT NULL DEFAULT '';
)sql";

// The PostgreSQL inventory's own versioned schema (shared by several
// controllers; see issue 20): the SQLite schema's tables with PostgreSQL's
// types, and the leader row that fences a deposed leader's writes.
constexpr int kPostgresSchemaVersion = 1;
constexpr char kPostgresSchemaV1[] = R"sql(
CREATE TABLE agents (
  address TEXT PRIMARY KEY,
  state TEXT NOT NULL DEFAULT 'up',
  last_seen TEXT NOT NULL DEFAULT '',
  missed_polls INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  added_at TEXT NOT NULL,
  version TEXT NOT NULL DEFAULT ''
);
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL REFERENCES agents(address) ON DELETE CASCADE,
  agent_labels TEXT NOT NULL DEFAULT '{}',
  operator_labels TEXT NOT NULL DEFAULT '{}',
  heads TEXT NOT NULL DEFAULT '[]',
  dirty INTEGER NOT NULL DEFAULT 0,
  dirty_revision TEXT NOT NULL DEFAULT '',
  drifted TEXT NOT NULL DEFAULT '[]',
  reachable INTEGER NOT NULL DEFAULT 1,
  last_seen TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tenants_agent ON tenants(agent);
CREATE TABLE bundles (
  digest TEXT PRIMARY KEY,
  pushed_at TEXT NOT NULL,
  seq BIGINT NOT NULL,
  heads TEXT NOT NULL,
  revisions INTEGER NOT NULL
);
CREATE TABLE bundle_files (
  digest TEXT NOT NULL REFERENCES bundles(digest) ON DELETE CASCADE,
  filename TEXT NOT NULL,
  checksum TEXT NOT NULL,
  content BYTEA NOT NULL,
  PRIMARY KEY (digest, filename)
);
CREATE TABLE rollouts (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  spec TEXT NOT NULL,
  bundle_digest TEXT NOT NULL,
  target TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT '',
  wave INTEGER NOT NULL DEFAULT 0,
  waves INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  bake_until TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE rollout_tenants (
  rollout_id TEXT NOT NULL REFERENCES rollouts(id),
  tenant_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  wave INTEGER NOT NULL,
  state TEXT NOT NULL,
  start_heads TEXT NOT NULL,
  heads TEXT NOT NULL DEFAULT '[]',
  error TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL DEFAULT '',
  finished_at TEXT NOT NULL DEFAULT '',
  rehearsal TEXT NOT NULL DEFAULT '',
  progress TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (rollout_id, tenant_id)
);
CREATE INDEX rollout_tenants_tenant ON rollout_tenants(tenant_id);
CREATE TABLE audit (
  id BIGSERIAL PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  rollout_id TEXT NOT NULL DEFAULT '',
  tenant_id TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE leader (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  epoch BIGINT NOT NULL,
  address TEXT NOT NULL DEFAULT '',
  since TEXT NOT NULL DEFAULT ''
);
INSERT INTO leader (one, epoch) VALUES (1, 0);
)sql";

}  // namespace

absl::Status SqlInventory::Init() {
  absl::MutexLock lock(&mu_);
  const bool pg = db_->is_postgres();
  const int latest = pg ? kPostgresSchemaVersion : kSchemaVersion;
  const std::vector<const char*> steps =
      pg ? std::vector<const char*>{kPostgresSchemaV1}
         : std::vector<const char*>{kSchemaV1, kSchemaV2, kSchemaV3, kSchemaV4, kSchemaV5};
  // The schema is no state: creating it needs no leadership.
  return InTransaction(
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
        if (pg) RETURN_IF_ERROR(Exec("SELECT pg_advisory_xact_lock(hashtext('fleet-inventory'))"));
        RETURN_IF_ERROR(
            Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
        int64_t version = 0;
        {
          Stmt s(*db_, "SELECT coalesce(max(version), 0) FROM schema_version");
          if (s.Step() == kRow) version = s.Int(0);
        }
        if (version > latest) {
          return absl::FailedPreconditionError(absl::StrCat(
              "inventory schema version ", version, " is newer than this controller understands (",
              latest, "); run a newer fleet-controller"));
        }
        for (int v = static_cast<int>(version); v < latest; ++v) {
          RETURN_IF_ERROR(Exec(steps[static_cast<size_t>(v)]));
          RETURN_IF_ERROR(Exec(
              absl::StrCat("INSERT INTO schema_version (version) VALUES (", v + 1, ")").c_str()));
        }
        return absl::OkStatus();
      },
      /*check_epoch=*/false);
}

}  // namespace fleet::controller::sql_inventory_internal
