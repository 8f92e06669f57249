// revision --autogenerate and check --autogenerate against a real server:
// every generated revision is applied to a real database, which must then
// hold exactly the declared schema, and its downgrade must bring back
// exactly what was there before.
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/autogenerate.h"
#include "migrations/schema_diff.h"
#include "migrations/script_directory.h"
#include "tests/cli/cli_test_util.h"
#include "tests/testing/postgres.h"
#include "tests/testing/temp_dir.h"

namespace fleet::cli {
namespace {

using ::fleet::testing::ReadWhole;

using ::fleet::testing::Result;
using ::fleet::testing::RunCli;
using ::testing::HasSubstr;
using ::testing::Not;

class AutogenerateTest : public fleet::testing::PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    target_ = DsnFor(NewDatabase());
    versions_ = dir_.path() + "/versions";
    declared_ = dir_.path() + "/schema.sql";
    std::filesystem::create_directories(versions_);
  }

  // The versions directory starts with one revision holding `sql`, applied
  // to the target database; the declared schema starts equal to it.
  void Start(const std::string& sql) {
    std::ofstream(versions_ + "/aaaaaaaaaaaa_start.sql")
        << "-- revision: aaaaaaaaaaaa\n-- down_revision:\n\n-- migrate:upgrade\n" << sql
        << "\n-- migrate:downgrade\nSELECT 1;\n";
    Declare(sql);
    ASSERT_EQ(RunCli({"upgrade", "heads", "--dir", versions_, "--dsn", target_}).code, 0);
    before_ = Catalog();
  }

  void Declare(const std::string& sql) { std::ofstream(declared_, std::ios::trunc) << sql; }

  std::vector<std::string> Flags(std::vector<std::string> args) {
    args.insert(args.end(), {"--dir", versions_, "--declared", declared_, "--dev-url", Dsn()});
    return args;
  }

  Result Generate(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"revision", "--autogenerate", "-m", "change"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(Flags(args));
  }

  Result Check() { return RunCli(Flags({"check", "--autogenerate"})); }

  // The target's public schema, without the version table and the log.
  migrations::SchemaCatalog Catalog() {
    pqxx::connection c(target_);
    auto catalog = migrations::ReadSchemaCatalog(c, "public", {"alembic_version", "fleet_migration_log"});
    EXPECT_TRUE(catalog.ok()) << catalog.status();
    return catalog.ok() ? *catalog : migrations::SchemaCatalog{};
  }

  // What the declared schema builds, read back.
  migrations::SchemaCatalog Declared() {
    auto graph = migrations::LoadRevisionGraph(migrations::DefaultFileSystem(), versions_);
    EXPECT_TRUE(graph.ok()) << graph.status();
    auto files = migrations::LoadDeclaredSchema(migrations::DefaultFileSystem(), declared_);
    auto pair = migrations::BuildSchemas(**graph, *files, Dsn(), "alembic_version");
    EXPECT_TRUE(pair.ok()) << pair.status();
    return pair.ok() ? pair->declared : migrations::SchemaCatalog{};
  }

  static std::string Differences(const migrations::SchemaCatalog& a,
                                 const migrations::SchemaCatalog& b) {
    migrations::DiffOptions o;
    o.allow_drop = true;
    auto d = migrations::DiffSchemaCatalogs(a, b, o);
    std::string out;
    for (const auto& c : d.changes) out += c.summary + "; ";
    for (const auto& r : d.refusals) out += r + "; ";
    return out;
  }

  // Applies the generated revision(s): the target must then match the
  // declared schema exactly; downgrading to the start must restore it.
  void ApplyAndRoundTrip() {
    auto up = RunCli({"upgrade", "heads", "--dir", versions_, "--dsn", target_});
    ASSERT_EQ(up.code, 0) << up.err << Scripts();
    EXPECT_EQ(Differences(Catalog(), Declared()), "") << Scripts();
    auto check = Check();
    EXPECT_EQ(check.code, 0) << check.out << check.err;
    EXPECT_THAT(check.out, HasSubstr("No new upgrade operations detected."));
    auto down = RunCli({"downgrade", "aaaaaaaaaaaa", "--dir", versions_, "--dsn", target_});
    ASSERT_EQ(down.code, 0) << down.err << Scripts();
    EXPECT_EQ(Differences(Catalog(), before_), "") << Scripts();
  }

