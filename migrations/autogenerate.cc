#include "migrations/autogenerate.h"

#include <algorithm>
#include <pqxx/pqxx>
#include <random>
#include <optional>
#include <set>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "migrations/dsn.h"
#include "migrations/migrator.h"
#include "migrations/script.h"
#include "migrations/sql_parse.h"
#include "migrations/status_macros.h"

namespace fleet::migrations {
namespace {

constexpr char kPrefix[] = "fleet_autogen_";

// The schemas of a dev database that are neither PostgreSQL's, public, nor
// our own scratch ones (a WHERE condition on pg_namespace).
constexpr char kOtherSchemas[] =
    "nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\\_%' "
    "AND nspname NOT LIKE 'fleet\\_autogen\\_%'";

// What the dev database holds besides our own schemas and an empty public:
// a few names, enough to say why it is refused.
std::vector<std::string> Occupants(pqxx::transaction_base& tx) {
  std::vector<std::string> found;
  for (const auto& row : tx.exec(absl::StrCat(
           "SELECT 'schema ' || nspname FROM pg_namespace WHERE ", kOtherSchemas,
           " UNION ALL SELECT 'public.' || relname FROM pg_class "
           "WHERE relnamespace = 'public'::regnamespace "
           "UNION ALL SELECT 'type public.' || typname FROM pg_type "
           "WHERE typnamespace = 'public'::regnamespace AND typtype IN ('e', 'd', 'r', 'm') "
           "UNION ALL SELECT 'function public.' || proname FROM pg_proc "
           "WHERE pronamespace = 'public'::regnamespace LIMIT 5"))) {
    found.push_back(row[0].as<std::string>());
  }
  return found;
}

// libpq's message without its trailing newline.
std::string PgMessage(const pqxx::sql_error& e) {
  std::string message = e.what();
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return message;
}

std::string RandomSuffix() {
  std::random_device rd;
  return absl::StrFormat("%08x", rd());
}

// Connects to the dev database, refuses it unless it is empty (but for our
// own schemas), drops what an interrupted run of ours left, and creates
// `schemas`.
absl::StatusOr<std::unique_ptr<pqxx::connection>> OpenScratch(
    const std::string& dev_dsn, const std::vector<std::string>& schemas) {
  auto scrub = [&](absl::string_view what, const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": ", ScrubSecrets(e.what(), dev_dsn)));
  };
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(dev_dsn);
  } catch (const std::exception& e) {
    return scrub(absl::StrCat("cannot connect to the dev database ", ConnectionName(dev_dsn)), e);
  }
  try {
    pqxx::work tx(*conn);
    const std::string database = tx.exec("SELECT current_database()")[0][0].as<std::string>();
    std::vector<std::string> occupants = Occupants(tx);
    if (!occupants.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the dev database ", database, " is not empty (", absl::StrJoin(occupants, ", "),
          "): fleetctl builds and drops schemas there, so give it an empty scratch "
          "database (createdb fleet_dev) and never a real one"));
    }
    // Schemas an interrupted run of ours left behind.
    for (const auto& row :
         tx.exec("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'fleet\\_autogen\\_%'")) {
      tx.exec(absl::StrCat("DROP SCHEMA ", tx.quote_name(row[0].as<std::string>()), " CASCADE"));
    }
    for (const std::string& schema : schemas) {
      tx.exec(absl::StrCat("CREATE SCHEMA ", tx.quote_name(schema)));
    }
    tx.commit();
  } catch (const std::exception& e) {
    return scrub(absl::StrCat("preparing the dev database ", ConnectionName(dev_dsn)), e);
  }
  return conn;
}

// A migrator for a scratch schema of the dev database.
MigratorOptions ScratchOptions(const std::string& dev_dsn, const std::string& schema,
                               const std::string& version_table, const std::string& actor) {
  MigratorOptions options;
  options.dsn = dev_dsn;
  options.schema = schema;
  options.create_schema = true;
  options.version_table = version_table;
  options.actor = actor;
  return options;
}

