#include "controller/inventory.h"

#include <sqlite3.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace fleet::controller {
namespace {

using ::fleet::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

AgentRecord A(const std::string& address) {
  AgentRecord a;
  a.address = address;
  return a;
}

TenantRecord T(const std::string& id, std::map<std::string, std::string> labels = {}) {
  TenantRecord t;
  t.id = id;
  t.labels = std::move(labels);
  t.heads = {"abc"};
  return t;
}

TEST(InventoryTest, AgentsTenantsAndOperatorLabels) {
  TempDir dir;
  auto inv = OpenSqliteInventory(dir.path() + "/f.sqlite");
  ASSERT_TRUE(inv.ok()) << inv.status();
  Inventory& i = **inv;
  ASSERT_TRUE(i.AddAgent(A("a:1")).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(i.AddAgent(A("a:1"))));
  ASSERT_TRUE(i.AddAgent(A("b:1")).ok());
  ASSERT_TRUE(i.ReplaceAgentTenants("a:1", {T("t1", {{"tier", "gold"}}), T("t2")}).ok());
  // A tenant id is one tenant: another agent cannot claim it.
  absl::Status dup = i.ReplaceAgentTenants("b:1", {T("t1")});
  EXPECT_TRUE(absl::IsAlreadyExists(dup));
  EXPECT_THAT(dup.message(), HasSubstr("tenant t1 of agent b:1 is already served by agent a:1"));
  // Operator labels overlay the agent's and survive the next report.
  ASSERT_TRUE(i.SetTenantLabels("t1", {{"region", "eu"}}).ok());
  ASSERT_TRUE(i.ReplaceAgentTenants("a:1", {T("t1", {{"tier", "gold"}})}).ok());
  auto t1 = i.GetTenant("t1");
  ASSERT_TRUE(t1.ok());
  EXPECT_EQ(t1->labels, (std::map<std::string, std::string>{{"region", "eu"}}));
  // t2 was not reported again: gone.
  EXPECT_TRUE(absl::IsNotFound(i.GetTenant("t2").status()));
  ASSERT_TRUE(i.SetAgentTenantsReachable("a:1", false).ok());
  EXPECT_FALSE(i.GetTenant("t1")->reachable);
  auto removed = i.RemoveAgent("a:1");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_TRUE(i.ListTenants()->empty());
  EXPECT_TRUE(absl::IsNotFound(i.RemoveAgent("a:1").status()));
}

TEST(InventoryTest, BundlesNewestFirstAndByPrefix) {
  TempDir dir;
  auto inv = OpenSqliteInventory(dir.path() + "/f.sqlite");
  ASSERT_TRUE(inv.ok());
  Inventory& i = **inv;
  EXPECT_FALSE(i.NewestBundle()->has_value());
  BundleRecord one{std::string(64, 'a'), "", {"h1"}, 1, {{"a.sql", "x", "c1"}}};
  BundleRecord two{std::string(64, 'b'), "", {"h2"}, 1, {{"b.sql", "y", "c2"}}};
  ASSERT_TRUE(i.PutBundle(one).ok());
  ASSERT_TRUE(i.PutBundle(two).ok());
  EXPECT_EQ((*i.NewestBundle())->digest, two.digest);
  ASSERT_TRUE(i.PutBundle(one).ok());  // a re-push makes it the newest again
  EXPECT_EQ((*i.NewestBundle())->digest, one.digest);
  EXPECT_EQ((*i.NewestBundle())->files.size(), 1u);
  auto by_prefix = i.GetBundle("bbbbbbbb");
  ASSERT_TRUE(by_prefix.ok());
  EXPECT_EQ(by_prefix->files[0].content, "y");
  EXPECT_TRUE(absl::IsNotFound(i.GetBundle("cccccccc").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(i.GetBundle("abc").status()));
}

TEST(InventoryTest, ReopensAndRefusesANewerSchema) {
  TempDir dir;
  std::string path = dir.path() + "/f.sqlite";
  {
    auto inv = OpenSqliteInventory(path);
    ASSERT_TRUE(inv.ok());
    ASSERT_TRUE((*inv)->AddAgent(A("a:1")).ok());
  }
  {
    auto inv = OpenSqliteInventory(path);
    ASSERT_TRUE(inv.ok());
    EXPECT_EQ((*inv)->ListAgents()->size(), 1u);
  }
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto newer = OpenSqliteInventory(path);
  ASSERT_FALSE(newer.ok());
  EXPECT_THAT(newer.status().message(), HasSubstr("schema version 99 is newer"));
}

}  // namespace
}  // namespace fleet::controller
