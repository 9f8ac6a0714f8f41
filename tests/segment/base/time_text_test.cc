#include "segment/base/time_text.h"

#include <gtest/gtest.h>

namespace sluice::base {
namespace {

constexpr int64_t kNow = 1'795'425'600'000;  // 2026-11-23T09:20:00Z

int64_t Point(std::string_view text) {
  auto t = ParseTimePoint(text, kNow);
  EXPECT_TRUE(t.has_value()) << text << ": " << (t ? "" : t.error().ToString());
  return t ? *t : -1;
}

int64_t Duration(std::string_view text) {
  auto d = ParseDurationMs(text);
  EXPECT_TRUE(d.has_value()) << text << ": " << (d ? "" : d.error().ToString());
  return d ? *d : -1;
}

TEST(TimeTextTest, ParsesRelativeTimesBeforeNow) {
  EXPECT_EQ(Point("now"), kNow);
  EXPECT_EQ(Point("-1h"), kNow - 3'600'000);
  EXPECT_EQ(Point("-15m"), kNow - 15 * 60'000);
  EXPECT_EQ(Point("-30s"), kNow - 30'000);
  EXPECT_EQ(Point("-2d"), kNow - 2 * 86'400'000);
  EXPECT_EQ(Point("-1h30m"), kNow - 90 * 60'000);
  EXPECT_EQ(Point("-500ms"), kNow - 500);
  EXPECT_EQ(Point("now-1h"), kNow - 3'600'000);
  EXPECT_EQ(Point("now+10m"), kNow + 600'000);
  EXPECT_EQ(Point("-PT15M"), kNow - 15 * 60'000);
}

TEST(TimeTextTest, ParsesAbsoluteTimes) {
  EXPECT_EQ(Point("1795425600000"), kNow);
  EXPECT_EQ(Point("2026-11-23T09:20:00Z"), kNow);
  EXPECT_EQ(Point("2026-11-23T09:20:00.250Z"), kNow + 250);
  EXPECT_EQ(Point("2026-11-23T10:20:00+01:00"), kNow);
  EXPECT_EQ(Point("2026-11-23 09:20"), kNow);
  EXPECT_EQ(Point("2026-11-23"), kNow - (9 * 60 + 20) * 60'000);
}

TEST(TimeTextTest, ParsesDurations) {
  EXPECT_EQ(Duration("90s"), 90'000);
  EXPECT_EQ(Duration("1w"), 7 * 86'400'000LL);
  EXPECT_EQ(Duration("1.5h"), 90 * 60'000);
  EXPECT_EQ(Duration("PT0H5M0S"), 5 * 60'000);
  EXPECT_EQ(Duration("P1DT2H"), 26 * 3'600'000);
  EXPECT_EQ(Duration("PT0.5S"), 500);
}

TEST(TimeTextTest, RejectsMalformedText) {
  for (const char* bad : {"", "-", "-1", "-1x", "1h", "+1h", "nowish", "now-", "yesterday",
                          "2026-13-01", "2026-11-23T25:00", "2026-11-23Tx", "2026-11-23+5",
                          "1234567890123456789", "-99999999999999d"}) {
    auto t = ParseTimePoint(bad, kNow);
    EXPECT_FALSE(t.has_value()) << "'" << bad << "' parsed as " << (t ? *t : 0);
    if (!t) {
      EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(t.error().context.find("bad time '"), std::string::npos);
    }
  }
  for (const char* bad : {"", "P", "PT", "P1M", "PT1D", "5", "5x", "h", "1.h"}) {
    EXPECT_FALSE(ParseDurationMs(bad).has_value()) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace sluice::base