  std::string Scripts() {
    std::string all;
    for (const auto& e : std::filesystem::directory_iterator(versions_)) {
      if (e.path().filename().string().rfind("aaaa", 0) != 0) {
        all += "\n=== " + e.path().filename().string() + "\n" + ReadWhole(e.path().string());
      }
    }
    return all;
  }

  int Generated() {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(versions_)) {
      n += e.path().filename().string().rfind("aaaa", 0) != 0;
    }
    return n;
  }

  fleet::testing::TempDir dir_;
  std::string target_, versions_, declared_;
  migrations::SchemaCatalog before_;
};

TEST_F(AutogenerateTest, ExcludedObjectsAreNeitherCreatedNorDroppedAndCounted) {
  if (IsSkipped()) return;
  Start("CREATE TABLE keep (id int);\nCREATE TABLE temp_old (id int);");
  Declare("CREATE TABLE keep (id int);\nCREATE TABLE test_new (id int);\n"
          "CREATE INDEX test_new_id ON test_new (id);");
  Result plain = Check();
  EXPECT_EQ(plain.code, 1) << plain.out << plain.err;
  Result filtered = RunCli(Flags({"check", "--autogenerate", "--exclude", "test_*", "--exclude",
                                  "temp_*"}));
  EXPECT_EQ(filtered.code, 0) << filtered.out << filtered.err;
  EXPECT_THAT(filtered.out, HasSubstr("Skipped 3 objects the exclude patterns match (test_*, "
                                      "temp_*): temp_old, test_new, test_new_id"));
  EXPECT_THAT(filtered.out, HasSubstr("No new upgrade operations detected."));
  // The same from fleet.toml, in the directory fleetctl runs in.
  std::ofstream(dir_.path() + "/fleet.toml")
      << "script_location = \"versions\"\nschema = \"schema.sql\"\n"
      << "[autogenerate]\nexclude = [\"test_*\", \"temp_*\"]\n";
  Result configured = fleet::testing::RunBinary(
      dir_.path(), "check --autogenerate --dev-url '" + Dsn() + "'");
  EXPECT_EQ(configured.code, 0) << configured.out;
  EXPECT_THAT(configured.out, HasSubstr("Skipped 3 objects"));
  std::ofstream(dir_.path() + "/fleet.toml", std::ios::trunc)
      << "schema = \"schema.sql\"\n[autogenerate]\ninclude = [\"billing\"]\n";
  Result unknown = fleet::testing::RunBinary(
      dir_.path(), "check --autogenerate --dev-url '" + Dsn() + "'", true);
  EXPECT_EQ(unknown.code, 3);
  EXPECT_THAT(unknown.out, HasSubstr("[autogenerate] has no key 'include'"));
  std::ofstream(dir_.path() + "/fleet.toml", std::ios::trunc)
      << "schema = \"schema.sql\"\n[autogenerate]\nschemas = \"billing\"\n";
  Result not_a_list = fleet::testing::RunBinary(
      dir_.path(), "check --autogenerate --dev-url '" + Dsn() + "'", true);
  EXPECT_EQ(not_a_list.code, 3);
  EXPECT_THAT(not_a_list.out, HasSubstr("[autogenerate] schemas must be a list of schema names"));
}

