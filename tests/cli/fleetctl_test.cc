#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cli/command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/cli/cli_test_util.h"

namespace fleet::cli {
namespace {

using ::fleet::testing::ExampleDir;
using ::fleet::testing::RunBinary;
using ::fleet::testing::RunCli;
using ::fleet::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(FleetctlTest, GlobalOptionsWorkBeforeOrAfterTheVerb) {
  auto before = RunCli({"--dir", ExampleDir(), "heads"});
  auto after = RunCli({"heads", "--dir", ExampleDir()});
  EXPECT_EQ(before.code, kExitOk) << before.err;
  EXPECT_EQ(before.out, "9c0d1e2f3041 (reporting) (head)\n");
  EXPECT_EQ(after.out, before.out);
  auto json_after = RunCli({"heads", "--dir", ExampleDir(), "-o", "json"});
  EXPECT_EQ(json_after.code, kExitOk);
  EXPECT_EQ(nlohmann::json::parse(json_after.out)[0]["revision"], "9c0d1e2f3041");
}

TEST(FleetctlTest, UsageErrorsExitTwoWithOneClearLine) {
  auto unknown = RunCli({"frobnicate"});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_THAT(unknown.err, StartsWith("error: "));
  auto bad_output = RunCli({"heads", "--dir", ExampleDir(), "-o", "yaml"});
  EXPECT_EQ(bad_output.code, kExitUsage);
  auto bad_flag = RunCli({"heads", "--frob"});
  EXPECT_EQ(bad_flag.code, kExitUsage);
  auto range = RunCli({"downgrade", "base", "--sql", "--dir", ExampleDir()});
  EXPECT_EQ(range.code, kExitUsage);
  EXPECT_EQ(range.err,
            "error: downgrade with --sql requires <fromrev>:<torev>\nRun with --help for more "
            "information.\n");
  auto online = RunCli({"upgrade", "head", "--dir", ExampleDir()});
  EXPECT_EQ(online.code, kExitUsage);
  EXPECT_THAT(online.err, HasSubstr("no database given: pass --dsn or set DATABASE_URL"));
}

TEST(FleetctlTest, CompletionCoversVerbsActionsAndFlags) {
  fleet::testing::TempDir dir;
  fleet::testing::Result bash = fleet::testing::RunCli({"completion", "bash"});
  ASSERT_EQ(bash.code, 0) << bash.err;
  std::ofstream(dir.path() + "/fleetctl.bash") << bash.out;
  // The generated bash function itself, asked what can come next.
  std::string sh = "cd '" + dir.path() + "' && bash -c 'source ./fleetctl.bash; ";
  auto reply = [&](const std::string& words, int cword) {
    std::string cmd = sh + "COMP_WORDS=(" + words + "); COMP_CWORD=" + std::to_string(cword) +
                      "; _fleetctl; echo \"${COMPREPLY[*]}\"'";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  };
  EXPECT_EQ(reply("fleetctl roll", 1), "rollout\n");
  EXPECT_EQ(reply("fleetctl rollout st", 2), "start status\n");
  EXPECT_EQ(reply("fleetctl --dir x lint --sh", 4), "--show-ignored\n");
  EXPECT_EQ(reply("fleetctl -o json imp", 3), "import\n");
  // An action's own flags, after the action.
  EXPECT_EQ(reply("fleetctl rollout start --can", 3), "--canary\n");
  EXPECT_EQ(reply("fleetctl rollout plan --show", 3), "--show-ignored\n");
  EXPECT_EQ(reply("fleetctl rollout pause --can", 3), "\n");
  // Ids from the controller, asked with the flags given before the verb: a
  // stand-in fleetctl on PATH prints a listing and records how it was run.
  std::ofstream(dir.path() + "/fleetctl")
      << "#!/bin/sh\necho \"$@\" >> '" << dir.path() << "/asked'\n"
      << "printf 'ID STATE\\nr-20261203-aa running\\nr-20261203-bb paused\\nt-other x\\n'\n";
  std::filesystem::permissions(dir.path() + "/fleetctl", std::filesystem::perms::owner_all);
  sh = "cd '" + dir.path() + "' && PATH='" + dir.path() + "':$PATH bash -c 'source ./fleetctl.bash; ";
  EXPECT_EQ(reply("fleetctl --controller c:1 rollout pause r-2026", 5),
            "r-20261203-aa r-20261203-bb\n");
  EXPECT_EQ(reply("fleetctl tenants diff t-", 3), "t-other\n");
  EXPECT_EQ(fleet::testing::ReadWhole(dir.path() + "/asked"),
            "--controller c:1 rollout list\ntenants list\n");
  fleet::testing::Result zsh = fleet::testing::RunCli({"completion", "zsh"});
  EXPECT_THAT(zsh.out, HasSubstr("#compdef fleetctl"));
  EXPECT_EQ(fleet::testing::RunCli({"completion", "fish"}).code, 2);
}

TEST(FleetctlTest, AnActionsHelpListsItsFlags) {
  auto start = RunCli({"rollout", "start", "--help"});
  EXPECT_EQ(start.code, kExitOk);
  for (const char* flag : {"--canary", "--waves", "--parallel", "--watch", "--rehearse",
                           "--allow-lint-errors"}) {
    EXPECT_THAT(start.out, HasSubstr(flag));
  }
  auto plan = RunCli({"rollout", "plan", "--help"});
  EXPECT_THAT(plan.out, HasSubstr("--show-ignored"));
  EXPECT_THAT(plan.out, Not(HasSubstr("--watch")));
  EXPECT_THAT(RunCli({"tenants", "diff", "--help"}).out, HasSubstr("--against"));
  EXPECT_THAT(RunCli({"tenants", "list", "--help"}).out, HasSubstr("--selector"));
}

TEST(FleetctlTest, HelpTeachesEveryVerb) {
  auto help = RunCli({"--help"});
  EXPECT_EQ(help.code, kExitOk);
  for (const char* verb : {"init", "revision", "merge", "heads", "branches", "history", "show",
                           "upgrade", "downgrade", "stamp"}) {
    EXPECT_THAT(help.out, HasSubstr(verb));
    auto sub = RunCli({verb, "--help"});
    EXPECT_EQ(sub.code, kExitOk) << verb;
    EXPECT_THAT(sub.out, HasSubstr("Usage")) << verb;
  }
}

TEST(FleetctlTest, FailedOperationsExitThreeAndNameTheProblem) {
  auto unknown = RunCli({"show", "zzzzzz", "--dir", ExampleDir()});
  EXPECT_EQ(unknown.code, kExitFailed);
  EXPECT_EQ(unknown.err, "error: Can't locate revision identified by 'zzzzzz'\n");
  TempDir dir;
  std::ofstream(dir.path() + "/a.sql") << "-- revision: a1\n-- bogus: 1\n-- migrate:upgrade\n";
  auto broken = RunCli({"heads", "--dir", dir.path()});
  EXPECT_EQ(broken.code, kExitFailed);
  EXPECT_THAT(broken.err, HasSubstr(dir.path() + "/a.sql:2: unknown header key 'bogus'"));
  auto missing = RunCli({"heads", "--dir", dir.path() + "/nope"});
  EXPECT_EQ(missing.code, kExitFailed);
  EXPECT_THAT(missing.err, HasSubstr("does not exist"));
}

// heads, branches, history and show read the headers only; anything that
// would run or print the SQL parses it and names the broken line.
TEST(FleetctlTest, HistoryVerbsReadHeadersAndTheRestParseTheSql) {
  TempDir dir;
  std::ofstream(dir.path() + "/a1_first.sql")
      << "-- revision: a1\n-- message: first\n-- migrate:upgrade\nCREATE TABLE t (;\n";
  for (const char* verb : {"heads", "branches", "history", "show"}) {
    std::vector<std::string> args = {verb, "--dir", dir.path()};
    if (std::string(verb) == "show") args.push_back("a1");
    auto r = RunCli(args);
    EXPECT_EQ(r.code, kExitOk) << verb << ": " << r.err;
  }
  EXPECT_THAT(RunCli({"history", "--dir", dir.path()}).out, HasSubstr("first"));
  for (const char* verb : {"upgrade", "lint"}) {
    std::vector<std::string> args = {verb, "--dir", dir.path()};
    if (std::string(verb) == "upgrade") args = {"upgrade", "head", "--sql", "--dir", dir.path()};
    auto r = RunCli(args);
    EXPECT_EQ(r.code, kExitFailed) << verb;
    EXPECT_THAT(r.err, HasSubstr(dir.path() + "/a1_first.sql:4:")) << verb;
  }
}

TEST(FleetctlTest, InitRevisionMergeWriteAValidHistory) {
  TempDir tmp;
  std::string proj = tmp.path() + "/proj";
  auto init = RunCli({"init", proj});
  ASSERT_EQ(init.code, kExitOk) << init.err;
  EXPECT_TRUE(std::filesystem::is_directory(proj + "/versions"));
  EXPECT_TRUE(std::filesystem::exists(proj + "/fleet.toml"));
  EXPECT_EQ(RunCli({"init", proj}).code, kExitFailed);  // never clobbers

  // The real binary finds the versions directory through ./fleet.toml.
  auto first = RunBinary(proj, "revision -m 'create tickets' --rev-id aaaa0001");
  ASSERT_EQ(first.code, 0);
  EXPECT_THAT(first.out, HasSubstr("versions/aaaa0001_create_tickets.sql ...  done"));
  std::string v = proj + "/versions";
  ASSERT_EQ(RunCli({"revision", "--dir", v, "-m", "x", "--rev-id", "bbbb0002"}).code, kExitOk);
  // A second head needs --head; branching off a non-head needs --splice.
  auto not_head = RunCli({"revision", "--dir", v, "-m", "y", "--head", "aaaa0001"});
  EXPECT_EQ(not_head.code, kExitFailed);
  EXPECT_THAT(not_head.err, HasSubstr("Revision aaaa0001 is not a head revision; please specify "
                                      "--splice"));
  ASSERT_EQ(RunCli({"revision", "--dir", v, "-m", "y", "--head", "aaaa0001", "--splice",
                    "--rev-id", "cccc0003", "--branch-label", "side"})
                .code,
            kExitOk);
  auto multiple = RunCli({"revision", "--dir", v, "-m", "z"});
  EXPECT_EQ(multiple.code, kExitFailed);
  EXPECT_THAT(multiple.err, HasSubstr("Multiple heads are present; please specify the head "
                                      "revision on which the new revision should be based, or "
                                      "perform a merge."));
  auto dup_label = RunCli({"revision", "--dir", v, "-m", "z", "--head", "bbbb0002",
                           "--branch-label", "side"});
  EXPECT_EQ(dup_label.code, kExitFailed);
  EXPECT_THAT(dup_label.err, HasSubstr("Branch name 'side'"));
  auto dup_id = RunCli({"revision", "--dir", v, "-m", "z", "--head", "bbbb0002", "--rev-id",
                        "aaaa0001"});
  EXPECT_EQ(dup_id.code, kExitFailed);
  auto bad_id = RunCli({"revision", "--dir", v, "-m", "z", "--head", "bbbb0002", "--rev-id",
                        "a-b"});
  EXPECT_EQ(bad_id.code, kExitFailed);
  ASSERT_EQ(RunCli({"revision", "--dir", v, "-m", "dep", "--head", "side@head", "--depends-on",
                    "bbbb", "--rev-id", "dddd0004"})
                .code,
            kExitOk);
  // bbbb0002 is now only depended on: an effective head, not one of 'heads'.
  auto heads_before = RunCli({"heads", "--dir", v});
  EXPECT_EQ(heads_before.out, "bbbb0002 (effective head)\ndddd0004 (side) (head)\n");
  auto lone = RunCli({"merge", "heads", "--dir", v, "-m", "join"});
  EXPECT_EQ(lone.code, kExitFailed);
  EXPECT_THAT(lone.err, HasSubstr("merge needs at least two revisions; heads resolves to dddd0004"));
  auto merge = RunCli({"merge", "bbbb0002", "dddd", "--dir", v, "-m", "join", "--rev-id",
                       "eeee0005"});
  ASSERT_EQ(merge.code, kExitOk) << merge.err;
  auto heads = RunCli({"heads", "--dir", v});
  EXPECT_EQ(heads.out, "eeee0005 (side) (head)\n");
  auto history = RunCli({"history", "--dir", v});
  EXPECT_EQ(history.code, kExitOk);
  EXPECT_THAT(history.out, HasSubstr("cccc0003 (bbbb0002) -> dddd0004 (side)"));
  EXPECT_THAT(history.out, HasSubstr("bbbb0002, dddd0004 -> eeee0005 (side) (head) (mergepoint), join"));
  // The written files hold empty upgrade/downgrade sections.
  std::ifstream in(v + "/aaaa0001_create_tickets.sql");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("-- revision: aaaa0001\n-- down_revision: \n"));
  EXPECT_THAT(text, HasSubstr("-- migrate:upgrade\n\n-- migrate:downgrade\n"));
}

TEST(FleetctlTest, WatchLooksLessOftenWhenALookIsSlow) {
  EXPECT_EQ(WatchInterval(absl::Milliseconds(2)), absl::Milliseconds(300));
  EXPECT_EQ(WatchInterval(absl::Milliseconds(30)), absl::Milliseconds(300));
  // A 10,000-tenant rollout's look: a tenth of the time, not more.
  EXPECT_EQ(WatchInterval(absl::Milliseconds(120)), absl::Milliseconds(1200));
  EXPECT_EQ(WatchInterval(absl::Seconds(3)), absl::Seconds(5));
}

TEST(FleetctlTest, RealBinaryExitCodes) {
  EXPECT_EQ(RunBinary(FLEET_SOURCE_DIR "/examples/support-desk", "heads").code, 0);
  EXPECT_EQ(RunBinary(FLEET_SOURCE_DIR "/examples/support-desk", "show nothing-here").code, 3);
  EXPECT_EQ(RunBinary(FLEET_SOURCE_DIR "/examples/support-desk", "--no-such-flag").code, 2);
}

// What the shell runs as fleetctl starts without libpq or gRPC (cli/online.h):
// they and what Debian builds them with are most of its start-up.
TEST(FleetctlBinaryTest, LoadsNoServerLibrary) {
  ASSERT_EQ(RunBinary("/", "--version").code, 0);  // the program runs at all
  auto ldd = fleet::testing::RunShell("ldd '" FLEETCTL_PATH "'");
  ASSERT_EQ(ldd.code, 0);
  EXPECT_THAT(ldd.out, HasSubstr("libpg_query"));  // the offline verbs' own parser
  EXPECT_THAT(ldd.out, Not(HasSubstr("libpq")));
  EXPECT_THAT(ldd.out, Not(HasSubstr("libgrpc")));
  EXPECT_THAT(ldd.out, Not(HasSubstr("libssl")));
  // abseil linked in (cli/CMakeLists.txt) and loaded as well would be two
  // copies of it in one process.
  auto linked_in =
      fleet::testing::RunShell("nm -C --defined-only '" FLEETCTL_PATH "' | grep -c 'absl::'");
  if (std::atoi(linked_in.out.c_str()) > 0) {
    EXPECT_THAT(ldd.out, Not(HasSubstr("libabsl")));
  }
}

// Every other command line goes, unchanged, to fleetctl-online: help lists
// every verb, and the database and controller verbs answer as they always did.
TEST(FleetctlBinaryTest, HandsOtherCommandLinesToFleetctlOnline) {
  const std::string proj = FLEET_SOURCE_DIR "/examples/support-desk";
  auto help = RunBinary(proj, "--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("rollout"));
  EXPECT_THAT(help.out, HasSubstr("completion"));
  auto status = RunBinary(proj, "status", true);
  EXPECT_EQ(status.code, 2);
  EXPECT_THAT(status.out, HasSubstr("no controller given"));
  auto current = RunBinary(proj, "current", true);
  EXPECT_EQ(current.code, 2);
  EXPECT_THAT(current.out, HasSubstr("no database given"));
  auto wrong = RunBinary(proj, "heads --no-such-flag", true);
  EXPECT_EQ(wrong.code, 2);
  EXPECT_THAT(wrong.out, HasSubstr("--no-such-flag"));
  auto completion = RunBinary(proj, "completion bash");
  EXPECT_EQ(completion.code, 0);
  EXPECT_THAT(completion.out, HasSubstr("rollout"));
}

// Without fleetctl-online beside it (or where an install puts it), the offline
// verbs still work and the others say what is missing.
TEST(FleetctlBinaryTest, SaysWhenFleetctlOnlineIsMissing) {
  TempDir bin;
  const std::string alone = bin.path() + "/fleetctl";
  std::filesystem::copy_file(FLEETCTL_PATH, alone);
  std::filesystem::permissions(alone, std::filesystem::perms::owner_all);
  auto run = [&](const std::string& args) {
    return fleet::testing::RunProgram(alone, FLEET_SOURCE_DIR "/examples/support-desk", args, true);
  };
  auto heads = run("heads");
  EXPECT_EQ(heads.code, 0) << heads.out;
  EXPECT_THAT(heads.out, HasSubstr("(head)"));
  auto status = run("status");
  EXPECT_EQ(status.code, 3);
  EXPECT_THAT(status.out, HasSubstr("needs fleetctl-online"));
  EXPECT_THAT(status.out, HasSubstr(bin.path() + "/fleetctl-online"));
  auto upgrade = run("upgrade head --dsn postgresql://nobody@127.0.0.1:1/none");
  EXPECT_EQ(upgrade.code, 3);
  EXPECT_THAT(upgrade.out, HasSubstr("needs fleetctl-online"));
}

}  // namespace
}  // namespace fleet::cli
