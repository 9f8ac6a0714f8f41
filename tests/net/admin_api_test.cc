// The JSON admin API's pieces (net/admin_api.h): query strings, parameters, ISO-8601 times,
// UTF-8 checks, base64, record fields as JSON, consumer assignments; ThroughputHistory's rates
// (net/broker_metrics.h); the console's embedded files (net/console_assets.h); and the admin
// server's tick (net/admin_http.h), which samples the throughput.

#include "net/admin_api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "net/broker_metrics.h"
#include "net/console_assets.h"
#include "net/wire.h"

namespace sluice::net {
namespace {

using base::ErrorCode;

TEST(AdminApiTest, ParsesQueryStrings) {
  auto q = ParseQueryString("topic=a%2Fb&time=2024-05-01T12%3A00%3A00%2B02%3A00&x=a+b&&");
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->at("topic"), "a/b");
  EXPECT_EQ(q->at("time"), "2024-05-01T12:00:00+02:00");
  EXPECT_EQ(q->at("x"), "a b");
  EXPECT_TRUE(ParseQueryString("")->empty());
  EXPECT_EQ(ParseQueryString("a=")->at("a"), "");
  for (const char* bad : {"a", "=1", "a=%", "a=%4", "a=%zz", "a=1&a=2", "%zz=1"}) {
    auto r = ParseQueryString(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(*PercentDecode("a+b%20c", false), "a+b c");
}

TEST(AdminApiTest, ParsesIntegerParameters) {
  EXPECT_EQ(*ParseIntParam("limit", "10", 1, 100), 10);
  EXPECT_EQ(*ParseIntParam("offset", "0", 0, INT64_MAX), 0);
  for (const char* bad :
       {"", "0", "101", "-1", "1e3", "10 ", " 10", "0x10", "99999999999999999999"}) {
    auto r = ParseIntParam("limit", bad, 1, 100);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().context.find("limit must be an integer from 1 to 100"), std::string::npos);
  }
}

TEST(AdminApiTest, ParsesTimes) {
  const int64_t noon = 1714564800000;  // 2024-05-01T12:00:00Z
  EXPECT_EQ(*ParseTimeMs("1714564800000"), noon);
  EXPECT_EQ(*ParseTimeMs("-5"), -5);
  EXPECT_EQ(*ParseTimeMs("2024-05-01T12:00:00Z"), noon);
  EXPECT_EQ(*ParseTimeMs("2024-05-01T12:00:00"), noon);
  EXPECT_EQ(*ParseTimeMs("2024-05-01 12:00"), noon);
  EXPECT_EQ(*ParseTimeMs("2024-05-01T12:00:00.25Z"), noon + 250);
  EXPECT_EQ(*ParseTimeMs("2024-05-01T12:00:00.123456789Z"), noon + 123);
  EXPECT_EQ(*ParseTimeMs("2024-05-01T14:00:00+02:00"), noon);
  EXPECT_EQ(*ParseTimeMs("2024-05-01T07:30:00-0430"), noon);
  EXPECT_EQ(*ParseTimeMs("2024-05-01"), noon - 12 * 3600 * 1000);
  EXPECT_EQ(*ParseTimeMs("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(*ParseTimeMs("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseTimeMs("1969-12-31T23:59:59Z"), -1000);
  for (const char* bad :
       {"", "now", "-", "2024-5", "2024-5-01", "2024-13-01", "2023-02-29", "2024-04-31",
        "2024-05-01T24:00:00Z", "2024-05-01T12:60", "2024-05-01T12:00:61", "2024-05-01T12",
        "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00X", "2024-05-01T12:00:00+2", "2024-05-01T",
        "2024-05-01T12:00:00Zjunk", "99999999999999999999", "2024-05-01T12:00:00.1234567890Z"}) {
    auto r = ParseTimeMs(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(AdminApiTest, FormatsTimes) {
  EXPECT_EQ(FormatTimeMs(1714564800123), "2024-05-01T12:00:00.123Z");
  EXPECT_EQ(FormatTimeMs(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimeMs(-1), "1969-12-31T23:59:59.999Z");
  for (int64_t ms : {int64_t{1709164800000}, int64_t{951782400000}, int64_t{4102444799999}}) {
    EXPECT_EQ(*ParseTimeMs(FormatTimeMs(ms)), ms);
  }
}

TEST(AdminApiTest, ChecksUtf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  for (std::string_view bad :
       {std::string_view("\xff"), std::string_view("\xc3"), std::string_view("\xe2\x82"),
        std::string_view("\xc0\xaf"), std::string_view("\xed\xa0\x80"),
        std::string_view("\xf4\x90\x80\x80"), std::string_view("a\x80")}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
}

TEST(AdminApiTest, EncodesBase64) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(AdminApiTest, RecordFieldsAsJson) {
  bool truncated = false;
  EXPECT_TRUE(BytesJson(std::nullopt, 10, &truncated).is_null());
  EXPECT_EQ(BytesJson("text", 10, &truncated), "text");
  EXPECT_EQ(BytesJson(std::string_view("\xff\x00", 2), 10, &truncated),
            nlohmann::json({{"base64", "/wA="}}));
  EXPECT_FALSE(truncated);
  // Cut at a character boundary: "é" (2 bytes) does not fit in 4 after "abc".
  EXPECT_EQ(BytesJson("abc\xc3\xa9z", 4, &truncated), "abc");
  EXPECT_TRUE(truncated);

  const segment::RecordHeader headers[] = {{"h", std::string_view("v")}, {"n", std::nullopt}};
  segment::RecordView rec;
  rec.offset = 7;
  rec.timestamp = 1714564800000;
  rec.key = "k";
  rec.value = "{\"a\":1}";
  rec.headers = headers;
  const nlohmann::json j = RecordJson(rec, 100);
  EXPECT_EQ(j["offset"], 7);
  EXPECT_EQ(j["time"], "2024-05-01T12:00:00.000Z");
  EXPECT_EQ(j["key"], "k");
  EXPECT_EQ(j["value"], "{\"a\":1}");
  EXPECT_EQ(j["headers"],
            nlohmann::json::parse(R"([{"key":"h","value":"v"},{"key":"n","value":null}])"));
  EXPECT_EQ(j["size"], 1 + 7 + 2 + 1);
  EXPECT_FALSE(j.contains("truncated"));
  EXPECT_TRUE(RecordJson(rec, 3).at("truncated").get<bool>());
}

TEST(AdminApiTest, JsonResponsesNeverThrowOnBadUtf8) {
  const HttpResponse r = JsonError(404, "no such group: \xff\xfe");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  const auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["status"], 404);
  EXPECT_TRUE(IsValidUtf8(j["error"].get<std::string>()));
}

TEST(AdminApiTest, DecodesConsumerAssignments) {
  // version 1, [("orders", [0, 2]), ("x", [])], user data null.
  std::string bytes;
  WireWriter out(bytes);
  out.Int16(1);
  out.Int32(2);
  out.String("orders");
  out.Int32(2);
  out.Int32(0);
  out.Int32(2);
  out.String("x");
  out.Int32(0);
  out.Int32(-1);
  auto a = DecodeConsumerAssignment(bytes);
  ASSERT_TRUE(a.has_value());
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].first, "orders");
  EXPECT_EQ((*a)[0].second, (std::vector<int32_t>{0, 2}));
  EXPECT_TRUE((*a)[1].second.empty());
  for (size_t n = 0; n < 16; ++n) {
    EXPECT_FALSE(DecodeConsumerAssignment(bytes.substr(0, n)).has_value()) << n;
  }
  EXPECT_FALSE(DecodeConsumerAssignment(std::string("\x00\x00\x7f\xff\xff\xff", 6)).has_value());
}

TEST(ThroughputHistoryTest, RatesFromCounterSamples) {
  ThroughputHistory h(4, 3);
  using E = TrafficMetrics::Entry;
  EXPECT_TRUE(h.TopicSeries(60'000).empty());
  EXPECT_TRUE(h.PartitionRates().empty());
  h.Add(1000, 50'000, {E{"t", 0, 100, 1000, 0, 0}, E{"t", 1, 0, 0, 0, 0}});
  h.Add(2000, 51'000, {E{"t", 0, 200, 2000, 50, 500}, E{"t", 1, 100, 1000, 0, 0}});
  h.Add(1500, 52'000, {E{"t", 0, 999, 999, 999, 999}});  // not after the last: dropped
  h.Add(4000, 53'000,
        {E{"t", 0, 300, 3000, 50, 500}, E{"t", 1, 100, 1000, 0, 0}, E{"u", 0, 10, 10, 0, 0}});
  auto series = h.TopicSeries(60'000);
  ASSERT_EQ(series["t"].size(), 2u);
  EXPECT_EQ(series["t"][0].wall_ms, 51'000);
  EXPECT_DOUBLE_EQ(series["t"][0].rates.records_in, 200.0);  // (200 + 100 - 100) / 1 s
  EXPECT_DOUBLE_EQ(series["t"][0].rates.bytes_out, 500.0);
  EXPECT_DOUBLE_EQ(series["t"][1].rates.records_in, 50.0);  // 100 / 2 s
  ASSERT_EQ(series["u"].size(), 1u);                        // new topic: from zero
  EXPECT_DOUBLE_EQ(series["u"][0].rates.records_in, 5.0);
  // A window that holds only the newest interval.
  EXPECT_EQ(h.TopicSeries(0)["t"].size(), 1u);
  auto rates = h.PartitionRates();
  EXPECT_DOUBLE_EQ((rates[{"t", 0}].records_in), 200.0 / 3.0);
  EXPECT_EQ(h.PartitionWindowMs(), 3000);
  // A counter that went down restarted from zero (topic deleted and made again).
  h.Add(5000, 54'000, {E{"t", 0, 7, 7, 0, 0}});
  EXPECT_DOUBLE_EQ(h.TopicSeries(0)["t"][0].rates.records_in, 7.0);
  // Capacity: 4 topic samples, 3 partition samples.
  h.Add(6000, 55'000, {});
  EXPECT_EQ(h.TopicSeries(60'000).count("u"), 1u);
  EXPECT_EQ(h.PartitionWindowMs(), 2000);
}

TEST(ConsoleAssetsTest, ServesTheEmbeddedFiles) {
  const ConsoleAsset* index = FindConsoleAsset("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<title>sluice console</title>"), std::string_view::npos);
  EXPECT_EQ(FindConsoleAsset("/index.html"), index);
  const ConsoleAsset* js = FindConsoleAsset("/console.js");
  ASSERT_NE(js, nullptr);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(js->body.find("/api/v1/"), std::string_view::npos);
  ASSERT_NE(FindConsoleAsset("/console.css"), nullptr);
  EXPECT_EQ(FindConsoleAsset("/console.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(FindConsoleAsset("/nope"), nullptr);
  EXPECT_EQ(FindConsoleAsset("console.js"), nullptr);
}

TEST(AdminHttpTickTest, TicksOnTheServerThread) {
  std::mutex mu;
  std::condition_variable cv;
  int ticks = 0;
  AdminHttpOptions options;
  options.port = 0;
  options.tick_interval_ms = 10;
  auto server = AdminHttpServer::Start(
      options, [](const HttpRequest&) { return HttpResponse{}; },
      [&] {
        std::lock_guard lock(mu);
        ++ticks;
        cv.notify_all();
      });
  ASSERT_TRUE(server.has_value()) << server.error().ToString();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return ticks >= 3; }));
  lock.unlock();
  (*server)->Stop();
  options.tick_interval_ms = 0;
  auto bad = AdminHttpServer::Start(
      options, [](const HttpRequest&) { return HttpResponse{}; }, [] {});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::net
