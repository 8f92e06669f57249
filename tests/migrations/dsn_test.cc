#include "migrations/dsn.h"

#include "gtest/gtest.h"

namespace fleet::migrations {
namespace {

TEST(DsnTest, RedactsUrlsAndConninfo) {
  EXPECT_EQ(RedactDsn("postgresql://app:s3cret@db.example:5432/tenant_1"),
            "postgresql://app:***@db.example:5432/tenant_1");
  EXPECT_EQ(RedactDsn("postgres://app@db/t?sslmode=require&password=s3cret"),
            "postgres://app@db/t?sslmode=require&password=***");
  EXPECT_EQ(RedactDsn("host=db user=app password=s3cret dbname=t"),
            "host=db user=app password=*** dbname=t");
  EXPECT_EQ(RedactDsn("host=db password = 'with space' dbname=t"),
            "host=db password = *** dbname=t");
  EXPECT_EQ(RedactDsn("host=db dbname=t"), "host=db dbname=t");
}

TEST(DsnTest, ExtractsPasswords) {
  EXPECT_EQ(DsnPassword("postgresql://app:p%40ss@db/t"), "p@ss");
  EXPECT_EQ(DsnPassword("host=db password='it\\'s' dbname=t"), "it's");
  EXPECT_EQ(DsnPassword("host=db dbname=t"), "");
}

TEST(DsnTest, ScrubsPasswordsFromMessages) {
  std::string dsn = "postgresql://app:p%40ss@db/t";
  EXPECT_EQ(ScrubSecrets("failed for p@ss and p%40ss", dsn), "failed for *** and ***");
  EXPECT_EQ(ScrubSecrets("cannot use host=db password=hunter2", "host=db password=hunter2"),
            "cannot use host=db password=***");
}

}  // namespace
}  // namespace fleet::migrations
