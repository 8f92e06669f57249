// DiffSchemaCatalogs on catalogs built by hand: the order statements come
// in, what is commented out, refused or marked concurrent, and how the
// script text looks. (tests/cli/autogenerate_test.cc runs the results.)
#include "migrations/schema_diff.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::migrations {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

CatalogColumn Col(const std::string& name, const std::string& type, bool not_null = false) {
  CatalogColumn c;
  c.name = c.q = name;
  c.type = type;
  c.not_null = not_null;
  return c;
}

CatalogTable Table(const std::string& name, std::vector<CatalogColumn> columns, uint32_t oid,
                   std::vector<CatalogConstraint> constraints = {}) {
  CatalogTable t;
  t.name = t.q = name;
  t.columns = std::move(columns);
  t.constraints = std::move(constraints);
  t.oid = oid;
  return t;
}

CatalogConstraint Fk(const std::string& name, const std::string& def, const std::string& to) {
  CatalogConstraint k;
  k.name = k.q = name;
  k.kind = 'f';
  k.definition = def;
  k.references = to;
  return k;
}

std::vector<std::string> Summaries(const SchemaDiff& d) {
  std::vector<std::string> out;
  for (const auto& c : d.changes) out.push_back(c.summary);
  return out;
}

TEST(SchemaDiffTest, IdenticalCatalogsNeedNothing) {
  SchemaCatalog a;
  a.tables["t"] = Table("t", {Col("id", "integer")}, 1);
  EXPECT_TRUE(DiffSchemaCatalogs(a, a, {}).empty());
  EXPECT_EQ(RenderChanges({}), "");
}

TEST(SchemaDiffTest, ReferencedBeforeReferencingAndTheReverseForDrops) {
  SchemaCatalog before, after;
  after.tables["b"] = Table("b", {Col("a_id", "integer")}, 5,
                            {Fk("b_a_id_fkey", "FOREIGN KEY (a_id) REFERENCES a(id)", "a")});
  after.tables["a"] = Table("a", {Col("id", "integer", true)}, 7);
  auto up = DiffSchemaCatalogs(before, after, {});
  // Tables in creation order of the declared schema, then the key.
  EXPECT_THAT(Summaries(up), ElementsAre("create table b", "create table a",
                                         "add constraint b_a_id_fkey on b"));
  DiffOptions down;
  down.downgrade = true;
  auto back = DiffSchemaCatalogs(after, before, down);
  EXPECT_THAT(Summaries(back), ElementsAre("drop constraint b_a_id_fkey on b", "drop table a",
                                           "drop table b"));
  for (const auto& c : back.changes) EXPECT_FALSE(c.commented_out) << c.summary;
}

TEST(SchemaDiffTest, DropsAreCommentedOutUnlessAllowed) {
  SchemaCatalog before, after;
  before.tables["t"] = Table("t", {Col("a", "integer"), Col("b", "text")}, 1);
  after.tables["t"] = Table("t", {Col("a", "integer")}, 1);
  auto d = DiffSchemaCatalogs(before, after, {});
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_TRUE(d.changes[0].commented_out);
  EXPECT_EQ(RenderChanges(d.changes),
            "-- drop column t.b\n"
            "-- WARNING: drops data: written commented out; uncomment it, or run again with "
            "--allow-drop, once nothing needs it\n"
            "-- ALTER TABLE t DROP COLUMN b;\n");
  DiffOptions allow;
  allow.allow_drop = true;
  auto live = DiffSchemaCatalogs(before, after, allow);
  EXPECT_FALSE(live.changes[0].commented_out);
  EXPECT_EQ(RenderChanges(live.changes), "-- drop column t.b\nALTER TABLE t DROP COLUMN b;\n");
}

// A type whose table's drop is commented out stays (commented out too): a
// live DROP TYPE would fail on the table that is kept.
TEST(SchemaDiffTest, ATypeStaysWhileTheTableUsingItDoesAndGoesAfterIt) {
  SchemaCatalog before, after;
  CatalogEnum e;
  e.name = e.q = "mood";
  e.values = {"sad"};
  e.value_literals = {"'sad'"};
  before.enums["mood"] = e;
  before.tables["t"] = Table("t", {Col("id", "integer"), Col("m", "mood")}, 1);
  auto up = DiffSchemaCatalogs(before, after, {});
  EXPECT_THAT(Summaries(up), ElementsAre("drop table t", "drop type mood"));
  for (const auto& c : up.changes) EXPECT_TRUE(c.commented_out) << c.summary;
  DiffOptions allow;
  allow.allow_drop = true;
  auto live = DiffSchemaCatalogs(before, after, allow);
  EXPECT_THAT(Summaries(live), ElementsAre("drop table t", "drop type mood"));
  for (const auto& c : live.changes) EXPECT_FALSE(c.commented_out) << c.summary;
  // A type nothing dropped uses goes live.
  before.tables.clear();
  auto unused = DiffSchemaCatalogs(before, after, {});
  ASSERT_EQ(unused.changes.size(), 1u);
  EXPECT_FALSE(unused.changes[0].commented_out);
}