// Alembic's include_schemas: objects of another schema are compared only
// when it is listed, written schema-qualified, created with their schema and
// dropped with it by the downgrade.
TEST_F(AutogenerateTest, ListedSchemasAreComparedToo) {
  if (IsSkipped()) return;
  Start("CREATE TABLE tickets (id int PRIMARY KEY);");
  Declare(R"sql(CREATE TABLE tickets (id int PRIMARY KEY);
CREATE SCHEMA audit;
CREATE TYPE audit.kind AS ENUM ('opened', 'closed');
CREATE TABLE audit.events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id int NOT NULL REFERENCES tickets (id),
    kind audit.kind NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_ticket ON audit.events (ticket_id);
CREATE VIEW audit.recent AS SELECT id, ticket_id, kind FROM audit.events WHERE at > now() - interval '1 day';
CREATE TABLE audit.tmp_scratch (id int);
)sql");
  // Unlisted, the audit schema is something the declared schema must not make.
  Result unlisted = Generate();
  EXPECT_NE(unlisted.code, 0) << unlisted.out;
  EXPECT_THAT(unlisted.err, HasSubstr("schema audit"));
  EXPECT_EQ(Generated(), 0);

  Result generated = Generate({"--include-schema", "audit", "--exclude", "audit.tmp_*"});
  ASSERT_EQ(generated.code, 0) << generated.out << generated.err;
  EXPECT_THAT(generated.out, HasSubstr("Detected create schema audit"));
  EXPECT_THAT(generated.out, HasSubstr("Detected create table audit.events"));
  EXPECT_THAT(generated.out, HasSubstr("Detected create view audit.recent"));
  EXPECT_THAT(generated.out, HasSubstr("Skipped 1 object the exclude patterns match "
                                       "(audit.tmp_*): audit.tmp_scratch"));
  const std::string script = Scripts();
  EXPECT_THAT(script, HasSubstr("CREATE SCHEMA audit;"));
  EXPECT_THAT(script, HasSubstr("CREATE TABLE audit.events"));
  EXPECT_THAT(script, HasSubstr("DROP SCHEMA audit;"));
  EXPECT_THAT(script, Not(HasSubstr("tmp_scratch")));

  // The revisions now build what is declared, in both schemas (fleet.toml
  // saying the same as the flags).
  std::ofstream(dir_.path() + "/fleet.toml")
      << "script_location = \"versions\"\nschema = \"schema.sql\"\n"
      << "[autogenerate]\nschemas = [\"audit\"]\nexclude = [\"audit.tmp_*\"]\n";
  Result check = fleet::testing::RunBinary(dir_.path(),
                                           "check --autogenerate --dev-url '" + Dsn() + "'");
  EXPECT_EQ(check.code, 0) << check.out << check.err << script;
  EXPECT_THAT(check.out, HasSubstr("No new upgrade operations detected."));

  // Applied to a real database, and taken back down.
  auto up = RunCli({"upgrade", "heads", "--dir", versions_, "--dsn", target_});
  ASSERT_EQ(up.code, 0) << up.err << script;
  {
    pqxx::connection c(target_);
    pqxx::work tx(c);
    tx.exec("INSERT INTO tickets VALUES (1)");
    tx.exec("INSERT INTO audit.events (ticket_id, kind) VALUES (1, 'opened')");
    EXPECT_EQ(tx.exec("SELECT count(*) FROM audit.recent")[0][0].as<int>(), 1);
    EXPECT_THROW(tx.exec("INSERT INTO audit.events (ticket_id, kind) VALUES (2, 'opened')"),
                 pqxx::foreign_key_violation);
  }
  auto down = RunCli({"downgrade", "aaaaaaaaaaaa", "--dir", versions_, "--dsn", target_});
  ASSERT_EQ(down.code, 0) << down.err << script;
  {
    pqxx::connection c(target_);
    pqxx::work tx(c);
    EXPECT_TRUE(tx.exec("SELECT 1 FROM pg_namespace WHERE nspname = 'audit'").empty());
    EXPECT_EQ(Differences(Catalog(), before_), "");
  }
  // Its scratch databases are gone.
  pqxx::connection admin(Dsn());
  pqxx::work tx(admin);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM pg_database WHERE datname LIKE 'fleet\\_autogen\\_%' "
                    "AND datname LIKE '%' || left(encode(sha256(convert_to(current_database(), "
                    "'UTF8')), 'hex'), 8) || '%'")[0][0]
                .as<int>(),
            0);
}

