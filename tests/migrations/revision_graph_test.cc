#include "migrations/revision_graph.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/graph_builder.h"

namespace fleet::migrations {
namespace {

using ::fleet::testing::Graph;
using ::fleet::testing::Ids;
using ::fleet::testing::Rev;
using ::fleet::testing::StepIds;
using ::fleet::testing::TryGraph;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = VersionChange::Kind;

std::string BuildError(const std::vector<Rev>& revs) {
  auto g = TryGraph(revs);
  EXPECT_FALSE(g.ok());
  return g.ok() ? "" : std::string(g.status().message());
}

TEST(RevisionGraphValidationTest, SelfLoops) {
  EXPECT_EQ(BuildError({{"a", "a"}}),
            "versions/a.sql:2: Self-loop is detected in revisions (a)");
  EXPECT_EQ(BuildError({{"a", ""}, {"b", "a", "b"}}),
            "versions/b.sql:3: Dependency self-loop is detected in revisions (b)");
}

TEST(RevisionGraphValidationTest, CyclesListTheirRevisions) {
  EXPECT_THAT(BuildError({{"a", ""}, {"b", "a,d"}, {"c", "b"}, {"d", "c"}}),
              HasSubstr("Cycle is detected in revisions (b, c, d)"));
  EXPECT_THAT(BuildError({{"a", ""}, {"b", "a", "c"}, {"c", "b"}}),
              HasSubstr("Dependency cycle is detected in revisions (b, c)"));
  // A graph with no base at all is a cycle too.
  EXPECT_THAT(BuildError({{"a", "b"}, {"b", "a"}}), HasSubstr("Cycle is detected in revisions (a, b)"));
}

TEST(RevisionGraphValidationTest, MissingDependencyAndDuplicateLabel) {
  EXPECT_EQ(BuildError({{"a", ""}, {"b", "a", "zz"}}),
            "versions/b.sql:3: depends_on names 'zz', but no script declares that revision or "
            "branch label");
  EXPECT_THAT(BuildError({{"a", "", "", "x"}, {"b", "a", "", "x"}}),
              HasSubstr("versions/b.sql:4: Branch name 'x' in revision b already used by revision a"));
  EXPECT_THAT(BuildError({{"a", ""}, {"b", "a", "", "a"}}),
              HasSubstr("Branch name 'a' in revision b already used by revision a"));
}

TEST(RevisionGraphTest, HeadsBasesAndEffectiveHeads) {
  // b1 only depends on a2: a2 is a versioned head but not a real head.
  auto g = Graph({{"a1", ""}, {"a2", "a1"}, {"b1", "", "a2"}, {"b2", "b1"}});
  EXPECT_THAT(Ids(*g, g->heads()), ElementsAre("a2", "b2"));
  EXPECT_THAT(Ids(*g, g->real_heads()), ElementsAre("b2"));
  EXPECT_THAT(Ids(*g, g->bases()), ElementsAre("a1", "b1"));
  EXPECT_THAT(Ids(*g, g->real_bases()), ElementsAre("a1"));
  auto heads = g->Resolve("heads");
  ASSERT_TRUE(heads.ok());
  EXPECT_THAT(Ids(*g, *heads), ElementsAre("b2"));
}

TEST(RevisionGraphTest, NormalizedDependenciesDropWhatAncestorsImply) {
  auto g = Graph({{"a1", ""}, {"a2", "a1"}, {"b1", "", "a2"}, {"b2", "b1", "a2"}});
  EXPECT_THAT(Ids(*g, g->normalized_down_revisions(*g->FindExact("b2"))), ElementsAre("b1"));
  EXPECT_THAT(Ids(*g, g->normalized_down_revisions(*g->FindExact("b1"))), ElementsAre("a2"));
}

TEST(RevisionGraphTest, DependencyMayNameALabel) {
  auto g = Graph({{"a1", "", "", "alpha"}, {"a2", "a1"}, {"b1", "", "alpha"}});
  EXPECT_THAT(Ids(*g, g->normalized_down_revisions(*g->FindExact("b1"))), ElementsAre("a1"));
}

TEST(RevisionGraphTest, LabelsReachDescendantsAndAncestorsUpToABranchPoint) {
  // r -> (x, y); y is labelled; a merge m joins x and y.
  auto g = Graph({{"r", ""}, {"x", "r"}, {"y", "r", "", "ylab"}, {"y2", "y"}, {"m", "x,y2"},
                  {"solo", ""}, {"solo2", "solo", "", "slab"}, {"solo3", "solo2"}});
  auto labels = [&](const char* id) { return g->branch_labels(*g->FindExact(id)); };
  EXPECT_THAT(labels("y"), ElementsAre("ylab"));
  EXPECT_THAT(labels("y2"), ElementsAre("ylab"));
  EXPECT_THAT(labels("m"), ElementsAre("ylab"));  // a merge takes its parents' labels
  EXPECT_TRUE(labels("x").empty());
  EXPECT_TRUE(labels("r").empty());  // the branch point stops the walk down
  // On a chain, the label reaches down to the base.
  EXPECT_THAT(labels("solo"), ElementsAre("slab"));
  EXPECT_THAT(labels("solo3"), ElementsAre("slab"));
}

TEST(RevisionGraphTest, PrefixLookupFollowsAlembic) {
  auto g = Graph({{"abcdef01", ""}, {"abcdef02", "abcdef01"}, {"ffee0001", "abcdef02"}});
  auto one = g->ResolveOne("ffee");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(g->id(**one), "ffee0001");
  auto short_unique = g->ResolveOne("ff");  // keys longer than 3 chars match any prefix
  ASSERT_TRUE(short_unique.ok());
  auto many = g->ResolveOne("abcd");
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.status().message(),
            "Multiple revisions start with 'abcd': 'abcdef01', 'abcdef02'...");
  auto none = g->ResolveOne("zz");
  EXPECT_EQ(none.status().message(),
            "Can't locate revision identified by 'zz'; partial revision identifiers need at "
            "least four characters");
  auto none4 = g->ResolveOne("zzzz");
  EXPECT_EQ(none4.status().message(), "Can't locate revision identified by 'zzzz'");
}

TEST(RevisionGraphTest, UpgradeVersionChangesForBranchAndMerge) {
  auto g = Graph({{"a", ""}, {"b1", "a"}, {"b2", "a"}, {"m", "b1,b2"}});
  auto plan = g->PlanUpgrade({}, "m");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_THAT(StepIds(*plan), ElementsAre("a", "b2", "b1", "m"));
  EXPECT_THAT(plan->steps[0].version_changes, ElementsAre(VersionChange{Kind::kInsert, "", "a"}));
  EXPECT_THAT(plan->steps[1].version_changes,
              ElementsAre(VersionChange{Kind::kUpdate, "a", "b2"}));
  // a is gone from the table, so b1 starts a new row.
  EXPECT_THAT(plan->steps[2].version_changes, ElementsAre(VersionChange{Kind::kInsert, "", "b1"}));
  EXPECT_THAT(plan->steps[3].version_changes,
              ElementsAre(VersionChange{Kind::kDelete, "b1", ""},
                          VersionChange{Kind::kUpdate, "b2", "m"}));
  EXPECT_THAT(plan->end_heads, ElementsAre("m"));
}

TEST(RevisionGraphTest, DowngradeUnmergesAndDeletes) {
  auto g = Graph({{"a", ""}, {"b1", "a"}, {"b2", "a"}, {"m", "b1,b2"}});
  auto plan = g->PlanDowngrade({"m"}, "base");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_THAT(StepIds(*plan), ElementsAre("m", "b1", "b2", "a"));
  EXPECT_THAT(plan->steps[0].version_changes,
              ElementsAre(VersionChange{Kind::kInsert, "", "b1"},
                          VersionChange{Kind::kUpdate, "m", "b2"}));
  EXPECT_THAT(plan->steps[1].version_changes, ElementsAre(VersionChange{Kind::kDelete, "b1", ""}));
  EXPECT_THAT(plan->steps[2].version_changes,
              ElementsAre(VersionChange{Kind::kUpdate, "b2", "a"}));
  EXPECT_THAT(plan->steps[3].version_changes, ElementsAre(VersionChange{Kind::kDelete, "a", ""}));
  EXPECT_TRUE(plan->end_heads.empty());
}

TEST(RevisionGraphTest, UpgradeToWhatIsAppliedDoesNothing) {
  auto g = Graph({{"a", ""}, {"b", "a"}});
  auto plan = g->PlanUpgrade({"b"}, "a");
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->steps.empty());
  EXPECT_THAT(plan->end_heads, ElementsAre("b"));
}

