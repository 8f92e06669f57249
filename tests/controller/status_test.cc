#include "controller/status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/graph_builder.h"

namespace fleet::controller {
namespace {

using ::fleet::testing::Graph;

TenantRecord Tenant(std::vector<std::string> heads) {
  TenantRecord t;
  // Moved in, not assigned from a literal: GCC 12 at -O3 reports a false
  // -Wrestrict for basic_string::assign(const char*) here (GCC bug 105651).
  t.id = std::string("t");
  t.heads = std::move(heads);
  return t;
}

TEST(StatusTest, StatesAndDistances) {
  auto g = Graph({{"a", ""}, {"b", "a"}, {"c", "b"}, {"x", ""}, {"m", "c,x"}});
  auto s = [&](TenantRecord t) { return ComputeTenantStatus(t, g.get(), {}); };
  EXPECT_EQ(s(Tenant({"m"})).state, "current");
  EXPECT_EQ(s(Tenant({"m"})).behind, 0);
  EXPECT_EQ(s(Tenant({})).state, "lagging");
  EXPECT_EQ(s(Tenant({})).behind, 5);
  EXPECT_EQ(s(Tenant({"c", "x"})).behind, 1);
  EXPECT_EQ(s(Tenant({"zz"})).state, "unknown-revision");
  EXPECT_EQ(s(Tenant({"zz"})).behind, -1);
  TenantRecord dirty = Tenant({"b"});
  dirty.dirty = true;
  EXPECT_EQ(s(dirty).state, "dirty");
  EXPECT_EQ(s(dirty).behind, 3);
  TenantRecord drift = Tenant({"m"});
  drift.drifted = {"b"};
  EXPECT_EQ(s(drift).state, "drift");
  TenantRecord gone = Tenant({"m"});
  gone.reachable = false;
  EXPECT_EQ(s(gone).state, "unreachable");
  TenantRecord unreadable = Tenant({});
  unreadable.error = "connection refused";
  EXPECT_EQ(s(unreadable).state, "unreachable");
  EXPECT_EQ(ComputeTenantStatus(Tenant({"a"}), nullptr, {}).state, "no-bundle");
}

TEST(StatusTest, AheadWhenAnOlderPushedBundleKnowsNewerRevisions) {
  auto older_push = Graph({{"a", ""}, {"b", "a"}, {"c", "b"}});  // knows c
  auto newest_push = Graph({{"a", ""}, {"b", "a"}});             // head b
  auto s = ComputeTenantStatus(Tenant({"c"}), newest_push.get(), {older_push.get()});
  EXPECT_EQ(s.state, "ahead");
  EXPECT_EQ(s.behind, 0);
  auto unknown = ComputeTenantStatus(Tenant({"q"}), newest_push.get(), {older_push.get()});
  EXPECT_EQ(unknown.state, "unknown-revision");
}

TEST(StatusTest, SummaryLineAndSelectors) {
  std::vector<TenantStatus> rows(5);
  rows[0].state = rows[1].state = rows[2].state = "current";
  rows[3].state = "lagging";
  rows[4].state = "dirty";
  EXPECT_EQ(SummaryLine(rows, {"3f2a9c1b7d10"}),
            "5 tenants \u00b7 3 at head 3f2a9c1b \u00b7 1 lagging \u00b7 1 dirty");
  EXPECT_EQ(SummaryLine({}, {}), "0 tenants \u00b7 no bundle pushed");
  TenantRecord t;
  t.id = "acme";
  t.labels = {{"tier", "gold"}, {"canary", "true"}};
  EXPECT_TRUE(Selects(t, {{"tier", "gold"}}, {}));
  EXPECT_FALSE(Selects(t, {{"tier", "silver"}}, {}));
  EXPECT_FALSE(Selects(t, {{"region", "eu"}}, {}));
  EXPECT_TRUE(Selects(t, {}, {"acme"}));
  EXPECT_FALSE(Selects(t, {}, {"globex"}));
}

}  // namespace
}  // namespace fleet::controller
