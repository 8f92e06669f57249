// Cases from Alembic's own tests (tests/test_revision.py and
// tests/test_version_traversal.py): the same graphs, with the results
// Alembic 1.8.1 gives for them, written as our table-driven cases. Where
// Alembic raises an internal error, the expectation is the message its CLI
// prints; where Alembic only warns (downgrade -1 from several heads), we
// refuse and say why.
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/graph_builder.h"

namespace fleet::migrations {
namespace {

using ::fleet::testing::Graph;
using ::fleet::testing::Ids;
using ::fleet::testing::Rev;
using ::fleet::testing::StepIds;
using ::testing::HasSubstr;

const std::map<std::string, std::vector<Rev>>& Graphs() {
  static const auto* const kGraphs = new std::map<std::string, std::vector<Rev>>{
      {"Diamond",
       {{"a", "", "", ""},
        {"b1", "a", "", ""},
        {"b2", "a", "", ""},
        {"c", "b1,b2", "", ""},
        {"d", "c", "", ""}}},
      {"Labeled",
       {{"a", "", "", "abranch"},
        {"b", "a", "", ""},
        {"somelongername", "b", "", ""},
        {"c", "somelongername", "", ""},
        {"d", "", "", ""},
        {"e", "d", "", "ebranch"},
        {"someothername", "e", "", ""},
        {"f", "someothername", "", ""}}},
      {"LongShort",
       {{"a", "", "", ""},
        {"b1", "a", "", ""},
        {"b2", "a", "", ""},
        {"c1", "b1", "", ""},
        {"d11", "c1", "", ""},
        {"d12", "c1", "", ""}}},
      {"MultipleBranch",
       {{"a", "", "", ""},
        {"b1", "a", "", ""},
        {"b2", "a", "", ""},
        {"cb1", "b1", "", ""},
        {"cb2", "b2", "", ""},
        {"d1cb1", "cb1", "", ""},
        {"d2cb1", "cb1", "", ""},
        {"d1cb2", "cb2", "", ""},
        {"d2cb2", "cb2", "", ""},
        {"d3cb2", "cb2", "", ""},
        {"d1d2cb2", "d1cb2,d2cb2", "", ""}}},
      {"BranchTravelling",
       {{"a1", "", "", ""},
        {"a2", "a1", "", ""},
        {"a3", "a2", "", ""},
        {"b1", "a3", "", ""},
        {"b2", "a3", "", ""},
        {"cb1", "b1", "", ""},
        {"cb2", "b2", "", ""},
        {"db1", "cb1", "", ""},
        {"db2", "cb2", "", ""},
        {"e1b1", "db1", "", ""},
        {"fe1b1", "e1b1", "", ""},
        {"e2b1", "db1", "", ""},
        {"e2b2", "db2", "", ""},
        {"merge", "e2b1,e2b2", "", ""}}},
      {"MultipleBase",
       {{"base1", "", "", ""},
        {"base2", "", "", ""},
        {"base3", "", "", ""},
        {"a1a", "base1", "", ""},
        {"a1b", "base1", "", ""},
        {"a2", "base2", "", ""},
        {"a3", "base3", "", ""},
        {"b1a", "a1a", "", ""},
        {"b1b", "a1b", "", ""},
        {"b2", "a2", "", ""},
        {"b3", "a3", "", ""},
        {"c2", "b2", "", ""},
        {"d2", "c2", "", ""},
        {"mergeb3d2", "b3,d2", "", ""}}},
      {"CrossDepOne",
       {{"base1", "", "", "b_1"},
        {"a1a", "base1", "", ""},
        {"a1b", "base1", "", ""},
        {"b1a", "a1a", "", ""},
        {"b1b", "a1b", "a3", ""},
        {"base2", "", "", "b_2"},
        {"a2", "base2", "", ""},
        {"b2", "a2", "", ""},
        {"c2", "b2", "a3", ""},
        {"d2", "c2", "", ""},
        {"base3", "", "", "b_3"},
        {"a3", "base3", "", ""},
        {"b3", "a3", "", ""}}},
      {"CrossDepTwo",
       {{"base1", "", "", "b_1"},
        {"a1", "base1", "", ""},
        {"b1", "a1", "", ""},
        {"c1", "b1", "", ""},
        {"base2", "", "base1", "b_2"},
        {"a2", "base2", "", ""},
        {"b2", "a2", "", ""},
        {"c2", "b2", "", ""},
        {"d2", "c2", "", ""},
        {"base3", "", "", "b_3"},
        {"a3", "base3", "", ""},
        {"b3", "a3", "", ""},
        {"c3", "b3", "b2", ""},
        {"d3", "c3", "", ""}}},
      {"NormalizedDownRev",
       {{"a1", "", "", ""},
        {"a2", "a1", "", ""},
        {"a3", "a2", "", ""},
        {"b1", "", "a3", ""},
        {"b2", "b1", "", ""},
        {"b3", "b2", "a3", ""},
        {"b4", "b3", "", ""}}},
      {"Linear",
       {{"a1", "", "", ""},
        {"b2", "a1", "", ""},
        {"c3", "b2", "", ""},
        {"d4", "c3", "", ""},
        {"e5", "d4", "", ""}}},
      {"Branched",
       {{"a", "", "", ""},
        {"b", "a", "", ""},
        {"c1", "b", "", "c1branch"},
        {"c2", "b", "", ""},
        {"d1", "c1", "", ""},
        {"d2", "c2", "", ""}}},
      {"Merged",
       {{"a", "", "", ""},
        {"b", "a", "", ""},
        {"c1", "b", "", ""},
        {"c2", "b", "", ""},
        {"d1", "c1", "", ""},
        {"d2", "c2", "", ""},
        {"e", "d1,d2", "", ""},
        {"f", "e", "", ""}}},
      {"TwinMerge",
       {{"a", "", "", ""},
        {"b1", "a", "", ""},
        {"b2", "a", "", ""},
        {"m1", "b1,b2", "", ""},
        {"m2", "b1,b2", "", ""}}},
      {"DependsOnBranch",
       {{"a1", "", "", "lba"},
        {"a2", "a1", "", ""},
        {"a3", "a2", "", ""},
        {"b1", "", "a2", "lbb"},
        {"b2", "b1", "", ""},
        {"b3", "b2", "", ""}}},
      {"Forest",
       {{"a1", "", "", ""},
        {"b1", "a1", "", ""},
        {"a2", "", "", ""},
        {"b2", "a2", "", ""}}},
  };
  return *kGraphs;
}

struct Case {
  std::string graph;
  std::string op;  // history, upgrade, downgrade, resolve, heads, realheads
  std::vector<std::string> current;  // upgrade/downgrade: the version table
  std::string a;  // history: lower; otherwise the target
  std::string b;  // history: upper
  std::vector<std::string> expected;  // revisions in order, when ok
  std::string error;  // non-empty: the call fails with this in its message
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.graph << " " << c.op << " " << c.a << " " << c.b;
}

class AlembicCaseTest : public ::testing::TestWithParam<Case> {};

TEST_P(AlembicCaseTest, MatchesAlembic) {
  const Case& c = GetParam();
  auto graph = Graph(Graphs().at(c.graph));
  ASSERT_NE(graph, nullptr);
  absl::StatusOr<std::vector<std::string>> got;
  if (c.op == "history") {
    auto r = graph->History(c.a, c.b);
    got = r.ok() ? absl::StatusOr<std::vector<std::string>>(Ids(*graph, *r)) : r.status();
  } else if (c.op == "upgrade") {
    auto p = graph->PlanUpgrade(c.current, c.a);
    got = p.ok() ? absl::StatusOr<std::vector<std::string>>(StepIds(*p)) : p.status();
  } else if (c.op == "downgrade") {
    auto p = graph->PlanDowngrade(c.current, c.a);
    got = p.ok() ? absl::StatusOr<std::vector<std::string>>(StepIds(*p)) : p.status();
  } else if (c.op == "resolve") {
    auto r = graph->Resolve(c.a);
    got = r.ok() ? absl::StatusOr<std::vector<std::string>>(Ids(*graph, *r)) : r.status();
  } else if (c.op == "heads") {
    got = Ids(*graph, graph->heads());
  } else {
    got = Ids(*graph, graph->real_heads());
  }
  if (c.error.empty()) {
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, c.expected);
  } else {
    ASSERT_FALSE(got.ok()) << "expected an error containing: " << c.error;
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(c.error));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Alembic, AlembicCaseTest,
    ::testing::Values(
        Case{"Diamond", "history", {}, "a", "d", {"d", "c", "b1", "b2", "a"}, ""},
        Case{"Diamond", "upgrade", {}, "d", "", {"a", "b2", "b1", "c", "d"}, ""},
        Case{"Diamond", "downgrade", {"d"}, "a", "", {"d", "c", "b1", "b2"}, ""},
        Case{"Labeled", "history", {}, "ebranch@base", "", {"f", "someothername", "e", "d"}, ""},
        Case{"Labeled", "history", {}, "abranch@base", "", {"c", "somelongername", "b", "a"}, ""},
        Case{"Labeled", "history", {}, "", "ebranch@head", {"f", "someothername", "e", "d"}, ""},
        Case{"Labeled", "history", {}, "", "abranch@head", {"c", "somelongername", "b", "a"}, ""},
        Case{"Labeled", "history", {}, "ebranch@d", "", {"f", "someothername", "e", "d"}, ""},
        Case{"Labeled", "history", {}, "e@base", "", {"f", "someothername", "e", "d"}, ""},
        Case{"Labeled", "history", {}, "c@base", "", {"c", "somelongername", "b", "a"}, ""},
        Case{"Labeled", "resolve", {}, "ebranch@head", "", {"f"}, ""},
        Case{"Labeled", "resolve", {}, "abranch@heads", "", {"c"}, ""},
        Case{"Labeled", "resolve", {}, "ebranch@some", "", {"someothername"}, ""},
        Case{"Labeled", "resolve", {}, "abranch@some", "", {"somelongername"}, ""},
        Case{"Labeled", "resolve", {}, "ebranch@ebranch", "", {"e"}, ""},
        Case{"Labeled", "resolve", {}, "abranch", "", {"a"}, ""},
        Case{"Labeled", "resolve", {}, "ebranch@b", "", {}, "Revision b is not a member of branch 'ebranch'"},
        Case{"Labeled", "resolve", {}, "abranch@d", "", {}, "Revision d is not a member of branch 'abranch'"},
        Case{"Labeled", "resolve", {}, "e@d", "", {"d"}, ""},
        Case{"Labeled", "resolve", {}, "someoth@d", "", {"d"}, ""},
        Case{"Labeled", "resolve", {}, "x@d", "", {}, "No such branch: 'x'"},
        Case{"Labeled", "resolve", {}, "some", "", {}, "Multiple revisions start with 'some': 'somelongername', 'someothername'..."},
        Case{"Labeled", "resolve", {}, "head", "", {}, "Multiple head revisions are present for given argument 'head'"},
        Case{"Labeled", "resolve", {}, "heads", "", {"c", "f"}, ""},
        Case{"Labeled", "upgrade", {}, "ebranch@+2", "", {"d", "e"}, ""},
        Case{"Labeled", "upgrade", {"b"}, "abranch@+1", "", {"somelongername"}, ""},
        Case{"Labeled", "upgrade", {"c", "e"}, "+1", "", {}, "Ambiguous upgrade from multiple current revisions"},
        Case{"Labeled", "downgrade", {"c", "f"}, "ebranch@-2", "", {"f", "someothername"}, ""},
        Case{"Labeled", "downgrade", {"c", "f"}, "ebranch@base", "", {"f", "someothername", "e", "d"}, ""},
        Case{"Labeled", "downgrade", {"c", "f"}, "abranch@b", "", {"c", "somelongername"}, ""},
        Case{"LongShort", "history", {}, "", "", {"b2", "d11", "d12", "c1", "b1", "a"}, ""},
        Case{"MultipleBranch", "history", {}, "a", "d1d2cb2", {"d1d2cb2", "d1cb2", "d2cb2", "cb2", "b2", "a"}, ""},
        Case{"MultipleBranch", "history", {}, "a", "d3cb2", {"d3cb2", "cb2", "b2", "a"}, ""},
        Case{"MultipleBranch", "history", {}, "", "d3cb2", {"d3cb2", "cb2", "b2", "a"}, ""},
        Case{"MultipleBranch", "history", {}, "d1cb1", "b1", {}, "does not refer to ancestor/descendant revisions along the same branch"},
        Case{"MultipleBranch", "history", {}, "b1", "d2cb2", {}, "does not refer to ancestor/descendant revisions along the same branch"},
        Case{"MultipleBranch", "upgrade", {}, "heads", "", {"a", "b2", "cb2", "d2cb2", "d1cb2", "d1d2cb2", "d3cb2", "b1", "cb1", "d2cb1", "d1cb1"}, ""},
        Case{"MultipleBranch", "upgrade", {"cb1"}, "heads", "", {"b2", "cb2", "d2cb2", "d1cb2", "d1d2cb2", "d3cb2", "d2cb1", "d1cb1"}, ""},
        Case{"MultipleBranch", "downgrade", {"d1cb1", "d2cb1", "d1d2cb2", "d3cb2"}, "b2", "", {"d3cb2", "d1d2cb2", "d1cb2", "d2cb2", "cb2"}, ""},
        Case{"MultipleBranch", "downgrade", {"d1cb1", "d2cb1", "d1d2cb2", "d3cb2"}, "base", "", {"d1cb1", "d2cb1", "cb1", "b1", "d3cb2", "d1d2cb2", "d1cb2", "d2cb2", "cb2", "b2", "a"}, ""},
        Case{"MultipleBranch", "downgrade", {"d1d2cb2"}, "d1cb1", "", {}, "is not a valid downgrade target from current head(s)"},
        Case{"BranchTravelling", "history", {}, "a1", "merge", {"merge", "e2b1", "db1", "cb1", "b1", "e2b2", "db2", "cb2", "b2", "a3", "a2", "a1"}, ""},
        Case{"BranchTravelling", "history", {}, "b1", "merge", {"merge", "e2b1", "db1", "cb1", "b1"}, ""},
        Case{"BranchTravelling", "history", {}, "a2", "merge", {"merge", "e2b1", "db1", "cb1", "b1", "e2b2", "db2", "cb2", "b2", "a3", "a2"}, ""},
        Case{"BranchTravelling", "history", {}, "", "", {"fe1b1", "e1b1", "merge", "e2b1", "db1", "cb1", "b1", "e2b2", "db2", "cb2", "b2", "a3", "a2", "a1"}, ""},
        Case{"BranchTravelling", "upgrade", {}, "heads", "", {"a1", "a2", "a3", "b2", "cb2", "db2", "e2b2", "b1", "cb1", "db1", "e2b1", "merge", "e1b1", "fe1b1"}, ""},
        Case{"BranchTravelling", "upgrade", {"db1"}, "merge", "", {"b2", "cb2", "db2", "e2b2", "e2b1", "merge"}, ""},
        Case{"BranchTravelling", "upgrade", {}, "merge", "", {"a1", "a2", "a3", "b2", "cb2", "db2", "e2b2", "b1", "cb1", "db1", "e2b1", "merge"}, ""},
        Case{"BranchTravelling", "downgrade", {"merge", "fe1b1"}, "a3", "", {"fe1b1", "e1b1", "merge", "e2b1", "db1", "cb1", "b1", "e2b2", "db2", "cb2", "b2"}, ""},
        Case{"BranchTravelling", "downgrade", {"merge", "fe1b1"}, "db1", "", {"fe1b1", "e1b1", "merge", "e2b1"}, ""},
        Case{"MultipleBase", "history", {}, "", "", {"b1a", "a1a", "b1b", "a1b", "base1", "mergeb3d2", "b3", "a3", "base3", "d2", "c2", "b2", "a2", "base2"}, ""},
        Case{"MultipleBase", "history", {}, "base3", "b3", {"b3", "a3", "base3"}, ""},
        Case{"MultipleBase", "upgrade", {}, "heads", "", {"base2", "a2", "b2", "c2", "d2", "base3", "a3", "b3", "mergeb3d2", "base1", "a1b", "b1b", "a1a", "b1a"}, ""},
        Case{"MultipleBase", "upgrade", {"c2"}, "heads", "", {"d2", "base3", "a3", "b3", "mergeb3d2", "base1", "a1b", "b1b", "a1a", "b1a"}, ""},
        Case{"MultipleBase", "downgrade", {"b1a", "b1b", "mergeb3d2"}, "base", "", {"b1a", "a1a", "b1b", "a1b", "base1", "mergeb3d2", "b3", "a3", "base3", "d2", "c2", "b2", "a2", "base2"}, ""},
        Case{"CrossDepOne", "heads", {}, "", "", {"b1a", "b1b", "d2", "b3"}, ""},
        Case{"CrossDepOne", "realheads", {}, "", "", {"b1a", "b1b", "d2", "b3"}, ""},
        Case{"CrossDepOne", "history", {}, "", "", {"b1a", "a1a", "b1b", "a1b", "base1", "d2", "c2", "b2", "a2", "base2", "b3", "a3", "base3"}, ""},
        Case{"CrossDepOne", "history", {}, "", "b_2@head", {"d2", "c2", "b2", "a2", "base2", "a3", "base3"}, ""},
        Case{"CrossDepOne", "history", {}, "", "b_3@head", {"b3", "a3", "base3"}, ""},
        Case{"CrossDepOne", "history", {}, "", "b1b@head", {"b1b", "a1b", "base1", "a3", "base3"}, ""},
        Case{"CrossDepOne", "upgrade", {}, "b_2@head", "", {"base3", "a3", "base2", "a2", "b2", "c2", "d2"}, ""},
        Case{"CrossDepOne", "upgrade", {}, "heads", "", {"base3", "a3", "b3", "base2", "a2", "b2", "c2", "d2", "base1", "a1b", "b1b", "a1a", "b1a"}, ""},
        Case{"CrossDepOne", "downgrade", {"b1a", "b1b", "d2", "b3"}, "b_2@base", "", {"d2", "c2", "b2", "a2", "base2"}, ""},
        Case{"CrossDepOne", "downgrade", {"b1a", "b1b", "d2", "b3"}, "b_3@base", "", {"b1b", "d2", "c2", "b3", "a3", "base3"}, ""},
        Case{"CrossDepTwo", "heads", {}, "", "", {"c1", "d2", "d3"}, ""},
        Case{"CrossDepTwo", "history", {}, "", "", {"c1", "b1", "a1", "d2", "c2", "d3", "c3", "b3", "a3", "base3", "b2", "a2", "base2", "base1"}, ""},
        Case{"CrossDepTwo", "upgrade", {}, "b_3@head", "", {"base1", "base2", "a2", "b2", "base3", "a3", "b3", "c3", "d3"}, ""},
        Case{"CrossDepTwo", "upgrade", {}, "heads", "", {"base1", "base2", "a2", "b2", "base3", "a3", "b3", "c3", "d3", "c2", "d2", "a1", "b1", "c1"}, ""},
        Case{"CrossDepTwo", "downgrade", {"c1", "d2", "d3"}, "b_1@base", "", {"c1", "b1", "a1", "d2", "c2", "d3", "c3", "b2", "a2", "base2", "base1"}, ""},
        Case{"CrossDepTwo", "downgrade", {"c1", "d2", "d3"}, "b_2@base", "", {"d2", "c2", "d3", "c3", "b2", "a2", "base2"}, ""},
        Case{"CrossDepTwo", "downgrade", {"c1", "d2", "d3"}, "b_3@base", "", {"d3", "c3", "b3", "a3", "base3"}, ""},
        Case{"NormalizedDownRev", "upgrade", {}, "heads", "", {"a1", "a2", "a3", "b1", "b2", "b3", "b4"}, ""},
        Case{"NormalizedDownRev", "history", {}, "", "", {"b4", "b3", "b2", "b1", "a3", "a2", "a1"}, ""},
        Case{"Linear", "upgrade", {}, "e5", "", {"a1", "b2", "c3", "d4", "e5"}, ""},
        Case{"Linear", "upgrade", {"b2"}, "+2", "", {"c3", "d4"}, ""},
        Case{"Linear", "upgrade", {"b2"}, "+5", "", {}, "Relative revision +5 didn't produce 5 migrations"},
        Case{"Linear", "upgrade", {}, "c3+1", "", {"a1", "b2", "c3", "d4"}, ""},
        Case{"Linear", "upgrade", {}, "e5-1", "", {"a1", "b2", "c3", "d4"}, ""},
        Case{"Linear", "upgrade", {"e5"}, "c3", "", {}, ""},
        Case{"Linear", "downgrade", {"e5"}, "-2", "", {"e5", "d4"}, ""},
        Case{"Linear", "downgrade", {"e5"}, "-9", "", {}, "Relative revision -9 didn't produce 9 migrations"},
        Case{"Linear", "downgrade", {"e5"}, "c3", "", {"e5", "d4"}, ""},
        Case{"Linear", "downgrade", {"c3"}, "e5", "", {}, "is not a valid downgrade target from current head(s)"},
        Case{"Linear", "downgrade", {"e5"}, "base", "", {"e5", "d4", "c3", "b2", "a1"}, ""},
        Case{"Linear", "downgrade", {"e5"}, "d4-1", "", {"e5", "d4"}, ""},
        Case{"Linear", "downgrade", {"e5"}, "+1", "", {}, "Relative revision +1 didn't produce 1 migrations"},
        Case{"Linear", "upgrade", {"e5"}, "-1", "", {}, "Relative revision -1 didn't produce 1 migrations"},
        Case{"Branched", "upgrade", {"d1"}, "d2", "", {"c2", "d2"}, ""},
        Case{"Branched", "upgrade", {"d1", "d2"}, "+1", "", {}, "Ambiguous upgrade from multiple current revisions"},
        Case{"Branched", "upgrade", {"d1"}, "c1branch@+1", "", {}, "Relative revision +1 didn't produce 1 migrations"},
        Case{"Branched", "upgrade", {}, "head", "", {}, "Multiple head revisions are present for given argument 'head'"},
        Case{"Branched", "upgrade", {}, "heads", "", {"a", "b", "c2", "d2", "c1", "d1"}, ""},
        Case{"Branched", "downgrade", {"d1", "d2"}, "c1branch@base", "", {"d1", "c1", "d2", "c2", "b", "a"}, ""},
        Case{"Branched", "downgrade", {"d1", "d2"}, "b", "", {"d1", "c1", "d2", "c2"}, ""},
        Case{"Branched", "downgrade", {"d1", "d2"}, "c1branch@-1", "", {"d1"}, ""},
        Case{"Branched", "downgrade", {"d1", "d2"}, "-1", "", {}, "from multiple current heads (d1, d2) is ambiguous"},
        Case{"Merged", "upgrade", {}, "f", "", {"a", "b", "c2", "d2", "c1", "d1", "e", "f"}, ""},
        Case{"Merged", "upgrade", {"d1"}, "f", "", {"c2", "d2", "e", "f"}, ""},
        Case{"Merged", "upgrade", {"d1", "c2"}, "e", "", {"d2", "e"}, ""},
        Case{"Merged", "downgrade", {"f"}, "d1", "", {"f", "e"}, ""},
        Case{"Merged", "downgrade", {"f"}, "b", "", {"f", "e", "d1", "c1", "d2", "c2"}, ""},
        Case{"Merged", "downgrade", {"e"}, "-1", "", {}, "Ambiguous walk"},
        Case{"Merged", "downgrade", {"f"}, "-3", "", {}, "Ambiguous walk"},
        Case{"TwinMerge", "upgrade", {}, "heads", "", {"a", "b2", "b1", "m2", "m1"}, ""},
        Case{"TwinMerge", "downgrade", {"m1", "m2"}, "a", "", {"m1", "m2", "b1", "b2"}, ""},
        Case{"TwinMerge", "downgrade", {"m1", "m2"}, "b1", "", {"m1", "m2"}, ""},
        Case{"DependsOnBranch", "upgrade", {}, "lbb@head", "", {"a1", "a2", "b1", "b2", "b3"}, ""},
        Case{"DependsOnBranch", "upgrade", {"a1"}, "b1", "", {"a2", "b1"}, ""},
        Case{"DependsOnBranch", "downgrade", {"a3", "b3"}, "lbb@base", "", {"b3", "b2", "b1"}, ""},
        Case{"DependsOnBranch", "downgrade", {"a3", "b3"}, "a1", "", {"a3", "b3", "b2", "b1", "a2"}, ""},
        Case{"DependsOnBranch", "history", {}, "", "", {"a3", "b3", "b2", "b1", "a2", "a1"}, ""},
        Case{"Forest", "upgrade", {}, "heads", "", {"a2", "b2", "a1", "b1"}, ""},
        Case{"Forest", "downgrade", {"b1", "b2"}, "base", "", {"b1", "a1", "b2", "a2"}, ""},
        Case{"Forest", "upgrade", {}, "head", "", {}, "Multiple head revisions are present for given argument 'head'"}
),
    [](const ::testing::TestParamInfo<Case>& info) {
      return absl::StrCat(info.param.graph, "_", info.param.op, "_", info.index);
    });

}  // namespace
}  // namespace fleet::migrations
