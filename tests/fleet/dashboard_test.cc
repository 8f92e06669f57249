// The dashboard: its HTTP answers checked here with an HTTP client, and the
// pages themselves in a real headless Chromium (tests/dashboard/
// dashboard.mjs, playwright-core on Debian's chromium). Real agent, real
// controller with auth.toml, real databases.
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrations/script.h"
#include "tests/testing/fleet_harness.h"

namespace fleet {
namespace {

using ::fleet::testing::Exec;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kHead = "9c0d1e2f3041";
const std::string kNext = "a0b1c2d3e4f5";

class DashboardTest : public fleet::testing::FleetHarness {
 protected:
  // Four tenants a few revisions behind the example's head, on one agent;
  // a controller that checks tokens (a viewer's and an operator's).
  void SetUpFleet() {
    for (int i = 0; i < 4; ++i) {
      std::string dsn = DsnFor(NewDatabase());
      UpgradeExample(dsn, {"4d5e6f708192"});
      Exec(dsn, "INSERT INTO users (email, display_name, role) VALUES ('ann@example.com', 'Ann', "
                "'customer');"
                "INSERT INTO tickets (subject, requester_id) SELECT '" +
                    std::string(i == 2 ? "?" : "Printer on fire") + "', id FROM users;");
      specs_.push_back({"t-" + std::to_string(i), dsn, i == 0 ? std::map<std::string, std::string>{{"canary", "true"}} : std::map<std::string, std::string>{}});
    }
    agent_ = StartAgent(0, specs_);
    std::ofstream(dir_.path() + "/auth.toml")
        << "[[tokens]]\nname = \"dash\"\nrole = \"viewer\"\nsha256 = \""
        << migrations::Sha256Hex(kViewer) << "\"\n[[tokens]]\nname = \"ops\"\nrole = "
        << "\"operator\"\nsha256 = \"" << migrations::Sha256Hex(kOperator) << "\"\n";
    controller_process_ =
        StartController("300ms", {}, {"--auth", dir_.path() + "/auth.toml"});
    setenv("FLEET_TOKEN", kOperator, 1);
    Enrol(1, std::string(FLEET_SOURCE_DIR) + "/examples/support-desk/versions");
  }
  void TearDown() override {
    unsetenv("FLEET_TOKEN");
    FleetHarness::TearDown();
  }