// Drops its schemas of the dev database when it goes, whatever happened,
// and every other schema there but public and our scratch ones: the dev
// database was empty when the run began, so those are what its scripts
// made by name (CREATE SCHEMA audit), which the next run would find and
// refuse. Only ever made after OpenScratch accepted the database.
struct ClearDevDatabaseOnExit {
  const std::string& dsn;
  std::vector<std::string> schemas;
  ~ClearDevDatabaseOnExit() {
    try {
      pqxx::connection c(dsn);
      pqxx::work tx(c);
      for (const auto& row :
           tx.exec(absl::StrCat("SELECT nspname FROM pg_namespace WHERE ", kOtherSchemas))) {
        schemas.push_back(row[0].as<std::string>());
      }
      for (const auto& s : schemas) {
        tx.exec(absl::StrCat("DROP SCHEMA IF EXISTS ", tx.quote_name(s), " CASCADE"));
      }
      tx.commit();
    } catch (const std::exception&) {
    }
  }
};

// The declared schema's files, statement by statement, in `tx`; errors
// point into its files.
absl::Status ApplyDeclared(pqxx::transaction_base& tx, const std::vector<DeclaredFile>& declared) {
  for (const DeclaredFile& f : declared) {
    auto statements = ParseSqlStatements(f.sql, 1);
    if (!statements.ok()) {
      absl::string_view message = statements.status().message();
      absl::ConsumePrefix(&message, "line ");
      return absl::InvalidArgumentError(absl::StrCat(f.path, ":", message));
    }
    for (const SqlStatement& s : *statements) {
      if (s.transaction_control) {
        return absl::InvalidArgumentError(absl::StrCat(
            f.path, ":", s.line, ": a declared schema holds no transaction control"));
      }
      try {
        tx.exec(std::string(StatementText(f.sql, s)));
      } catch (const pqxx::sql_error& e) {
        return absl::InvalidArgumentError(absl::StrCat(f.path, ":", s.line, ": ", PgMessage(e)));
      }
    }
  }
  return absl::OkStatus();
}

// Drops scratch databases (each on its own: one still in use stays, for
// the next run to drop).
void DropDatabases(const std::string& dsn, const std::vector<std::string>& databases) {
  try {
    pqxx::connection c(dsn);
    pqxx::nontransaction tx(c);
    for (const auto& d : databases) {
      try {
        tx.exec(absl::StrCat("DROP DATABASE IF EXISTS ", tx.quote_name(d)));
      } catch (const pqxx::sql_error&) {
      }
    }
  } catch (const std::exception&) {
  }
}

// Drops its scratch databases when it goes, whatever happened (every
// connection to them is closed by then).
struct DropDatabasesOnExit {
  const std::string& dsn;
  std::vector<std::string> databases;
  ~DropDatabasesOnExit() { DropDatabases(dsn, databases); }
};

// The schemas of one scratch database: the default one (public) and those
// of `schemas` that exist, merged (DESIGN.md, autogenerate).
absl::StatusOr<SchemaCatalog> ReadDatabaseCatalog(const std::string& dsn,
                                                  const std::vector<std::string>& schemas,
                                                  const std::set<std::string>& skip_tables) {
  try {
    pqxx::connection conn(dsn);
    pqxx::work tx(conn);
    tx.exec("SET TRANSACTION READ ONLY");
    ASSIGN_OR_RETURN(SchemaCatalog catalog, ReadSchemaCatalogIn(tx, "public", skip_tables));
    for (const std::string& schema : schemas) {
      if (tx.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema).empty()) continue;
      ASSIGN_OR_RETURN(SchemaCatalog more, ReadSchemaCatalogIn(tx, schema, {}, "public"));
      MergeCatalog(&catalog, std::move(more));
    }
    tx.commit();
    return catalog;
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("reading a scratch database: ", ScrubSecrets(e.what(), dsn)));
  }
}