// Changes inside a listed schema: a retyped column under a view, a serial
// column made an identity (its sequence goes). fleetctl test on revisions
// that make a schema by name leaves the dev database empty for the next run.
TEST_F(AutogenerateTest, ChangesInAListedSchemaApplyAndTheDevDatabaseStaysEmpty) {
  if (IsSkipped()) return;
  // A start fleetctl test can take down and up again.
  std::ofstream(versions_ + "/aaaaaaaaaaaa_start.sql")
      << "-- revision: aaaaaaaaaaaa\n-- down_revision:\n\n-- migrate:upgrade\n"
      << "CREATE TABLE tickets (id int PRIMARY KEY);\nCREATE SCHEMA audit;\n"
      << "CREATE TABLE audit.events (id serial PRIMARY KEY, kind int NOT NULL);\n"
      << "CREATE VIEW audit.recent AS SELECT id, kind FROM audit.events;\n"
      << "-- migrate:downgrade\nDROP SCHEMA audit CASCADE;\nDROP TABLE tickets;\n";
  ASSERT_EQ(RunCli({"upgrade", "heads", "--dir", versions_, "--dsn", target_}).code, 0);
  Declare("CREATE TABLE tickets (id int PRIMARY KEY);\nCREATE SCHEMA audit;\n"
          "CREATE TABLE audit.events (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
          "kind text NOT NULL);\n"
          "CREATE VIEW audit.recent AS SELECT id, kind FROM audit.events;");
  std::ofstream(dir_.path() + "/fleet.toml")
      << "script_location = \"versions\"\nschema = \"schema.sql\"\n"
      << "[autogenerate]\nschemas = [\"audit\", \"nosuch\"]\n";
  Result generated = fleet::testing::RunBinary(
      dir_.path(), "revision --autogenerate -m change --dev-url '" + Dsn() + "'", true);
  ASSERT_EQ(generated.code, 0) << generated.out;
  EXPECT_THAT(generated.out, HasSubstr("Schema nosuch is listed to compare but neither"));
  EXPECT_THAT(generated.out, HasSubstr("drop sequence audit.events_id_seq"));
  EXPECT_THAT(generated.out, HasSubstr("recreate view audit.recent"));
  const std::string script = Scripts();
  auto up = RunCli({"upgrade", "heads", "--dir", versions_, "--dsn", target_});
  ASSERT_EQ(up.code, 0) << up.err << script;
  Result tested = fleet::testing::RunBinary(dir_.path(), "test --dev-url '" + Dsn() + "'", true);
  EXPECT_EQ(tested.code, 0) << tested.out << script;
  EXPECT_THAT(tested.out, HasSubstr("ok   declared schema: the heads build it"));
  // Nothing of the revisions' own schema was left in the dev database.
  pqxx::connection dev(Dsn());
  pqxx::work tx(dev);
  EXPECT_TRUE(tx.exec("SELECT 1 FROM pg_namespace WHERE nspname = 'audit'").empty());
  tx.commit();
  Result again = fleet::testing::RunBinary(dir_.path(),
                                           "check --autogenerate --dev-url '" + Dsn() + "'", true);
  EXPECT_EQ(again.code, 0) << again.out;
  // "audit.*" leaves the schema and all in it alone.
  std::filesystem::remove_all(versions_);
  std::filesystem::create_directories(versions_);
  std::ofstream(versions_ + "/aaaaaaaaaaaa_start.sql")
      << "-- revision: aaaaaaaaaaaa\n-- down_revision:\n\n-- migrate:upgrade\n"
      << "CREATE TABLE tickets (id int PRIMARY KEY);\n-- migrate:downgrade\nSELECT 1;\n";
  Result excluded = fleet::testing::RunBinary(
      dir_.path(), "check --autogenerate --exclude 'audit.*' --dev-url '" + Dsn() + "'", true);
  EXPECT_EQ(excluded.code, 0) << excluded.out;
  EXPECT_THAT(excluded.out, HasSubstr("schema audit"));
  EXPECT_THAT(excluded.out, HasSubstr("No new upgrade operations detected."));
}

