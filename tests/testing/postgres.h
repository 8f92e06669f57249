// PostgresTest: a fixture that gives each test its own database on the
// throwaway server tests/run.sh starts (FLEET_TEST_PG), dropped afterwards.
// Without FLEET_TEST_PG the test fails in CI (CI=true) and skips elsewhere.
#ifndef FLEET_TESTS_TESTING_POSTGRES_H_
#define FLEET_TESTS_TESTING_POSTGRES_H_

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/wait.h"

namespace fleet::testing {

inline std::string AdminDsn() {
  const char* dsn = std::getenv("FLEET_TEST_PG");
  return dsn ? dsn : "";
}

// Rows of `sql` as strings (NULL as "<null>").
inline std::vector<std::vector<std::string>> Query(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : tx.exec(sql)) {
    std::vector<std::string> r;
    for (const auto& f : row) r.push_back(f.is_null() ? "<null>" : f.as<std::string>());
    rows.push_back(std::move(r));
  }
  return rows;
}

inline void Exec(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::nontransaction tx(c);
  tx.exec(sql);
}

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_ = AdminDsn();
    if (admin_.empty()) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL() << "FLEET_TEST_PG is not set: run the tests through tests/run.sh, which starts "
                  "PostgreSQL";
      }
      GTEST_SKIP() << "FLEET_TEST_PG is not set (tests/run.sh sets it); skipping outside CI";
    }
    name_ = NewDatabase();
  }

  void TearDown() override {
    for (const std::string& db : databases_) {
      try {
        Exec(admin_, absl::StrCat("DROP DATABASE IF EXISTS \"", db, "\" WITH (FORCE)"));
      } catch (const std::exception& e) {
        ADD_FAILURE() << "dropping " << db << ": " << e.what();
      }
    }
  }

  // Creates one more database for this test; dropped in TearDown.
  std::string NewDatabase() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    std::string name = absl::StrCat("fleet_t_", getpid(), "_", counter++, "_", rd() % 100000);
    Exec(admin_, absl::StrCat("CREATE DATABASE \"", name, "\""));
    databases_.push_back(name);
    return name;
  }

  std::string DsnFor(const std::string& db) const { return absl::StrCat(admin_, " dbname=", db); }
  std::string Dsn() const { return DsnFor(name_); }

  std::string admin_;
  std::string name_;
  std::vector<std::string> databases_;
};

}  // namespace fleet::testing

#endif  // FLEET_TESTS_TESTING_POSTGRES_H_
