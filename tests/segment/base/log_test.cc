// RateLimitedLog: the first message is logged, repeats within the interval are counted, and the
// next message logged after it says how many were dropped and over how long.

#include "segment/base/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::base {
namespace {

class RateLimitedLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSink([this](LogLevel level, std::string_view m) {
      levels_.push_back(level);
      lines_.emplace_back(m);
    });
  }
  void TearDown() override { SetLogSink(nullptr); }

  ManualClock clock_;
  std::vector<std::string> lines_;
  std::vector<LogLevel> levels_;
};

TEST_F(RateLimitedLogTest, RepeatsWithinTheIntervalAreCountedInTheNextLine) {
  RateLimitedLog log(LogLevel::kWarning, 10'000, &clock_);
  EXPECT_TRUE(log.Log("disk full"));
  for (int i = 0; i < 1873; ++i) {
    clock_.AdvanceMs(i % 2);  // 936 ms in all
    EXPECT_FALSE(log.Log("disk full"));
  }
  clock_.SetMs(clock_.NowMs() + 10'000 - 936);
  EXPECT_TRUE(log.Log("disk full again"));
  EXPECT_FALSE(log.Log("disk full"));
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0], "disk full");
  EXPECT_EQ(lines_[1], "disk full again (1,873 more in the last 10 s)");
  EXPECT_EQ(levels_[1], LogLevel::kWarning);
}

TEST_F(RateLimitedLogTest, AMessageAfterAQuietIntervalHasNoCount) {
  RateLimitedLog log(LogLevel::kError, 1000, &clock_);
  EXPECT_TRUE(log.Log("a"));
  clock_.AdvanceMs(1000);
  EXPECT_TRUE(log.Log("b"));
  clock_.AdvanceMs(999);
  EXPECT_FALSE(log.Log("c"));
  clock_.AdvanceMs(300'000);  // the count spans the time since the last line logged
  EXPECT_TRUE(log.Log("d"));
  EXPECT_EQ(lines_, (std::vector<std::string>{"a", "b", "d (1 more in the last 5 min)"}));
}

TEST_F(RateLimitedLogTest, MessagesStillCountedAreLoggedWhenTheLogGoes) {
  {
    RateLimitedLog log(LogLevel::kWarning, 10'000, &clock_);
    log.Log("x");
    log.Log("y");
    log.Log("z");
    clock_.AdvanceMs(2000);
  }
  {
    RateLimitedLog log(LogLevel::kWarning, 10'000, &clock_);
    log.Log("p");
    log.Log("q");
  }
  EXPECT_EQ(lines_, (std::vector<std::string>{"x", "z (1 more in the last 2 s)", "p", "q"}));
}

TEST(WithThousandsTest, GroupsDigitsByThree) {
  EXPECT_EQ(WithThousands(0), "0");
  EXPECT_EQ(WithThousands(999), "999");
  EXPECT_EQ(WithThousands(1000), "1,000");
  EXPECT_EQ(WithThousands(1234567), "1,234,567");
}

TEST(LogFormatTest, TimestampsAreIsoUtcWithMilliseconds) {
  EXPECT_EQ(FormatUtcMillis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatUtcMillis(1'795'428'000'007), "2026-11-23T10:00:00.007Z");
  EXPECT_EQ(FormatUtcMillis(1'795'427'999'999), "2026-11-23T09:59:59.999Z");
}

TEST(LogFormatTest, SplitsTheComponentPrefix) {
  using Split = std::pair<std::string_view, std::string_view>;
  EXPECT_EQ(SplitComponent("serve: listening on x"), (Split{"serve", "listening on x"}));
  EXPECT_EQ(SplitComponent("group-1: x"), (Split{"group-1", "x"}));
  EXPECT_EQ(SplitComponent("/data/events-0: write failed"),
            (Split{"", "/data/events-0: write failed"}));
  EXPECT_EQ(SplitComponent("Capital: x"), (Split{"", "Capital: x"}));
  EXPECT_EQ(SplitComponent("no component here"), (Split{"", "no component here"}));
  EXPECT_EQ(SplitComponent(": x"), (Split{"", ": x"}));
}

TEST(LogFormatTest, WritesTextLines) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, 1'795'428'000'123, LogLevel::kWarning, "serve", "hi"),
            "2026-11-23T10:00:00.123Z warning serve: hi");
}

TEST(LogFormatTest, WritesJsonLinesWithEscapes) {
  EXPECT_EQ(FormatLogLine(LogFormat::kJson, 1'795'428'000'123, LogLevel::kInfo, "serve",
                          "a \"quote\" \\ and\nnewline\x01"),
            "{\"ts\":\"2026-11-23T10:00:00.123Z\",\"level\":\"info\",\"component\":\"serve\","
            "\"msg\":\"a \\\"quote\\\" \\\\ and\\nnewline\\u0001\"}");
}

TEST(LogFormatTest, SinksGetTheMessageAsWritten) {
  std::vector<std::string> lines;
  SetLogSink([&](LogLevel, std::string_view m) { lines.emplace_back(m); });
  LogWarning("serve: one");
  Log(LogLevel::kWarning, "group", "two");
  LogDebug("serve: below the level");  // dropped at the default level
  SetLogSink(nullptr);
  EXPECT_EQ(lines, (std::vector<std::string>{"serve: one", "group: two"}));
}

}  // namespace
}  // namespace sluice::base
