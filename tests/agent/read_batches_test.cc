// How an agent splits its tenants into reads (agent/read_batches.h): pure
// logic, no database.
#include "agent/read_batches.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TenantConfig Tenant(const std::string& id, const std::string& dsn, const std::string& schema) {
  TenantConfig t;
  t.id = id;
  t.dsn = dsn;
  t.schema = schema;
  return t;
}

// Every tenant is read exactly once.
void ExpectEachTenantOnce(const std::vector<ReadBatch>& batches, size_t n) {
  std::multiset<size_t> seen;
  for (const ReadBatch& b : batches) seen.insert(b.tenants.begin(), b.tenants.end());
  ASSERT_EQ(seen.size(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(seen.count(i), 1u) << "tenant " << i;
}

TEST(ReadBatchesTest, ManySchemasOfOneDatabaseAreChunkedWithAStableSessionEach) {
  std::vector<TenantConfig> tenants;
  for (int i = 0; i < 2500; ++i) {
    tenants.push_back(Tenant(absl::StrCat("t", i), "dbname=shared", absl::StrCat("t", i)));
  }
  const std::vector<ReadBatch> batches = PlanReadBatches(tenants, 16);
  // 2,500 schemas at 500 a session: 5 chunks, though 16 workers could read.
  ASSERT_EQ(batches.size(), 5u);
  ExpectEachTenantOnce(batches, tenants.size());
  std::set<std::string> tags;
  for (size_t c = 0; c < batches.size(); ++c) {
    EXPECT_EQ(batches[c].tenants.size(), 500u);
    tags.insert(batches[c].affinity);
  }
  // The first chunk shares the migrations' sessions; the others have one each.
  EXPECT_THAT(batches[0].affinity, IsEmpty());
  EXPECT_EQ(batches[1].affinity, "schemas 1/5");
  EXPECT_EQ(tags.size(), 5u);
  // The same tenants plan the same chunks, so a chunk meets its warm session.
  const std::vector<ReadBatch> again = PlanReadBatches(tenants, 16);
  for (size_t c = 0; c < batches.size(); ++c) {
    EXPECT_EQ(again[c].tenants, batches[c].tenants);
    EXPECT_EQ(again[c].affinity, batches[c].affinity);
  }
}

TEST(ReadBatchesTest, FewWorkersReadBiggerChunksRatherThanMoreSessions) {
  std::vector<TenantConfig> tenants;
  for (int i = 0; i < 1000; ++i) {
    tenants.push_back(Tenant(absl::StrCat("t", i), "dbname=shared", absl::StrCat("t", i)));
  }
  const std::vector<ReadBatch> batches = PlanReadBatches(tenants, 2);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].tenants.size(), 500u);
  ExpectEachTenantOnce(batches, tenants.size());
  // Zero workers is taken as one.
  EXPECT_EQ(PlanReadBatches(tenants, 0).size(), 1u);
}

TEST(ReadBatchesTest, DatabasePerTenantIsOneUntaggedReadEach) {
  std::vector<TenantConfig> tenants;
  for (int i = 0; i < 40; ++i) {
    tenants.push_back(Tenant(absl::StrCat("t", i), absl::StrCat("dbname=t", i), ""));
  }
  const std::vector<ReadBatch> batches = PlanReadBatches(tenants, 16);
  ASSERT_EQ(batches.size(), 40u);
  ExpectEachTenantOnce(batches, tenants.size());
  for (const ReadBatch& b : batches) {
    EXPECT_EQ(b.tenants.size(), 1u);
    EXPECT_THAT(b.affinity, IsEmpty());
  }
}

TEST(ReadBatchesTest, ADifferentVersionTableIsADifferentRead) {
  std::vector<TenantConfig> tenants = {Tenant("a", "dbname=shared", "a"),
                                       Tenant("b", "dbname=shared", "b"),
                                       Tenant("c", "dbname=shared", "c")};
  tenants[2].version_table = "billing_version";
  const std::vector<ReadBatch> batches = PlanReadBatches(tenants, 16);
  ASSERT_EQ(batches.size(), 2u);
  ExpectEachTenantOnce(batches, tenants.size());
  EXPECT_THAT(batches[0].tenants, ElementsAre(0u, 1u));  // alembic_version
  EXPECT_THAT(batches[1].tenants, ElementsAre(2u));      // billing_version
}

}  // namespace
}  // namespace fleet::agent