TEST(RevisionGraphTest, TargetErrors) {
  auto g = Graph({{"a", ""}, {"b", "a"}, {"c1", "b"}, {"c2", "b"}});
  EXPECT_EQ(g->PlanUpgrade({}, "a:b").status().message(), "Range revision not allowed");
  EXPECT_THAT(g->PlanUpgrade({}, "head").status().message(),
              HasSubstr("Multiple head revisions are present for given argument 'head'; please "
                        "specify a specific target revision, '<branchname>@head' to narrow to a "
                        "specific head, or 'heads' for all heads"));
  EXPECT_THAT(g->PlanUpgrade({"zzzzzz"}, "heads").status().message(),
              HasSubstr("Can't locate revision identified by 'zzzzzz'"));
  EXPECT_THAT(g->PlanUpgrade({"a", "b"}, "heads").status().message(),
              HasSubstr("Requested revision b overlaps with other requested revisions a"));
  EXPECT_THAT(g->PlanUpgrade({}, "c1@c2").status().message(),
              HasSubstr("Revision c2 is not a member of branch 'c1'"));
}

TEST(RevisionGraphTest, LabelledHeadDowngradeKeepsItsLabel) {
  // Alembic drops the label when resolving an absolute L@head downgrade and
  // then fails on several heads; we keep it.
  auto g = Graph({{"a", ""}, {"b1", "a", "", "one"}, {"c1", "b1"}, {"b2", "a", "", "two"}, {"c2", "b2"}});
  auto plan = g->PlanDowngrade({"c1", "c2"}, "one@head");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->steps.empty());
}

