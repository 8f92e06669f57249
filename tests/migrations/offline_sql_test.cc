#include "migrations/offline_sql.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/graph_builder.h"

namespace fleet::migrations {
namespace {

using ::fleet::testing::Graph;
using ::fleet::testing::Rev;
using ::testing::HasSubstr;

// Exactly what Alembic 1.8.1 prints for `upgrade head --sql` on this graph
// with transaction_per_migration=True (captured from Alembic itself).
TEST(OfflineSqlTest, UpgradeFromBaseMatchesAlembic) {
  auto g = Graph({{"aaaa0001", ""}, {"bbbb0002", "aaaa0001"}});
  auto plan = g->PlanUpgrade({}, "head");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(RenderOfflineSql(*plan, VersionTable{}),
            "BEGIN;\n\n"
            "CREATE TABLE alembic_version (\n"
            "    version_num VARCHAR(32) NOT NULL, \n"
            "    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n"
            ");\n\n"
            "-- Running upgrade  -> aaaa0001\n\n"
            "-- up aaaa0001\n\n"
            "INSERT INTO alembic_version (version_num) VALUES ('aaaa0001') RETURNING "
            "alembic_version.version_num;\n\n"
            "COMMIT;\n\n"
            "BEGIN;\n\n"
            "-- Running upgrade aaaa0001 -> bbbb0002\n\n"
            "-- up bbbb0002\n\n"
            "UPDATE alembic_version SET version_num='bbbb0002' WHERE "
            "alembic_version.version_num = 'aaaa0001';\n\n"
            "COMMIT;\n\n");
}

TEST(OfflineSqlTest, DowngradeToBaseDropsTheTableLikeAlembic) {
  auto g = Graph({{"aaaa0001", ""}, {"bbbb0002", "aaaa0001"}});
  auto plan = g->PlanDowngrade({"bbbb0002"}, "base");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(RenderOfflineSql(*plan, VersionTable{}),
            "BEGIN;\n\n"
            "-- Running downgrade bbbb0002 -> aaaa0001\n\n"
            "-- down bbbb0002\n\n"
            "UPDATE alembic_version SET version_num='aaaa0001' WHERE "
            "alembic_version.version_num = 'bbbb0002';\n\n"
            "COMMIT;\n\n"
            "BEGIN;\n\n"
            "-- Running downgrade aaaa0001 -> \n\n"
            "-- down aaaa0001\n\n"
            "DELETE FROM alembic_version WHERE alembic_version.version_num = 'aaaa0001';\n\n"
            "COMMIT;\n\n"
            "DROP TABLE alembic_version;\n\n");
}

TEST(OfflineSqlTest, StampLooksLikeAlembicStamp) {
  auto g = Graph({{"aaaa0001", ""}, {"bbbb0002", "aaaa0001"}});
  auto plan = g->PlanStamp({}, {"bbbb0002"});
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(RenderOfflineSql(*plan, VersionTable{}),
              HasSubstr("-- Running stamp_revision  -> bbbb0002\n\nINSERT INTO alembic_version"));
}

TEST(OfflineSqlTest, NonTransactionalStepRunsOutsideATransaction) {
  auto g = Graph({{"aaaa0001", ""}, {"bbbb0002", "aaaa0001"}});
  std::vector<Script> scripts{fleet::testing::MakeScript({"aaaa0001", ""}),
                              fleet::testing::MakeScript({"bbbb0002", "aaaa0001"})};
  scripts[1].transactional = false;
  auto g2 = RevisionGraph::Build(scripts);
  ASSERT_TRUE(g2.ok());
  auto plan = (*g2)->PlanUpgrade({"aaaa0001"}, "heads");
  ASSERT_TRUE(plan.ok());
  std::string sql = RenderOfflineSql(*plan, VersionTable{});
  EXPECT_EQ(sql.find("BEGIN;"), std::string::npos) << sql;
  EXPECT_THAT(sql, HasSubstr("-- Running upgrade aaaa0001 -> bbbb0002"));
}

TEST(OfflineSqlTest, QuotesIdentifiersAndLiterals) {
  EXPECT_EQ(QuoteIdentifier("alembic_version"), "alembic_version");
  EXPECT_EQ(QuoteIdentifier("Tenant\"; DROP"), "\"Tenant\"\"; DROP\"");
  EXPECT_EQ(QuoteIdentifier("1abc"), "\"1abc\"");
  EXPECT_EQ(QuoteIdentifier("clé"), "\"clé\"");
  EXPECT_EQ(QuoteLiteral("it's"), "'it''s'");
  VersionTable t{.schema = "tenant one", .name = "versions"};
  EXPECT_EQ(t.QualifiedName(), "\"tenant one\".versions");
  EXPECT_EQ(VersionChangeSql(t, {VersionChange::Kind::kInsert, "", "ab"}),
            "INSERT INTO \"tenant one\".versions (version_num) VALUES ('ab') RETURNING "
            "\"tenant one\".versions.version_num;");
  EXPECT_THAT(CreateVersionTableSql(t), HasSubstr("CONSTRAINT versions_pkc PRIMARY KEY"));
}

}  // namespace
}  // namespace fleet::migrations