// With schemas = [...]: the two builds cannot share a database (each makes
// the same named schemas), so each gets a scratch database of its own on the
// dev server, made from template0 and dropped afterwards; the scripts' own
// schema is its public.
absl::StatusOr<SchemaPair> BuildSchemasInDatabases(const RevisionGraph& graph,
                                                   const std::vector<DeclaredFile>& declared,
                                                   const std::string& dev_dsn,
                                                   const std::string& version_table,
                                                   const std::vector<std::string>& schemas) {
  auto scrub = [&](absl::string_view what, const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": ", ScrubSecrets(e.what(), dev_dsn)));
  };
  for (const std::string& schema : schemas) {
    if (schema.empty() || schema == "public" || absl::StartsWith(schema, "pg_") ||
        schema == "information_schema") {
      return absl::InvalidArgumentError(absl::StrCat(
          "autogenerate schemas: '", schema,
          "' cannot be compared (the scripts' own schema is always compared; list the others)"));
    }
  }
  // The dev database is checked as for one schema (never a real one), and
  // what an interrupted run left is dropped.
  ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, OpenScratch(dev_dsn, {}));
  // Scratch databases are named after the dev database (a hash of its
  // name): what an interrupted run left is dropped, and only a run on the
  // same dev database (which one at a time may use) is ever in the way.
  std::string owner;
  try {
    pqxx::nontransaction tx(*conn);
    owner = Sha256Hex(tx.exec("SELECT current_database()")[0][0].as<std::string>()).substr(0, 8);
  } catch (const std::exception& e) {
    return scrub(absl::StrCat("reading the dev database ", ConnectionName(dev_dsn)), e);
  }
  const std::string prefix = absl::StrCat(kPrefix, owner, "_");
  const std::string suffix = RandomSuffix();
  const std::string heads_db = absl::StrCat(prefix, suffix, "_heads");
  const std::string declared_db = absl::StrCat(prefix, suffix, "_declared");
  DropDatabasesOnExit drop_on_exit{dev_dsn, {heads_db, declared_db}};
  try {
    pqxx::nontransaction tx(*conn);
    std::vector<std::string> left;
    for (const auto& row : tx.exec_params(
             "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix)) {
      left.push_back(row[0].as<std::string>());
    }
    DropDatabases(dev_dsn, left);
    for (const std::string& db : {heads_db, declared_db}) {
      tx.exec(absl::StrCat("CREATE DATABASE ", tx.quote_name(db), " TEMPLATE template0"));
    }
  } catch (const std::exception& e) {
    return scrub(absl::StrCat("creating scratch databases on the dev server ",
                              ConnectionName(dev_dsn),
                              " (autogenerate with schemas = [...] needs the CREATEDB privilege)"),
                 e);
  }
  const std::string heads_dsn = WithOption(dev_dsn, "dbname", heads_db);
  const std::string declared_dsn = WithOption(dev_dsn, "dbname", declared_db);

  auto upgraded = Migrator(graph, ScratchOptions(heads_dsn, "public", version_table,
                                                 "fleetctl autogenerate"))
                      .Upgrade("heads");
  if (!upgraded.ok()) {
    return absl::Status(upgraded.status().code(),
                        absl::StrCat("applying the versions directory's heads to a scratch "
                                     "database: ",
                                     ScrubSecrets(upgraded.status().message(), heads_dsn)));
  }
  try {
    pqxx::connection d(declared_dsn);
    pqxx::work tx(d);
    tx.exec("SET LOCAL search_path TO public");
    RETURN_IF_ERROR(ApplyDeclared(tx, declared));
    // Only the compared schemas may hold what it declares.
    std::string allowed = "'public'";
    for (const std::string& schema : schemas) absl::StrAppend(&allowed, ", ", tx.quote(schema));
    std::vector<std::string> strays;
    for (const auto& row : tx.exec(absl::StrCat(
             "SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT IN (", allowed,
             ", 'information_schema') AND nspname NOT LIKE 'pg\\_%' LIMIT 5"))) {
      strays.push_back(row[0].as<std::string>());
    }
    if (!strays.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the declared schema created ", absl::StrJoin(strays, ", "),
          ", which autogenerate does not compare: add it to [autogenerate] schemas in "
          "fleet.toml, or declare its objects elsewhere"));
    }
    tx.commit();
  } catch (const std::exception& e) {
    return scrub("applying the declared schema in a scratch database", e);
  }
  SchemaPair pair;
  ASSIGN_OR_RETURN(pair.heads,
                   ReadDatabaseCatalog(heads_dsn, schemas, {version_table, "fleet_migration_log"}));
  ASSIGN_OR_RETURN(pair.declared, ReadDatabaseCatalog(declared_dsn, schemas, {}));
  return pair;
}

}  // namespace