TEST_F(AutogenerateTest, EveryKindOfObjectRoundTrips) {
  Start(R"sql(
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    nick varchar(20),
    age int,
    mood mood,
    legacy_code int
);
CREATE TABLE old_stuff (id int PRIMARY KEY, users_id bigint REFERENCES users (id));
CREATE SEQUENCE invoice_seq START 100;
CREATE VIEW adults AS SELECT id, email FROM users WHERE age >= 18;
CREATE INDEX users_age_idx ON users (age);
COMMENT ON COLUMN users.legacy_code IS 'from the old system';
)sql");
  Declare(R"sql(
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TYPE plan AS ENUM ('free', 'pro', 'it''s complicated');
CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL UNIQUE,
    nick varchar(40) NOT NULL DEFAULT 'anon',
    age int CHECK (age >= 0),
    mood mood DEFAULT 'ok',
    legacy_code int GENERATED BY DEFAULT AS IDENTITY,
    plan plan NOT NULL DEFAULT 'free',
    created_at timestamptz DEFAULT now()
);
COMMENT ON TABLE users IS 'People who file tickets';
COMMENT ON COLUMN users.email IS 'Login; unique';
CREATE TABLE teams (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE memberships (
    user_id bigint REFERENCES users (id) ON DELETE CASCADE,
    team_id int REFERENCES teams (id) ON DELETE RESTRICT ON UPDATE CASCADE,
    role text,
    PRIMARY KEY (user_id, team_id)
);
CREATE SEQUENCE invoice_seq START 1000 INCREMENT 10;
CREATE SEQUENCE ticket_no_seq;
COMMENT ON SEQUENCE ticket_no_seq IS 'ticket numbers';
CREATE VIEW adults AS SELECT id, email, nick FROM users WHERE age >= 18;
CREATE VIEW team_sizes AS SELECT team_id, count(*) AS members FROM memberships GROUP BY team_id;
COMMENT ON VIEW team_sizes IS 'for the dashboard';
CREATE UNIQUE INDEX users_lower_email_idx ON users (lower(email)) WHERE mood <> 'sad';
CREATE INDEX users_age_idx ON users USING hash (age);
COMMENT ON INDEX users_age_idx IS 'age lookups';
CREATE INDEX memberships_team_idx ON memberships (team_id);
COMMENT ON TYPE plan IS 'billing plans';
)sql");
  auto check = Check();
  EXPECT_EQ(check.code, 1);
  EXPECT_THAT(check.out, HasSubstr("New upgrade operations detected:"));
  auto gen = Generate({"--allow-drop"});
  ASSERT_EQ(gen.code, 0) << gen.err;
  EXPECT_EQ(Generated(), 1);
  for (const char* detected :
       {"Detected create type plan", "Detected create table teams", "Detected create table memberships",
        "Detected add column users.plan", "Detected change type of users.nick",
        "Detected set not null on users.nick", "Detected add constraint users_email_key on users",
        "Detected add constraint users_age_check on users", "Detected add identity to users.legacy_code",
        "Detected recreate view adults", "Detected create view team_sizes",
        "Detected create index users_lower_email_idx on users", "Detected drop index users_age_idx",
        "Detected alter sequence invoice_seq", "Detected create sequence ticket_no_seq",
        "Detected drop table old_stuff", "Detected comment on column users.legacy_code"}) {
    EXPECT_THAT(gen.out, HasSubstr(detected));
  }
  EXPECT_THAT(gen.out, Not(HasSubstr("commented out")));
  std::string script = Scripts();
  // Referenced before referencing: teams and memberships exist before their keys.
  EXPECT_LT(script.find("CREATE TABLE teams"), script.find("FOREIGN KEY (team_id)"));
  EXPECT_LT(script.find("CREATE TYPE plan"), script.find("ADD COLUMN plan plan"));
  EXPECT_LT(script.find("DROP CONSTRAINT old_stuff_users_id_fkey"), script.find("DROP TABLE old_stuff"));
  ApplyAndRoundTrip();
}

TEST_F(AutogenerateTest, ConstraintsDefaultsAndIdentityChangeInPlace) {
  Start(R"sql(
CREATE TABLE p (id int PRIMARY KEY, code text);
CREATE TABLE c (
    id int,
    p_id int REFERENCES p (id) ON DELETE CASCADE,
    x int CHECK (x > 0),
    n bigint GENERATED BY DEFAULT AS IDENTITY,
    d text DEFAULT 'a'
);
)sql");
  Declare(R"sql(
CREATE TABLE p (id int PRIMARY KEY, code text UNIQUE);
CREATE TABLE c (
    id int PRIMARY KEY,
    p_id int REFERENCES p (id) ON DELETE SET NULL,
    x int CHECK (x > 1),
    n bigint GENERATED ALWAYS AS IDENTITY,
    d text
);
)sql");
  auto gen = Generate();
  ASSERT_EQ(gen.code, 0) << gen.err;
  std::string script = Scripts();
  EXPECT_THAT(script, HasSubstr("ALTER TABLE c DROP CONSTRAINT c_p_id_fkey;"));
  EXPECT_THAT(script, HasSubstr("ALTER TABLE c ADD CONSTRAINT c_p_id_fkey FOREIGN KEY (p_id) "
                                "REFERENCES p(id) ON DELETE SET NULL;"));
  EXPECT_THAT(script, HasSubstr("ALTER TABLE c ADD CONSTRAINT c_pkey PRIMARY KEY (id);"));
  EXPECT_THAT(script, HasSubstr("ALTER TABLE c ALTER COLUMN n SET GENERATED ALWAYS;"));
  EXPECT_THAT(script, HasSubstr("ALTER TABLE c ALTER COLUMN d DROP DEFAULT;"));
  ApplyAndRoundTrip();
}

