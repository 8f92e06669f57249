#include "migrations/dsn.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::migrations {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(DsnTest, NamesAConnectionByItsFieldsInEitherForm) {
  EXPECT_EQ(ConnectionName("postgresql://app:s3cret@db.example:5433/tenant_1"),
            "app@db.example:5433/tenant_1");
  EXPECT_EQ(ConnectionName("postgres://app@db/t?sslmode=require&password=s3cret"),
            "app@db:5432/t");
  EXPECT_EQ(ConnectionName("host=db user=app password=s3cret dbname=t port=6432"),
            "app@db:6432/t");
  EXPECT_EQ(ConnectionName("host=db user=app password = 'with space' dbname=t"), "app@db:5432/t");
  EXPECT_EQ(ConnectionName("user=app password='broken"), "an unparseable connection string");
}

TEST(DsnTest, ReadsPasswordsAsLibpqDoes) {
  EXPECT_EQ(DsnPassword("postgresql://app:p%40ss@db/t"), "p@ss");
  EXPECT_EQ(DsnPassword("postgresql://app:pa?ss#word@db/t"), "pa?ss#word");
  EXPECT_EQ(DsnPassword("host=db password='it\\'s' dbname=t"), "it's");
  EXPECT_EQ(DsnPassword("host=db dbname=t"), "");
  EXPECT_EQ(DsnPassword("postgresql://app@db/t?password=q%2Fr"), "q/r");
}

TEST(DsnTest, RefusesWhatLibpqWouldMisreadWithoutQuotingIt) {
  // An unencoded '/' ends libpq's user and password early: "pa" would
  // become the port and "ss@db" the database.
  auto misread = ParseConnectionString("postgresql://app:zq/xy@db/t");
  ASSERT_FALSE(misread.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(misread.status()));
  EXPECT_THAT(misread.status().message(), HasSubstr("%2F"));
  EXPECT_THAT(misread.status().message(), Not(HasSubstr("zq")));
  EXPECT_THAT(misread.status().message(), Not(HasSubstr("xy")));
  auto unparseable = ParseConnectionString("host=db password=se cret");
  ASSERT_FALSE(unparseable.ok());
  EXPECT_THAT(unparseable.status().message(), Not(HasSubstr("cret")));
}

TEST(DsnTest, ScrubsPasswordsAndWholeStringsFromMessages) {
  std::string dsn = "postgresql://app:p%40ss@db/t";
  EXPECT_EQ(ScrubSecrets("failed for p@ss and p%40ss", dsn), "failed for *** and ***");
  EXPECT_EQ(ScrubSecrets("cannot use host=db user=app password=hunter2 dbname=t",
                         "host=db user=app password=hunter2 dbname=t"),
            "cannot use app@db:5432/t");
}

TEST(DsnTest, OptionsAreSetOrKept) {
  // A default is only a default; WithOption replaces (another database on
  // the same server, with the same credentials).
  EXPECT_EQ(ConnectionName(WithDefaultOption("postgresql://app:pw@db/t", "dbname", "other")),
            "app@db:5432/t");
  const std::string moved = WithOption("postgresql://app:it's@db:6432/t", "dbname", "scratch");
  EXPECT_EQ(ConnectionName(moved), "app@db:6432/scratch");
  EXPECT_EQ(DsnPassword(moved), "it's");
  EXPECT_EQ(ConnectionName(WithOption("host=db user=app", "dbname", "x y")), "app@db:5432/x y");
}

}  // namespace
}  // namespace fleet::migrations