absl::StatusOr<std::vector<DeclaredFile>> LoadDeclaredSchema(FileSystem& fs,
                                                             const std::string& path) {
  std::vector<DeclaredFile> files;
  if (fs.IsDirectory(path)) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListFiles(path));
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      if (!absl::EndsWith(name, ".sql")) continue;
      std::string file = JoinPath(path, name);
      ASSIGN_OR_RETURN(std::string sql, fs.ReadFile(file));
      files.push_back({file, std::move(sql)});
    }
    if (files.empty()) {
      return absl::NotFoundError(absl::StrCat("declared schema ", path, " holds no .sql files"));
    }
  } else {
    auto sql = fs.ReadFile(path);
    if (!sql.ok()) {
      return absl::NotFoundError(absl::StrCat("cannot read the declared schema ", path,
                                              " (schema = in fleet.toml, or --declared)"));
    }
    files.push_back({path, *std::move(sql)});
  }
  return files;
}

absl::StatusOr<SchemaPair> BuildSchemas(const RevisionGraph& graph,
                                        const std::vector<DeclaredFile>& declared,
                                        const std::string& dev_dsn,
                                        const std::string& version_table,
                                        const std::vector<std::string>& schemas) {
  if (!schemas.empty()) {
    return BuildSchemasInDatabases(graph, declared, dev_dsn, version_table, schemas);
  }
  auto scrub = [&](absl::string_view what, const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": ", ScrubSecrets(e.what(), dev_dsn)));
  };
  const std::string suffix = RandomSuffix();
  const std::string heads_schema = absl::StrCat(kPrefix, suffix, "_heads");
  const std::string declared_schema = absl::StrCat(kPrefix, suffix, "_declared");
  ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn,
                   OpenScratch(dev_dsn, {declared_schema}));
  // Whatever happens next, both schemas go (an error here leaves them for
  // the next run, which drops them).
  ClearDevDatabaseOnExit drop_on_exit{dev_dsn, {heads_schema, declared_schema}};

  auto upgraded =
      Migrator(graph, ScratchOptions(dev_dsn, heads_schema, version_table, "fleetctl autogenerate"))
          .Upgrade("heads");
  if (!upgraded.ok()) {
    return absl::Status(upgraded.status().code(),
                        absl::StrCat("applying the versions directory's heads to the dev "
                                     "database: ",
                                     upgraded.status().message()));
  }

  // The declared schema, statement by statement, in one transaction;
  // errors point into its files.
  try {
    pqxx::work tx(*conn);
    tx.exec(absl::StrCat("SET LOCAL search_path TO ", tx.quote_name(declared_schema)));
    RETURN_IF_ERROR(ApplyDeclared(tx, declared));
    std::vector<std::string> strays = Occupants(tx);
    if (!strays.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the declared schema created ", absl::StrJoin(strays, ", "),
          " outside its own schema: write names unqualified (tickets, not public.tickets)"));
    }
    tx.commit();
  } catch (const std::exception& e) {
    return scrub("applying the declared schema", e);
  }

  SchemaPair pair;
  ASSIGN_OR_RETURN(pair.heads,
                   ReadSchemaCatalog(*conn, heads_schema, {version_table, "fleet_migration_log"}));
  ASSIGN_OR_RETURN(pair.declared, ReadSchemaCatalog(*conn, declared_schema, {}));
  return pair;
}

