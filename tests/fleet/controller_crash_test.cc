// The inventory survives kill -9 of the controller at any moment: killed
// while bundles are being pushed, it reopens with an intact SQLite file in
// which every bundle is whole.
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_format.h"
#include "controller/inventory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/cli_test_util.h"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::fleet::testing::Process;
using ::fleet::testing::ReadWhole;
using ::fleet::testing::RunCli;
using ::fleet::testing::TempDir;
using ::fleet::testing::WaitFor;

TEST(ControllerCrashTest, InventorySurvivesKillNineDuringWrites) {
  TempDir dir;
  const std::string db = dir.path() + "/fleet.sqlite";
  // Bundles of 40 scripts each, every one distinct.
  std::vector<std::string> bundles;
  for (int b = 0; b < 12; ++b) {
    std::string v = absl::StrCat(dir.path(), "/v", b);
    std::filesystem::create_directories(v);
    for (int r = 0; r < 40; ++r) {
      std::string id = absl::StrFormat("%04x%08x", b, r);
      std::string down = r == 0 ? "" : absl::StrFormat("%04x%08x", b, r - 1);
      std::ofstream(absl::StrCat(v, "/", id, "_r.sql"))
          << "-- revision: " << id << "\n-- down_revision: " << down
          << "\n-- migrate:upgrade\nSELECT " << r << ";\n-- migrate:downgrade\nSELECT 1;\n";
    }
    bundles.push_back(v);
  }
  int next = 0;
  for (int round = 0; round < 4; ++round) {
    std::string port_file = absl::StrCat(dir.path(), "/port", round);
    Process controller({FLEET_CONTROLLER_PATH, "--insecure", "--db", db, "--listen", "127.0.0.1:0", "--http", "",
                        "--port-file", port_file});
    ASSERT_TRUE(WaitFor([&] { return !ReadWhole(port_file).empty(); })) << controller.Err();
    int port = 0;
    std::istringstream(ReadWhole(port_file)) >> port;
    std::string address = absl::StrCat("127.0.0.1:", port);
    // Push until at least one push of this round landed, then keep pushing
    // from another thread while the controller is killed.
    ASSERT_EQ(RunCli({"bundle", "push", bundles[next++ % bundles.size()], "--controller", address, "--insecure"})
                  .code,
              0);
    std::atomic<bool> stop{false};
    std::thread pusher([&] {
      for (int i = 0; !stop && i < 50; ++i) {
        (void)RunCli({"bundle", "push", bundles[(next + i) % bundles.size()], "--controller",
                      address, "--insecure", "--timeout", "2"});
      }
    });
    // Kill at a different moment each round: after 0, 1, 2, 3 further pushes were accepted.
    std::this_thread::yield();
    for (int i = 0; i < round * 20000; ++i) std::this_thread::yield();
    controller.Signal(SIGKILL);
    controller.Wait();
    stop = true;
    pusher.join();
    next += 3;

    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
    sqlite3_finalize(st);
    sqlite3_close(raw);

    auto inventory = controller::OpenSqliteInventory(db);
    ASSERT_TRUE(inventory.ok()) << inventory.status();
    auto list = (*inventory)->ListBundles();
    ASSERT_TRUE(list.ok());
    EXPECT_GE(list->size(), static_cast<size_t>(1));
    for (const auto& b : *list) {
      auto full = (*inventory)->GetBundle(b.digest);
      ASSERT_TRUE(full.ok());
      EXPECT_EQ(full->files.size(), 40u) << "bundle " << b.digest << " is not whole";
    }
  }
}

}  // namespace
}  // namespace fleet