TEST_F(AutogenerateTest, DropsAreCommentedOutUnlessAllowed) {
  Start("CREATE TABLE t (a int, b int);\nCREATE TABLE old (id int);\n");
  Declare("CREATE TABLE t (a int);\n");
  auto gen = Generate();
  ASSERT_EQ(gen.code, 0) << gen.err;
  EXPECT_THAT(gen.out, HasSubstr("Detected drop column t.b (written commented out)"));
  EXPECT_THAT(gen.out, HasSubstr("2 change(s) that would drop data are written commented out"));
  std::string script = Scripts();
  EXPECT_THAT(script, HasSubstr("-- ALTER TABLE t DROP COLUMN b;"));
  EXPECT_THAT(script, HasSubstr("-- DROP TABLE old;"));
  EXPECT_THAT(script, HasSubstr("run again with --allow-drop"));
  ASSERT_EQ(RunCli({"upgrade", "heads", "--dir", versions_, "--dsn", target_}).code, 0);
  EXPECT_EQ(Catalog().tables.count("old"), 1u);  // nothing lost
  EXPECT_EQ(Check().code, 1);                    // and the difference is still reported
}

TEST_F(AutogenerateTest, TypeChangesAndNewNotNullsCarryWarnings) {
  Start("CREATE TABLE t (c int, d text);\n");
  Declare("CREATE TABLE t (c bigint, d text NOT NULL, e text NOT NULL);\n");
  auto gen = Generate();
  ASSERT_EQ(gen.code, 0) << gen.err;
  std::string script = Scripts();
  EXPECT_THAT(script, HasSubstr("ALTER TABLE t ALTER COLUMN c TYPE bigint USING c::bigint;"));
  EXPECT_THAT(script, HasSubstr("-- WARNING: review the USING expression"));
  EXPECT_THAT(script, HasSubstr("ALTER TABLE t ALTER COLUMN d SET NOT NULL;"));
  EXPECT_THAT(script, HasSubstr("-- WARNING: existing rows need a value"));
  EXPECT_THAT(script, HasSubstr("-- WARNING: NOT NULL without a default"));
  EXPECT_THAT(gen.out, HasSubstr("WARNING: review the USING expression"));
  ApplyAndRoundTrip();
}

TEST_F(AutogenerateTest, ViewsOverARetypedColumnAreRecreated) {
  Start("CREATE TABLE t (c int, d text);\nCREATE VIEW v AS SELECT c FROM t;\n"
        "COMMENT ON VIEW v IS 'kept';\nCREATE VIEW other AS SELECT 1 AS one;\n");
  Declare("CREATE TABLE t (c bigint, d text);\nCREATE VIEW v AS SELECT c FROM t;\n"
          "COMMENT ON VIEW v IS 'kept';\nCREATE VIEW other AS SELECT 1 AS one;\n");
  auto gen = Generate();
  ASSERT_EQ(gen.code, 0) << gen.err;
  EXPECT_THAT(gen.out, HasSubstr("Detected recreate view v"));
  EXPECT_THAT(gen.out, Not(HasSubstr("view other")));
  ApplyAndRoundTrip();
}

TEST_F(AutogenerateTest, ConcurrentIndexesGoIntoTheirOwnNonTransactionalRevision) {
  Start("CREATE TABLE t (a int, b int);\n");
  Declare("CREATE TABLE t (a int, b int);\nCREATE INDEX t_a_idx ON t (a);\n"
          "CREATE TABLE u (x int);\nCREATE INDEX u_x_idx ON u (x);\n");
  auto gen = Generate({"--concurrent-indexes"});
  ASSERT_EQ(gen.code, 0) << gen.err;
  EXPECT_EQ(Generated(), 2);
  std::string script = Scripts();
  EXPECT_THAT(script, HasSubstr("-- transactional: false"));
  EXPECT_THAT(script, HasSubstr("CREATE INDEX CONCURRENTLY t_a_idx ON t"));
  EXPECT_THAT(script, HasSubstr("DROP INDEX CONCURRENTLY t_a_idx;"));
  EXPECT_THAT(script, HasSubstr("CREATE INDEX u_x_idx ON u"));  // a new table's: no need
  ApplyAndRoundTrip();
}