absl::StatusOr<StairwayResult> RunStairway(const RevisionGraph& graph, const std::string& dev_dsn,
                                           const std::string& version_table,
                                           const StairwayObserver& observer) {
  const std::string schema = absl::StrCat(kPrefix, RandomSuffix(), "_stairway");
  ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, OpenScratch(dev_dsn, {schema}));
  ClearDevDatabaseOnExit drop_on_exit{dev_dsn, {schema}};
  Migrator migrator(graph, ScratchOptions(dev_dsn, schema, version_table, "fleetctl test"));
  const std::set<std::string> skip = {version_table, "fleet_migration_log"};
  auto read = [&]() -> absl::StatusOr<SchemaCatalog> {
    return ReadSchemaCatalog(*conn, schema, skip);
  };
  // What turns `want` into `got`, for people: "drop index tickets_subject_idx".
  auto differences = [](const SchemaCatalog& got, const SchemaCatalog& want) {
    DiffOptions o;
    o.allow_drop = true;
    SchemaDiff diff = DiffSchemaCatalogs(got, want, o);
    std::vector<std::string> out;
    for (const SchemaChange& c : diff.changes) out.push_back(c.summary);
    for (const std::string& r : diff.refusals) out.push_back(r);
    return out;
  };

  ASSIGN_OR_RETURN(Plan plan, graph.PlanUpgrade({}, "heads"));
  StairwayResult result;
  std::vector<std::string> heads;  // the version table before each step
  for (const Step& step : plan.steps) {
    const Script& script = *step.script;
    auto fail = [&](std::string why) {
      result.failed_revision = script.revision;
      result.failed_path = script.path;
      result.failure = std::move(why);
      return result;
    };
    ASSIGN_OR_RETURN(SchemaCatalog before, read());
    absl::StatusOr<RunResult> up = migrator.Upgrade(script.revision);
    if (!up.ok()) return fail(absl::StrCat("upgrade failed: ", up.status().message()));
    ASSIGN_OR_RETURN(std::vector<std::string> broken, migrator.RunVerifies());
    if (!broken.empty()) return fail(absl::StrCat("verify failed: ", absl::StrJoin(broken, "; ")));
    ASSIGN_OR_RETURN(SchemaCatalog after, read());
    StairwayStep passed{script.revision, script.path, script.is_reversible()};
    if (script.is_reversible()) {
      absl::StatusOr<RunResult> down = migrator.Downgrade(absl::StrCat("=", absl::StrJoin(heads, ",")));
      if (!down.ok()) return fail(absl::StrCat("downgrade failed: ", down.status().message()));
      ASSIGN_OR_RETURN(SchemaCatalog undone, read());
      if (std::vector<std::string> left = differences(undone, before); !left.empty()) {
        return fail(absl::StrCat("its downgrade does not undo its upgrade; still to undo: ",
                                 absl::StrJoin(left, "; ")));
      }
      absl::StatusOr<RunResult> again = migrator.Upgrade(script.revision);
      if (!again.ok()) {
        return fail(absl::StrCat("upgrade after its downgrade failed: ", again.status().message()));
      }
      ASSIGN_OR_RETURN(SchemaCatalog redone, read());
      if (std::vector<std::string> diff = differences(after, redone); !diff.empty()) {
        return fail(absl::StrCat(
            "upgrading again after its downgrade builds another schema than the first time: ",
            absl::StrJoin(diff, "; ")));
      }
    }
    heads = up->end_heads;
    result.passed.push_back(passed);
    if (observer) observer(passed);
  }
  return result;
}

std::optional<SchemaCatalog> ExpectedSchemaCache::Find(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = catalogs_.find(key);
  if (it == catalogs_.end()) return std::nullopt;
  return it->second;
}

void ExpectedSchemaCache::Put(const std::string& key, SchemaCatalog catalog) {
  absl::MutexLock lock(&mu_);
  if (catalogs_.size() >= kMaxEntries) catalogs_.erase(catalogs_.begin());
  catalogs_[key] = std::move(catalog);
}