  static constexpr char kViewer[] = "viewer-token-dashboard";
  static constexpr char kOperator[] = "operator-token-dashboard";
  std::vector<TenantSpec> specs_;
  std::unique_ptr<fleet::testing::Process> agent_, controller_process_;
};

TEST_F(DashboardTest, SessionsHeadersAndTheApi) {
  SetUpFleet();
  httplib::Client http("127.0.0.1", http_port_);
  // No session: the sign-in page (HTML) or 401 (API), with the policy.
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 401);
  EXPECT_THAT(page->body, HasSubstr("<form method=\"post\" action=\"/signin\""));
  EXPECT_THAT(page->get_header_value("Content-Security-Policy"),
              HasSubstr("default-src 'none'; script-src 'self'"));
  auto api = http.Get("/api/v1/status");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 401);
  // A wrong token: no cookie.
  auto wrong = http.Post("/signin", "token=nope", "application/x-www-form-urlencoded");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_FALSE(wrong->has_header("Set-Cookie"));
  // A viewer's token: a session cookie, HttpOnly and SameSite=Strict.
  auto signed_in = http.Post("/signin", std::string("token=") + kViewer,
                             "application/x-www-form-urlencoded");
  ASSERT_TRUE(signed_in);
  EXPECT_EQ(signed_in->status, 303);
  std::string cookie = signed_in->get_header_value("Set-Cookie");
  EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(cookie, HasSubstr("SameSite=Strict"));
  EXPECT_THAT(cookie, Not(HasSubstr(kViewer)));
  std::string session = cookie.substr(0, cookie.find(';'));
  httplib::Headers with{{"Cookie", session}};
  auto status = http.Get("/api/v1/status", with);
  ASSERT_TRUE(status);
  ASSERT_EQ(status->status, 200) << status->body;
  auto j = nlohmann::json::parse(status->body);
  EXPECT_EQ(j["tenants"].size(), 4u);
  EXPECT_EQ(j["counts"]["lagging"], 4);
  auto tenant = http.Get("/api/v1/tenants/t-2", with);
  ASSERT_TRUE(tenant);
  EXPECT_EQ(tenant->status, 200);
  EXPECT_EQ(nlohmann::json::parse(tenant->body)["status"]["tenants"][0]["tenant"]["id"], "t-2");
  auto missing = http.Get("/api/v1/tenants/nobody", with);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  // The live view streams a rollout until it ends.
  auto started = Cli({"rollout", "start", "--to", "head", "-o", "json"});
  ASSERT_EQ(started.code, 0) << started.err;
  std::string id = nlohmann::json::parse(started.out)["id"];
  std::string stream;
  http.set_read_timeout(60);
  // Read until it says succeeded (the stream stays open after that: a
  // finished rollout can still be rolled back).
  auto events = http.Get("/api/v1/rollouts/" + id + "/events", with,
                         [&](const char* data, size_t n) {
                           stream.append(data, n);
                           return !absl::StrContains(stream, "\"state\":\"ROLLOUT_SUCCEEDED\"");
                         });
  EXPECT_THAT(stream, HasSubstr("event: rollout\ndata: {"));
  EXPECT_THAT(stream, HasSubstr("\"state\":\"ROLLOUT_SUCCEEDED\""));
  auto unknown = http.Get("/api/v1/rollouts/r-nope/events", with);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  // A sign-in posted from another site is refused (login CSRF).
  auto cross = http.Post("/signin", httplib::Headers{{"Origin", "https://evil.example"}},
                         std::string("token=") + kViewer, "application/x-www-form-urlencoded");
  ASSERT_TRUE(cross);
  EXPECT_EQ(cross->status, 403);
  EXPECT_FALSE(cross->has_header("Set-Cookie"));
  // A token in the address is refused (it would reach logs).
  auto in_url = http.Post(std::string("/signin?token=") + kViewer, "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(in_url);
  EXPECT_EQ(in_url->status, 400);
  // Signing out ends the session.
  auto out = http.Post("/signout", with, "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(out);
  auto after = http.Get("/api/v1/status", with);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 401);
}

TEST_F(DashboardTest, ATokenDroppedFromAuthTomlEndsItsSessionsOnSighup) {
  SetUpFleet();
  httplib::Client http("127.0.0.1", http_port_);
  auto signed_in = http.Post("/signin", std::string("token=") + kViewer,
                             "application/x-www-form-urlencoded");
  ASSERT_TRUE(signed_in);
  std::string cookie = signed_in->get_header_value("Set-Cookie");
  httplib::Headers with{{"Cookie", cookie.substr(0, cookie.find(';'))}};
  ASSERT_EQ(http.Get("/api/v1/status", with)->status, 200);
  // The viewer's token goes; the operator's stays.
  std::ofstream(dir_.path() + "/auth.toml", std::ios::trunc)
      << "[[tokens]]\nname = \"ops\"\nrole = \"operator\"\nsha256 = \""
      << migrations::Sha256Hex(kOperator) << "\"\n";
  controller_process_->Signal(SIGHUP);
  EXPECT_TRUE(fleet::testing::WaitFor([&] {
    auto r = http.Get("/api/v1/status", with);
    return r && r->status == 401;
  }));
}

TEST_F(DashboardTest, InARealBrowser) {
  const std::string node_modules = std::string(FLEET_SOURCE_DIR) + "/tests/dashboard/node_modules";
  const char* ci = std::getenv("CI");
  const bool in_ci = ci != nullptr && std::string(ci) == "true";
  if (!std::filesystem::exists("/usr/bin/chromium") ||
      !std::filesystem::exists(node_modules + "/playwright-core")) {
    if (in_ci) FAIL() << "Chromium or playwright-core is missing: run the tests through tests/run.sh";
    GTEST_SKIP() << "Chromium or playwright-core is missing (tests/run.sh installs them)";
  }
  SetUpFleet();
  std::string failing = ExampleVersionsWith(
      kNext + "_subject_length.sql",
      "-- revision: " + kNext + "\n-- down_revision: " + kHead +
          "\n-- message: require ticket subjects of three characters\n\n-- migrate:upgrade\n"
          "ALTER TABLE tickets ADD CONSTRAINT tickets_subject_length CHECK "
          "(char_length(subject) >= 3);\n\n-- migrate:downgrade\n"
          "ALTER TABLE tickets DROP CONSTRAINT tickets_subject_length;\n");
  const std::string shots = std::string(FLEET_BINARY_DIR) + "/dashboard-screenshots";
  std::filesystem::create_directories(shots);
  const std::string cmd = absl::StrCat(
      "cd '", FLEET_SOURCE_DIR, "/tests/dashboard' && DASHBOARD_URL=http://127.0.0.1:",
      http_port_, " CONTROLLER=", controller_, " FLEETCTL='", FLEETCTL_PATH,
      "' VIEWER_TOKEN=", kViewer, " OPERATOR_TOKEN=", kOperator,
      " TENANTS=4 FAILING_TENANT=t-2 FAILING_VERSIONS='", failing, "' SHOTS='", shots,
      "' node dashboard.mjs 2>&1");
  std::string output;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << output << controller_process_->Err();
  EXPECT_THAT(output, HasSubstr("ok it reached succeeded without a reload"));
  EXPECT_TRUE(std::filesystem::exists(shots + "/fleet.png"));
  EXPECT_TRUE(std::filesystem::exists(shots + "/halted.png"));
}

}  // namespace
}  // namespace fleet