TEST(RevisionGraphTest, IrreversibleRevisionIsRefusedUpFront) {
  std::vector<Rev> revs{{"a", ""}, {"b", "a"}, {"c", "b"}};
  revs[1].reversible = false;
  auto g = Graph(revs);
  auto plan = g->PlanDowngrade({"c"}, "base");
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(),
              HasSubstr("revision b (versions/b.sql) has no '-- migrate:downgrade' section"));
  EXPECT_TRUE(g->PlanDowngrade({"c"}, "b").ok());  // not crossing b is fine
}

TEST(RevisionGraphTest, StampPlans) {
  auto g = Graph({{"a", ""}, {"b", "a"}, {"c", "b"}, {"x", ""}});
  auto up = g->PlanStamp({"a"}, {"c"});
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_THAT(up->steps[0].version_changes, ElementsAre(VersionChange{Kind::kUpdate, "a", "c"}));
  auto down = g->PlanStamp({"c"}, {"a"});
  ASSERT_TRUE(down.ok());
  EXPECT_FALSE(down->steps[0].is_upgrade);
  EXPECT_THAT(down->end_heads, ElementsAre("a"));
  auto branch = g->PlanStamp({"c"}, {"x"});
  ASSERT_TRUE(branch.ok());
  EXPECT_THAT(branch->end_heads, ElementsAre("c", "x"));
  auto base = g->PlanStamp({"c", "x"}, {"base"});
  ASSERT_TRUE(base.ok());
  EXPECT_TRUE(base->end_heads.empty());
  auto same = g->PlanStamp({"c"}, {"c"});
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->steps.empty());
  auto purge = g->PlanStamp({"c"}, {"b"}, /*purge=*/true);
  ASSERT_TRUE(purge.ok());
  EXPECT_THAT(purge->end_heads, ElementsAre("b"));
}

TEST(RevisionGraphTest, StampAcrossDependentBranchesIsAllOrNothing) {
  // Alembic can crash half-way here; we plan every change before any runs.
  auto g = Graph({{"a1", ""}, {"a2", "a1"}, {"b1", "", "a2"}, {"b2", "b1"}});
  auto plan = g->PlanStamp({}, {"a2", "b2"});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(fleet::testing::Sorted(plan->end_heads), ElementsAre("a2", "b2"));
  auto back = g->PlanStamp({"a2", "b2"}, {"a1"});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_THAT(back->end_heads, ElementsAre("a1"));  // both branches came down to a1
}

TEST(RevisionGraphTest, CurrentRevisionsReduceToBranchHeads) {
  auto g = Graph({{"a", ""}, {"b", "a"}, {"c", "b"}});
  auto cur = g->CurrentRevisions({"c"});
  ASSERT_TRUE(cur.ok());
  EXPECT_THAT(Ids(*g, *cur), ElementsAre("c"));
}

}  // namespace
}  // namespace fleet::migrations