namespace {

// The upgrade scripts from base to `targets`, one target at a time (a
// tenant may sit on several heads), and the heads they end at.
absl::StatusOr<std::pair<std::vector<const Script*>, std::vector<std::string>>> ScriptsFromBase(
    const RevisionGraph& graph, const std::vector<std::string>& targets) {
  std::vector<std::string> current;
  std::vector<const Script*> scripts;
  for (const std::string& t : targets) {
    ASSIGN_OR_RETURN(Plan plan, graph.PlanUpgrade(current, t));
    for (const Step& step : plan.steps) scripts.push_back(step.script);
    if (!plan.steps.empty()) current = plan.end_heads;
  }
  return std::make_pair(std::move(scripts), std::move(current));
}

// Runs `scripts` in a new scratch schema of `tx` (the only one on its
// search_path) and reads it back.
absl::StatusOr<SchemaCatalog> BuildExpected(pqxx::work& tx, const std::vector<const Script*>& scripts,
                                            const std::string& dsn) {
  const std::string scratch = absl::StrCat(kPrefix, RandomSuffix(), "_expected");
  tx.exec(absl::StrCat("CREATE SCHEMA ", tx.quote_name(scratch)));
  tx.exec(absl::StrCat("SET LOCAL search_path TO ", tx.quote_name(scratch)));
  static const std::regex concurrently("\\bCONCURRENTLY\\b", std::regex::icase);
  for (const Script* script : scripts) {
    for (const SqlStatement& s : script->upgrade.statements) {
      // Everything runs inside this transaction, which is always rolled
      // back: a non-transactional revision's COMMIT or BEGIN must not end
      // it, and its CONCURRENTLY forms run plainly here.
      if (s.transaction_control) continue;
      std::string sql(StatementText(script->upgrade.sql, s));
      if (s.concurrently) sql = std::regex_replace(sql, concurrently, "");
      try {
        tx.exec(sql);
      } catch (const pqxx::sql_error& e) {
        return absl::FailedPreconditionError(absl::StrCat(
            "cannot build the schema revision ", script->revision, " expects (", script->path, ":",
            s.line, "): ", ScrubSecrets(PgMessage(e), dsn)));
      }
    }
  }
  return ReadSchemaCatalogIn(tx, scratch, {});
}

}  // namespace

absl::StatusOr<RevisionSchemaDiff> DiffDatabaseAgainstRevisions(
    const RevisionGraph& graph, const std::string& dsn, const std::string& schema,
    const std::string& version_table, const std::string& against,
    const std::string& bundle_digest, ExpectedSchemaCache* cache) {
  RevisionSchemaDiff out;
  try {
    pqxx::connection conn(dsn);
    pqxx::work tx(conn);
    tx.exec("SET LOCAL lock_timeout = '2s'");
    tx.exec("SET LOCAL statement_timeout = '60s'");
    std::string real = schema;
    if (real.empty()) real = tx.exec("SELECT current_schema()")[0][0].as<std::string>();
    // The heads the version table holds (none: base).
    std::vector<std::string> heads;
    const std::string table = absl::StrCat(tx.quote_name(real), ".", tx.quote_name(version_table));
    if (!tx.exec_params("SELECT to_regclass($1)", table)[0][0].is_null()) {
      for (const auto& row : tx.exec(absl::StrCat("SELECT version_num FROM ", table, " ORDER BY 1"))) {
        heads.push_back(row[0].as<std::string>());
      }
    }
    ASSIGN_OR_RETURN(auto plan, ScriptsFromBase(graph, against.empty() ? heads
                                                                       : std::vector{against}));
    out.compared_heads = plan.second;
    // Tenants on the same revisions of the same bundle expect the same schema.
    const std::string key = absl::StrCat(bundle_digest, ":", absl::StrJoin(plan.second, ","));
    std::optional<SchemaCatalog> expected;
    if (cache != nullptr && !bundle_digest.empty()) expected = cache->Find(key);
    if (!expected) {
      ASSIGN_OR_RETURN(expected, BuildExpected(tx, plan.first, dsn));
      if (cache != nullptr && !bundle_digest.empty()) cache->Put(key, *expected);
    }
    ASSIGN_OR_RETURN(SchemaCatalog actual,
                     ReadSchemaCatalogIn(tx, real, {version_table, "fleet_migration_log"}));
    DiffOptions o;
    o.allow_drop = true;
    out.diff = DiffSchemaCatalogs(*expected, actual, o);
    tx.abort();  // nothing of this stays
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("comparing the schema: ", ScrubSecrets(e.what(), dsn)));
  }
  return out;
}

}  // namespace fleet::migrations