TEST_F(AutogenerateTest, EnumValuesAreAddedInPlaceAndNeverRemoved) {
  Start("CREATE TYPE mood AS ENUM ('sad', 'ok');\nCREATE TABLE t (m mood);\n");
  Declare("CREATE TYPE mood AS ENUM ('sad', 'meh', 'ok', 'great');\nCREATE TABLE t (m mood);\n");
  auto gen = Generate();
  ASSERT_EQ(gen.code, 0) << gen.err;
  std::string script = Scripts();
  EXPECT_THAT(script, HasSubstr("ALTER TYPE mood ADD VALUE 'meh' AFTER 'sad';"));
  EXPECT_THAT(script, HasSubstr("ALTER TYPE mood ADD VALUE 'great' AFTER 'ok';"));
  EXPECT_THAT(script, HasSubstr("PostgreSQL cannot remove or reorder enum values"));  // the downgrade's note
  ASSERT_EQ(RunCli({"upgrade", "heads", "--dir", versions_, "--dsn", target_}).code, 0);
  EXPECT_EQ(Differences(Catalog(), Declared()), "");

  // Removing a value is refused, and nothing is written.
  Declare("CREATE TYPE mood AS ENUM ('sad', 'meh', 'great');\nCREATE TABLE t (m mood);\n");
  int before = Generated();
  auto refused = Generate();
  EXPECT_EQ(refused.code, 3);
  EXPECT_THAT(refused.err, HasSubstr("type mood: value 'ok' removed; PostgreSQL cannot remove"));
  EXPECT_THAT(refused.err, HasSubstr("no revision written"));
  EXPECT_EQ(Generated(), before);
  EXPECT_EQ(Check().code, 1);
}

TEST_F(AutogenerateTest, PossibleRenamesAreNamed) {
  Start("CREATE TABLE t (title text, n int);\nCREATE TABLE people (id int, name text);\n");
  Declare("CREATE TABLE t (subject text, n int);\nCREATE TABLE persons (id int, name text);\n");
  auto gen = Generate();
  ASSERT_EQ(gen.code, 0) << gen.err;
  EXPECT_THAT(gen.out, HasSubstr("Possible rename: column t.title -> t.subject (ALTER TABLE t "
                                 "RENAME COLUMN title TO subject keeps the data)"));
  EXPECT_THAT(gen.out, HasSubstr("Possible rename: table people -> persons"));
}

TEST_F(AutogenerateTest, NothingToDoAndBadInput) {
  Start("CREATE TABLE t (a int);\n");
  auto same = Generate();
  EXPECT_EQ(same.code, 0);
  EXPECT_THAT(same.out, HasSubstr("No changes in schema detected; no revision written."));
  EXPECT_EQ(Generated(), 0);
  EXPECT_EQ(Check().code, 0);

  Declare("CREATE TABLE t (a int);\n\nCREATE TABLE u (a nosuchtype);\n");
  auto bad = Check();
  EXPECT_EQ(bad.code, 3);
  EXPECT_THAT(bad.err, HasSubstr("schema.sql:3: ERROR:  type \"nosuchtype\" does not exist"));

  Declare("CREATE TABLE public.t2 (a int);\n");
  auto qualified = Check();
  EXPECT_EQ(qualified.code, 3);
  EXPECT_THAT(qualified.err, HasSubstr("write names unqualified"));

  auto no_dev = RunCli({"check", "--autogenerate", "--dir", versions_, "--declared", declared_});
  EXPECT_EQ(no_dev.code, 3);
  EXPECT_THAT(no_dev.err, HasSubstr("--dev-url or FLEET_DEV_URL"));

  // A dev database that holds something is never touched.
  fleet::testing::Exec(Dsn(), "CREATE TABLE precious (id int)");
  auto occupied = Check();
  EXPECT_EQ(occupied.code, 3);
  EXPECT_THAT(occupied.err, HasSubstr("is not empty (public.precious)"));
  EXPECT_EQ(fleet::testing::Query(Dsn(), "SELECT count(*) FROM precious")[0][0], "0");
}

TEST_F(AutogenerateTest, SupportDeskDeclaredSchemaMatchesItsHead) {
  auto r = RunCli({"check", "--autogenerate", "--dir", fleet::testing::ExampleDir(), "--declared",
                   std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/schema", "--dev-url",
                   Dsn()});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "No new upgrade operations detected.\n");
  // Nothing is left in the dev database.
  EXPECT_EQ(fleet::testing::Query(Dsn(), "SELECT count(*) FROM pg_namespace WHERE nspname LIKE "
                                         "'fleet_autogen%'")[0][0],
            "0");
}

}  // namespace
}  // namespace fleet::cli