TEST(SchemaDiffTest, EnumValuesOnlyGrow) {
  SchemaCatalog before, after;
  CatalogEnum e;
  e.name = e.q = "mood";
  e.values = {"sad", "ok"};
  e.value_literals = {"'sad'", "'ok'"};
  before.enums["mood"] = e;
  e.values = {"meh", "sad", "ok"};
  e.value_literals = {"'meh'", "'sad'", "'ok'"};
  after.enums["mood"] = e;
  auto up = DiffSchemaCatalogs(before, after, {});
  ASSERT_EQ(up.changes.size(), 1u);
  EXPECT_EQ(up.changes[0].sql, "ALTER TYPE mood ADD VALUE 'meh' BEFORE 'sad';");
  auto refused = DiffSchemaCatalogs(after, before, {});
  EXPECT_TRUE(refused.changes.empty());
  EXPECT_THAT(refused.refusals, ElementsAre(HasSubstr("type mood: value 'meh' removed")));
  DiffOptions down;
  down.downgrade = true;
  auto noted = DiffSchemaCatalogs(after, before, down);
  EXPECT_TRUE(noted.refusals.empty());
  ASSERT_EQ(noted.changes.size(), 1u);
  EXPECT_TRUE(noted.changes[0].commented_out);
}

TEST(SchemaDiffTest, ConcurrentOnlyForTablesThatExist) {
  SchemaCatalog before, after;
  before.tables["t"] = Table("t", {Col("a", "integer")}, 1);
  after.tables = before.tables;
  after.tables["u"] = Table("u", {Col("x", "integer")}, 2);
  CatalogIndex i1{"t_a_idx", "t_a_idx", "t", "CREATE INDEX t_a_idx ON t USING btree (a)", "", 3};
  CatalogIndex i2{"u_x_idx", "u_x_idx", "u", "CREATE UNIQUE INDEX u_x_idx ON u USING btree (x)", "", 4};
  after.indexes = {{"t_a_idx", i1}, {"u_x_idx", i2}};
  DiffOptions o;
  o.concurrent_indexes = true;
  auto d = DiffSchemaCatalogs(before, after, o);
  std::vector<std::string> concurrent, plain;
  for (const auto& c : d.changes) (c.concurrent ? concurrent : plain).push_back(c.sql);
  EXPECT_THAT(concurrent, ElementsAre("CREATE INDEX CONCURRENTLY t_a_idx ON t USING btree (a);"));
  EXPECT_THAT(plain, ElementsAre(HasSubstr("CREATE TABLE u"),
                                 "CREATE UNIQUE INDEX u_x_idx ON u USING btree (x);"));
  EXPECT_THAT(RenderChanges(d.changes, true), HasSubstr("CONCURRENTLY"));
  EXPECT_THAT(RenderChanges(d.changes, false), ::testing::Not(HasSubstr("CONCURRENTLY")));
}

TEST(SchemaDiffTest, TypeChangesWarnAndRenamesAreNamed) {
  SchemaCatalog before, after;
  before.tables["t"] = Table("t", {Col("n", "integer"), Col("title", "text")}, 1);
  after.tables["t"] = Table("t", {Col("n", "bigint", true), Col("subject", "text")}, 1);
  auto d = DiffSchemaCatalogs(before, after, {});
  std::string text = RenderChanges(d.changes);
  EXPECT_THAT(text, HasSubstr("ALTER TABLE t ALTER COLUMN n TYPE bigint USING n::bigint;"));
  EXPECT_THAT(text, HasSubstr("-- WARNING: review the USING expression"));
  EXPECT_THAT(text, HasSubstr("-- WARNING: existing rows need a value"));
  EXPECT_THAT(d.possible_renames, ElementsAre(HasSubstr("column t.title -> t.subject")));
}

}  // namespace
}  // namespace fleet::migrations
