// ClickHouseSpool: segments survive a reopen in order, half-written temporaries are removed,
// the size bound refuses what does not fit, drained segments free their bytes.

#include "operator/analytics/clickhouse_spool.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::TempDirectory;
using Time = std::chrono::system_clock::time_point;

TEST(ClickHouseSpoolTest, SegmentsSurviveAReopenOldestFirst) {
  TempDirectory dir;
  {
    auto spool = std::move(ClickHouseSpool::Open(dir.path() / "s", 1 << 20)).value();
    ASSERT_TRUE(spool->Put("{\"a\":1}\n", 1, Time(std::chrono::seconds(200))));
    ASSERT_TRUE(spool->Put("{\"b\":1}\n{\"c\":1}\n", 2, Time(std::chrono::seconds(100))));
    EXPECT_EQ(spool->rows(), 3u);
    EXPECT_EQ(spool->oldest_time(), Time(std::chrono::seconds(100)));
  }
  std::ofstream(dir.path() / "s" / "000000000009-1-1.tmp") << "half";
  auto spool = std::move(ClickHouseSpool::Open(dir.path() / "s", 1 << 20)).value();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "s" / "000000000009-1-1.tmp"));
  EXPECT_EQ(spool->segments(), 2u);
  EXPECT_EQ(spool->bytes(), 24u);
  Result<std::optional<ClickHouseSpool::Segment>> oldest = spool->Oldest();
  ASSERT_TRUE(oldest && *oldest);
  EXPECT_EQ((*oldest)->body, "{\"a\":1}\n") << "the first written is drained first";
  EXPECT_EQ((*oldest)->rows, 1u);
  ASSERT_TRUE(spool->Remove((*oldest)->sequence));
  EXPECT_EQ(spool->bytes(), 16u);
  ASSERT_TRUE(spool->Put("{\"d\":1}\n", 1, Time(std::chrono::seconds(300))));
  oldest = spool->Oldest();
  EXPECT_EQ((*oldest)->rows, 2u);
  ASSERT_TRUE(spool->Remove((*oldest)->sequence));
  oldest = spool->Oldest();
  EXPECT_EQ((*oldest)->body, "{\"d\":1}\n") << "new segments sort after the reopened ones";
}

TEST(ClickHouseSpoolTest, RefusesWhatDoesNotFit) {
  TempDirectory dir;
  auto spool = std::move(ClickHouseSpool::Open(dir.path() / "s", 10)).value();
  ASSERT_TRUE(spool->Put("12345678", 1, Time{}));
  Status full = spool->Put("123", 1, Time{});
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error_kind(), ErrorKind::kUnavailable);
  EXPECT_NE(full.error().find("full"), std::string::npos);
  EXPECT_EQ(spool->rows(), 1u);
}

TEST(ClickHouseSpoolTest, JournalsLeftByACrashBecomeSegments) {
  TempDirectory dir;
  {
    auto spool = std::move(ClickHouseSpool::Open(dir.path() / "s", 1 << 20)).value();
    Result<uint64_t> sent = spool->OpenJournal("{\"a\":1}\n");
    ASSERT_TRUE(sent);
    ASSERT_TRUE(spool->AppendJournal("{\"b\":1}\n"));
    Result<uint64_t> current = spool->OpenJournal("{\"b\":1}\n");  // b moved on, a was sent
    ASSERT_TRUE(current);
    spool->DropJournal(*sent);
    ASSERT_TRUE(spool->AppendJournal("{\"c\":1}\n{\"d\":"));  // the crash cut d short
    EXPECT_EQ(spool->segments(), 0u) << "journals are not segments while the process lives";
  }
  auto spool = std::move(ClickHouseSpool::Open(dir.path() / "s", 1 << 20)).value();
  EXPECT_EQ(spool->segments(), 1u);
  EXPECT_EQ(spool->rows(), 2u);
  Result<std::optional<ClickHouseSpool::Segment>> oldest = spool->Oldest();
  ASSERT_TRUE(oldest && *oldest);
  EXPECT_EQ((*oldest)->body, "{\"b\":1}\n{\"c\":1}\n");
  for (const auto& file : std::filesystem::directory_iterator(dir.path() / "s")) {
    EXPECT_EQ(file.path().extension(), ".jsonl") << file.path();
  }
}

}  // namespace
}  // namespace pharos
