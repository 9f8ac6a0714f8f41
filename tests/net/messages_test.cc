// The Kafka request decoder and response encoders (net/messages.h). Requests are built by hand
// with WireWriter, field by field in the order of Apache Kafka's message specs; expected response
// bytes likewise (plus a few literal byte strings, so a WireWriter bug cannot hide).

#include "net/messages.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "net/kafka_errors.h"
#include "net/out_buffer.h"
#include "net/wire.h"
#include "tests/support/test_util.h"

namespace sluice::net {
namespace {

using base::AsBytes;
using base::AsString;
using base::ErrorCode;

constexpr int32_t kCorrelationId = 0x01020304;

// Request frames (without the size prefix)
// ---------------------------------------------------------

void WriteHeader(WireWriter& w, ApiKey key, int16_t v) {
  w.Int16(static_cast<int16_t>(key));
  w.Int16(v);
  w.Int32(kCorrelationId);
  w.NullableString("client-1");
}

// Builds a frame: the header, then `body` written by the caller.
std::string Frame(ApiKey key, int16_t v, const std::function<void(WireWriter&)>& body) {
  std::string out;
  WireWriter w(out);
  WriteHeader(w, key, v);
  body(w);
  return out;
}

// A real RecordBatch v2, stable for the whole test binary (frames hold copies).
const std::string& TestBatch() {
  static const std::string batch = testing::MakeBatch(2, "produced");
  return batch;
}

std::string ProduceFrame(int16_t v) {
  return Frame(ApiKey::kProduce, v, [&](WireWriter& w) {
    if (v >= 3) w.NullableString(v >= 7 ? std::optional<std::string>("txn-1") : std::nullopt);
    w.Int16(-1);     // acks
    w.Int32(30000);  // timeout_ms
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.BytesField(AsBytes(TestBatch()));
    w.Int32(3);
    w.NullableBytes(std::nullopt);
  });
}

std::string FetchFrame(int16_t v) {
  return Frame(ApiKey::kFetch, v, [&](WireWriter& w) {
    w.Int32(-1);   // replica_id
    w.Int32(500);  // max_wait_ms
    w.Int32(1);    // min_bytes
    if (v >= 3) w.Int32(52428800);
    if (v >= 4) w.Int8(1);  // isolation_level
    if (v >= 7) {
      w.Int32(0);   // session_id
      w.Int32(-1);  // session_epoch
    }
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    for (int32_t p : {0, 1}) {
      w.Int32(p);
      if (v >= 9) w.Int32(5);  // current_leader_epoch
      w.Int64(100 * (p + 1));  // fetch_offset
      if (v >= 5) w.Int64(-1);
      w.Int32(1048576);
    }
    if (v >= 7) {
      w.ArrayCount(1);
      w.String("old");
      w.ArrayCount(2);
      w.Int32(1);
      w.Int32(2);
    }
    if (v >= 11) w.String("rack-a");
  });
}

std::string ListOffsetsFrame(int16_t v) {
  return Frame(ApiKey::kListOffsets, v, [&](WireWriter& w) {
    w.Int32(-1);
    if (v >= 2) w.Int8(1);
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    if (v >= 4) w.Int32(3);
    w.Int64(-1);
    w.Int32(1);
    if (v >= 4) w.Int32(-1);
    w.Int64(1700000000000);
  });
}

std::string MetadataFrame(int16_t v) {
  return Frame(ApiKey::kMetadata, v, [&](WireWriter& w) {
    w.ArrayCount(2);
    w.String("a");
    w.String("b");
    if (v >= 4) w.Bool(false);
    if (v >= 8) {
      w.Bool(true);
      w.Bool(false);
    }
  });
}

std::string OffsetCommitFrame(int16_t v) {
  return Frame(ApiKey::kOffsetCommit, v, [&](WireWriter& w) {
    w.String("group");
    if (v >= 1) {
      w.Int32(3);
      w.String("m-1");
    }
    if (v >= 7) w.NullableString("inst");
    if (v >= 2 && v <= 4) w.Int64(86400000);
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.Int64(42);
    if (v >= 6) w.Int32(2);
    if (v == 1) w.Int64(1234);
    w.NullableString("meta");
    w.Int32(1);
    w.Int64(7);
    if (v >= 6) w.Int32(-1);
    if (v == 1) w.Int64(-1);
    w.NullableString(std::nullopt);
  });
}

std::string OffsetFetchFrame(int16_t v) {
  return Frame(ApiKey::kOffsetFetch, v, [&](WireWriter& w) {
    w.String("group");
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.Int32(1);
  });
}

std::string FindCoordinatorFrame(int16_t v) {
  return Frame(ApiKey::kFindCoordinator, v, [&](WireWriter& w) {
    w.String("group");
    if (v >= 1) w.Int8(1);
  });
}

std::string JoinGroupFrame(int16_t v) {
  return Frame(ApiKey::kJoinGroup, v, [&](WireWriter& w) {
    w.String("group");
    w.Int32(10000);
    if (v >= 1) w.Int32(300000);
    w.String("");
    if (v >= 5) w.NullableString("inst");
    w.String("consumer");
    w.ArrayCount(2);
    w.String("range");
    w.BytesField(AsBytes(std::string_view("\0\1abc", 5)));
    w.String("roundrobin");
    w.BytesField({});
  });
}

std::string HeartbeatFrame(int16_t v) {
  return Frame(ApiKey::kHeartbeat, v, [&](WireWriter& w) {
    w.String("group");
    w.Int32(3);
    w.String("m-1");
    if (v >= 3) w.NullableString(std::nullopt);
  });
}

std::string LeaveGroupFrame(int16_t v) {
  return Frame(ApiKey::kLeaveGroup, v, [&](WireWriter& w) {
    w.String("group");
    if (v <= 2) {
      w.String("m-1");
    } else {
      w.ArrayCount(2);
      w.String("m-1");
      w.NullableString(std::nullopt);
      w.String("m-2");
      w.NullableString("inst-2");
    }
  });
}

std::string SyncGroupFrame(int16_t v) {
  return Frame(ApiKey::kSyncGroup, v, [&](WireWriter& w) {
    w.String("group");
    w.Int32(3);
    w.String("m-1");
    if (v >= 3) w.NullableString("inst");
    w.ArrayCount(2);
    w.String("m-1");
    w.BytesField(AsBytes(std::string_view("\0\1assign", 8)));
    w.String("m-2");
    w.BytesField({});
  });
}

std::string DescribeGroupsFrame(int16_t v) {
  return Frame(ApiKey::kDescribeGroups, v, [&](WireWriter& w) {
    w.ArrayCount(2);
    w.String("g1");
    w.String("g2");
    if (v >= 3) w.Bool(true);
  });
}

std::string ListGroupsFrame(int16_t v) {
  return Frame(ApiKey::kListGroups, v, [](WireWriter&) {});
}

std::string ApiVersionsFrame(int16_t v) {
  return Frame(ApiKey::kApiVersions, v, [](WireWriter&) {});
}

// ApiVersions v3 as librdkafka and Java send it: header v2 (client_id, then tagged fields), then
// a flexible body (compact strings: varint length + 1).
std::string ApiVersionsV3Frame(std::string_view header_tags = std::string_view("\0", 1)) {
  std::string out;
  WireWriter w(out);
  WriteHeader(w, ApiKey::kApiVersions, 3);
  w.Raw(header_tags);
  w.Int8(11);
  w.Raw("librdkafka");
  w.Int8(6);
  w.Raw("2.0.2");
  w.Int8(0);
  return out;
}

std::string CreateTopicsFrame(int16_t v) {
  return Frame(ApiKey::kCreateTopics, v, [&](WireWriter& w) {
    w.ArrayCount(2);
    w.String("t1");
    w.Int32(3);
    w.Int16(1);
    w.ArrayCount(0);
    w.ArrayCount(2);
    w.String("cleanup.policy");
    w.NullableString("compact");
    w.String("retention.ms");
    w.NullableString(std::nullopt);
    w.String("t2");
    w.Int32(-1);
    w.Int16(-1);
    w.ArrayCount(2);
    w.Int32(0);
    w.ArrayCount(1);
    w.Int32(1);
    w.Int32(1);
    w.ArrayCount(1);
    w.Int32(1);
    w.ArrayCount(0);
    w.Int32(30000);
    if (v >= 1) w.Bool(true);
  });
}

std::string DeleteTopicsFrame(int16_t v) {
  return Frame(ApiKey::kDeleteTopics, v, [](WireWriter& w) {
    w.ArrayCount(2);
    w.String("t1");
    w.String("t2");
    w.Int32(30000);
  });
}

std::string InitProducerIdFrame(int16_t v) {
  return Frame(ApiKey::kInitProducerId, v, [&](WireWriter& w) {
    w.NullableString(v == 0 ? std::nullopt : std::optional<std::string>("txn"));
    w.Int32(60000);
  });
}

std::string DescribeConfigsFrame(int16_t v) {
  return Frame(ApiKey::kDescribeConfigs, v, [&](WireWriter& w) {
    w.ArrayCount(2);
    w.Int8(2);
    w.String("orders");
    w.ArrayCount(1);
    w.String("retention.ms");
    w.Int8(4);
    w.String("1");
    w.Int32(-1);  // null: all keys
    if (v >= 1) w.Bool(true);
    if (v >= 3) w.Bool(true);
  });
}

std::string DeleteGroupsFrame(int16_t v) {
  return Frame(ApiKey::kDeleteGroups, v, [](WireWriter& w) {
    w.ArrayCount(1);
    w.String("g1");
  });
}

struct FrameCase {
  std::string name;
  std::string frame;
};

// One valid frame per supported API at its lowest and highest version (the fuzz seeds too).
std::vector<FrameCase> AllFrames() {
  std::vector<FrameCase> out;
  using Builder = std::string (*)(int16_t);
  const std::vector<std::pair<ApiKey, Builder>> builders = {
      {ApiKey::kProduce, ProduceFrame},
      {ApiKey::kFetch, FetchFrame},
      {ApiKey::kListOffsets, ListOffsetsFrame},
      {ApiKey::kMetadata, MetadataFrame},
      {ApiKey::kOffsetCommit, OffsetCommitFrame},
      {ApiKey::kOffsetFetch, OffsetFetchFrame},
      {ApiKey::kFindCoordinator, FindCoordinatorFrame},
      {ApiKey::kJoinGroup, JoinGroupFrame},
      {ApiKey::kHeartbeat, HeartbeatFrame},
      {ApiKey::kLeaveGroup, LeaveGroupFrame},
      {ApiKey::kSyncGroup, SyncGroupFrame},
      {ApiKey::kDescribeGroups, DescribeGroupsFrame},
      {ApiKey::kListGroups, ListGroupsFrame},
      {ApiKey::kApiVersions, ApiVersionsFrame},
      {ApiKey::kCreateTopics, CreateTopicsFrame},
      {ApiKey::kDeleteTopics, DeleteTopicsFrame},
      {ApiKey::kInitProducerId, InitProducerIdFrame},
      {ApiKey::kDescribeConfigs, DescribeConfigsFrame},
      {ApiKey::kDeleteGroups, DeleteGroupsFrame},
  };
  EXPECT_EQ(builders.size(), std::size(kSupportedApis));
  for (const auto& [key, build] : builders) {
    const std::optional<SupportedApi> api = FindSupportedApi(static_cast<int16_t>(key));
    if (!api) {
      ADD_FAILURE() << ApiKeyName(key) << " is not in kSupportedApis";
      continue;
    }
    for (int16_t v : {api->min_version, api->max_version}) {
      out.push_back({std::string(ApiKeyName(key)) + "-v" + std::to_string(v), build(v)});
    }
  }
  return out;
}

// Decodes `frame`, expecting success and a body of type T.
template <typename T>
std::optional<T> DecodeAs(const std::string& frame, RequestHeader* header = nullptr) {
  Result<DecodedRequest> r = DecodeRequest(AsBytes(frame));
  if (!r.has_value()) {
    ADD_FAILURE() << r.error().ToString();
    return std::nullopt;
  }
  if (!std::holds_alternative<T>(r->body)) {
    ADD_FAILURE() << "decoded to variant index " << r->body.index();
    return std::nullopt;
  }
  if (header != nullptr) *header = r->header;
  return std::get<T>(std::move(r->body));
}

// The bytes of an OutBuffer, views included.
std::string Flatten(const OutBuffer& out) {
  std::vector<iovec> iov;
  out.Iovecs(0, iov);
  std::string s;
  for (const iovec& v : iov) s.append(static_cast<const char*>(v.iov_base), v.iov_len);
  EXPECT_EQ(s.size(), out.size());
  return s;
}

template <typename Response>
std::string Encode(int16_t v, const Response& response) {
  OutBuffer out;
  EncodeResponse(v, response, out);
  return Flatten(out);
}

// Builds expected bytes with a WireWriter.
std::string Expected(const std::function<void(WireWriter&)>& fill) {
  std::string out;
  WireWriter w(out);
  fill(w);
  return out;
}

// Expected hex with spaces between fields for reading: H("0000 00000002") == "000000000002".
std::string H(std::string_view spaced) {
  std::string out;
  for (char c : spaced) {
    if (c != ' ') out.push_back(c);
  }
  return out;
}

std::string Hex(std::string_view s) {
  static const char* const kDigits = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    out.push_back(kDigits[(static_cast<unsigned char>(c) >> 4) & 0xf]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

// Header and dispatch -----------------------------------------------------------------------------

TEST(RequestHeaderTest, DecodesHeaderV1) {
  RequestHeader h;
  ASSERT_TRUE(DecodeAs<HeartbeatRequest>(HeartbeatFrame(1), &h).has_value());
  EXPECT_EQ(h.api_key, 12);
  EXPECT_EQ(h.api_version, 1);
  EXPECT_EQ(h.correlation_id, kCorrelationId);
  EXPECT_EQ(h.client_id, "client-1");
}

TEST(RequestHeaderTest, NullClientId) {
  std::string frame;
  WireWriter w(frame);
  w.Int16(18);
  w.Int16(0);
  w.Int32(5);
  w.NullableString(std::nullopt);
  RequestHeader h;
  ASSERT_TRUE(DecodeAs<ApiVersionsRequest>(frame, &h).has_value());
  EXPECT_FALSE(h.client_id.has_value());
  EXPECT_EQ(h.correlation_id, 5);
}

TEST(RequestHeaderTest, TruncatedHeaderIsInvalidArgument) {
  const std::string frame = HeartbeatFrame(0);
  for (size_t n = 0; n < 8 + 2 + 8; ++n) {  // api key .. end of "client-1"
    auto peek = PeekRequestHeader(AsBytes(frame).first(n));
    ASSERT_FALSE(peek.has_value()) << n;
    EXPECT_EQ(peek.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(RequestHeaderTest, ApiVersionsV3DecodesWithHeaderOnly) {
  RequestHeader h;
  ASSERT_TRUE(DecodeAs<ApiVersionsRequest>(ApiVersionsV3Frame(), &h).has_value());
  EXPECT_EQ(h.api_key, 18);
  EXPECT_EQ(h.api_version, 3);
  EXPECT_EQ(h.correlation_id, kCorrelationId);
  EXPECT_EQ(h.client_id, "client-1");
}

TEST(RequestHeaderTest, ApiVersionsV3WithTaggedFieldsInHeader) {
  // Two tagged fields: tag 0 size 2, tag 5 size 0.
  const std::string tags("\x02\x00\x02xy\x05\x00", 7);
  RequestHeader h;
  ASSERT_TRUE(DecodeAs<ApiVersionsRequest>(ApiVersionsV3Frame(tags), &h).has_value());
  EXPECT_EQ(h.correlation_id, kCorrelationId);
}

TEST(RequestHeaderTest, ApiVersionsV3NeverFailsOnMalformedTaggedFields) {
  // A tagged field claiming 100 bytes, an unterminated varint, and nothing at all.
  for (std::string tags :
       {std::string("\x01\x00\x64", 3), std::string("\xff\xff", 2), std::string()}) {
    std::string frame;
    WireWriter w(frame);
    WriteHeader(w, ApiKey::kApiVersions, 4);
    w.Raw(tags);
    RequestHeader h;
    ASSERT_TRUE(DecodeAs<ApiVersionsRequest>(frame, &h).has_value()) << Hex(tags);
    EXPECT_EQ(h.api_version, 4);
    EXPECT_EQ(h.client_id, "client-1");
  }
}

TEST(RequestHeaderTest, ApiVersionsFarAboveMaxStillDecodes) {
  std::string frame;
  WireWriter w(frame);
  WriteHeader(w, ApiKey::kApiVersions, 0x7fff);
  EXPECT_TRUE(DecodeAs<ApiVersionsRequest>(frame).has_value());
}

TEST(DecodeRequestTest, UnsupportedVersionNamesKeyAndVersion) {
  const std::string frame = FetchFrame(3);
  auto r = DecodeRequest(AsBytes(frame));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupportedVersion);
  EXPECT_NE(r.error().context.find("Fetch"), std::string::npos) << r.error().context;
  EXPECT_NE(r.error().context.find("version 3"), std::string::npos) << r.error().context;
  // The server still gets the header to answer with.
  ASSERT_OK_AND_ASSIGN(RequestHeader h, PeekRequestHeader(AsBytes(frame)));
  EXPECT_EQ(h.api_key, 1);
  EXPECT_EQ(h.api_version, 3);
  EXPECT_EQ(h.correlation_id, kCorrelationId);
}

TEST(DecodeRequestTest, VersionsOutsideTheTableAreUnsupported) {
  for (const SupportedApi& api : kSupportedApis) {
    std::vector<int16_t> bad = {-1, static_cast<int16_t>(api.min_version - 1)};
    if (api.key != ApiKey::kApiVersions) bad.push_back(static_cast<int16_t>(api.max_version + 1));
    for (int16_t v : bad) {
      std::string frame;
      WireWriter w(frame);
      WriteHeader(w, api.key, v);
      auto r = DecodeRequest(AsBytes(frame));
      ASSERT_FALSE(r.has_value()) << ApiKeyName(api.key) << " v" << v;
      EXPECT_EQ(r.error().code, ErrorCode::kUnsupportedVersion) << ApiKeyName(api.key) << v;
    }
  }
}

TEST(DecodeRequestTest, UnknownApiKeyIsUnsupported) {
  for (int16_t key : {int16_t{4}, int16_t{17}, int16_t{23}, int16_t{99}, int16_t{-3}}) {
    std::string frame;
    WireWriter w(frame);
    w.Int16(key);
    w.Int16(0);
    w.Int32(9);
    w.NullableString("c");
    auto r = DecodeRequest(AsBytes(frame));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupportedVersion);
    EXPECT_NE(r.error().context.find(std::to_string(key)), std::string::npos);
    ASSERT_OK_AND_ASSIGN(RequestHeader h, PeekRequestHeader(AsBytes(frame)));
    EXPECT_EQ(h.api_key, key);
  }
}

TEST(DecodeRequestTest, EveryStrictPrefixOfEveryFrameFails) {
  for (const FrameCase& c : AllFrames()) {
    ASSERT_TRUE(DecodeRequest(AsBytes(c.frame)).has_value()) << c.name;
    for (size_t n = 0; n < c.frame.size(); ++n) {
      // A copy of exactly n bytes, so ASan sees any read past it.
      const std::string prefix = c.frame.substr(0, n);
      auto r = DecodeRequest(AsBytes(prefix));
      ASSERT_FALSE(r.has_value()) << c.name << " cut to " << n;
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.name << " " << n;
    }
  }
}

TEST(DecodeRequestTest, TrailingBytesFail) {
  for (const FrameCase& c : AllFrames()) {
    auto r = DecodeRequest(AsBytes(c.frame + std::string("\0", 1)));
    ASSERT_FALSE(r.has_value()) << c.name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.name;
    EXPECT_NE(r.error().context.find("1 bytes after"), std::string::npos) << r.error().context;
  }
}

TEST(DecodeRequestTest, HugeArrayCountsFailFast) {
  // Top-level topics count 0x7fffffff with a few bytes behind it.
  const std::string produce = Frame(ApiKey::kProduce, 7, [](WireWriter& w) {
    w.NullableString(std::nullopt);
    w.Int16(1);
    w.Int32(1000);
    w.Int32(0x7fffffff);
    w.String("orders");
  });
  // A nested count: one topic whose partitions count is 0x7fffffff.
  const std::string fetch = Frame(ApiKey::kFetch, 11, [](WireWriter& w) {
    for (int i = 0; i < 3; ++i) w.Int32(0);
    w.Int32(0);
    w.Int8(0);
    w.Int32(0);
    w.Int32(-1);
    w.ArrayCount(1);
    w.String("orders");
    w.Int32(0x7fffffff);
  });
  // A nullable array (v1+ Metadata) and an array of int32 (OffsetFetch partition indexes).
  const std::string metadata =
      Frame(ApiKey::kMetadata, 1, [](WireWriter& w) { w.Int32(0x7fffffff); });
  const std::string offset_fetch = Frame(ApiKey::kOffsetFetch, 5, [](WireWriter& w) {
    w.String("g");
    w.ArrayCount(1);
    w.String("t");
    w.Int32(0x7fffffff);
    w.Int32(0);
  });
  for (const std::string& frame : {produce, fetch, metadata, offset_fetch}) {
    auto r = DecodeRequest(AsBytes(frame));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().context.find("array count 2147483647"), std::string::npos)
        << r.error().context;
  }
}

TEST(DecodeRequestTest, NegativeLengthsFail) {
  const std::string frame = Frame(ApiKey::kDeleteGroups, 0, [](WireWriter& w) {
    w.ArrayCount(1);
    w.Int16(-2);
  });
  auto r = DecodeRequest(AsBytes(frame));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().context.find("string length -2"), std::string::npos) << r.error().context;
  const std::string array = Frame(ApiKey::kDeleteGroups, 0, [](WireWriter& w) { w.Int32(-5); });
  r = DecodeRequest(AsBytes(array));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().context.find("array count -5"), std::string::npos) << r.error().context;
}

// Request bodies, each API at its lowest and highest version
// ---------------------------------------

TEST(ProduceRequestTest, DecodesV0) {
  auto req = DecodeAs<ProduceRequest>(ProduceFrame(0));
  ASSERT_TRUE(req.has_value());
  EXPECT_FALSE(req->transactional_id.has_value());
  EXPECT_EQ(req->acks, -1);
  EXPECT_EQ(req->timeout_ms, 30000);
  ASSERT_EQ(req->topics.size(), 1u);
  EXPECT_EQ(req->topics[0].name, "orders");
  ASSERT_EQ(req->topics[0].partitions.size(), 2u);
  EXPECT_EQ(req->topics[0].partitions[0].index, 0);
  ASSERT_TRUE(req->topics[0].partitions[0].records.has_value());
  EXPECT_EQ(AsString(*req->topics[0].partitions[0].records), TestBatch());
}

TEST(ProduceRequestTest, DecodesV8WithRecordsAsViewsIntoTheFrame) {
  const std::string frame = ProduceFrame(8);
  auto req = DecodeAs<ProduceRequest>(frame);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->transactional_id, "txn-1");
  EXPECT_EQ(req->acks, -1);
  EXPECT_EQ(req->timeout_ms, 30000);
  ASSERT_EQ(req->topics.size(), 1u);
  const auto& parts = req->topics[0].partitions;
  ASSERT_EQ(parts.size(), 2u);
  ASSERT_TRUE(parts[0].records.has_value());
  const Bytes records = *parts[0].records;
  EXPECT_EQ(AsString(records), TestBatch());
  // Zero copy: the view lies inside the frame.
  const auto* begin = reinterpret_cast<const std::byte*>(frame.data());
  EXPECT_GE(records.data(), begin);
  EXPECT_LE(records.data() + records.size(), begin + frame.size());
  EXPECT_EQ(parts[1].index, 3);
  EXPECT_FALSE(parts[1].records.has_value());
}

TEST(ProduceRequestTest, V3HasNullTransactionalIdAndOddValuesComeBackAsSent) {
  const std::string frame = Frame(ApiKey::kProduce, 3, [](WireWriter& w) {
    w.NullableString(std::nullopt);
    w.Int16(5);    // not a valid acks: the handler answers INVALID_REQUIRED_ACKS
    w.Int32(-10);  // negative timeout
    w.ArrayCount(0);
  });
  auto req = DecodeAs<ProduceRequest>(frame);
  ASSERT_TRUE(req.has_value());
  EXPECT_FALSE(req->transactional_id.has_value());
  EXPECT_EQ(req->acks, 5);
  EXPECT_EQ(req->timeout_ms, -10);
  EXPECT_TRUE(req->topics.empty());
}

TEST(FetchRequestTest, DecodesV4) {
  auto req = DecodeAs<FetchRequest>(FetchFrame(4));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->replica_id, -1);
  EXPECT_EQ(req->max_wait_ms, 500);
  EXPECT_EQ(req->min_bytes, 1);
  EXPECT_EQ(req->max_bytes, 52428800);
  EXPECT_EQ(req->isolation_level, 1);
  EXPECT_EQ(req->session_id, 0);
  EXPECT_EQ(req->session_epoch, -1);
  ASSERT_EQ(req->topics.size(), 1u);
  EXPECT_EQ(req->topics[0].topic, "orders");
  ASSERT_EQ(req->topics[0].partitions.size(), 2u);
  const auto& p = req->topics[0].partitions[1];
  EXPECT_EQ(p.partition, 1);
  EXPECT_EQ(p.current_leader_epoch, -1);
  EXPECT_EQ(p.fetch_offset, 200);
  EXPECT_EQ(p.log_start_offset, -1);
  EXPECT_EQ(p.partition_max_bytes, 1048576);
  EXPECT_TRUE(req->forgotten_topics_data.empty());
  EXPECT_EQ(req->rack_id, "");
}

TEST(FetchRequestTest, DecodesV11) {
  auto req = DecodeAs<FetchRequest>(FetchFrame(11));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->max_bytes, 52428800);
  EXPECT_EQ(req->isolation_level, 1);
  EXPECT_EQ(req->session_id, 0);
  EXPECT_EQ(req->session_epoch, -1);
  ASSERT_EQ(req->topics.size(), 1u);
  ASSERT_EQ(req->topics[0].partitions.size(), 2u);
  const auto& p = req->topics[0].partitions[0];
  EXPECT_EQ(p.partition, 0);
  EXPECT_EQ(p.current_leader_epoch, 5);
  EXPECT_EQ(p.fetch_offset, 100);
  EXPECT_EQ(p.log_start_offset, -1);
  EXPECT_EQ(p.partition_max_bytes, 1048576);
  ASSERT_EQ(req->forgotten_topics_data.size(), 1u);
  EXPECT_EQ(req->forgotten_topics_data[0].topic, "old");
  EXPECT_EQ(req->forgotten_topics_data[0].partitions, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(req->rack_id, "rack-a");
}

TEST(ListOffsetsRequestTest, DecodesV1) {
  auto req = DecodeAs<ListOffsetsRequest>(ListOffsetsFrame(1));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->replica_id, -1);
  EXPECT_EQ(req->isolation_level, 0);
  ASSERT_EQ(req->topics.size(), 1u);
  EXPECT_EQ(req->topics[0].name, "orders");
  ASSERT_EQ(req->topics[0].partitions.size(), 2u);
  EXPECT_EQ(req->topics[0].partitions[0].timestamp, -1);
  EXPECT_EQ(req->topics[0].partitions[0].current_leader_epoch, -1);
  EXPECT_EQ(req->topics[0].partitions[1].partition_index, 1);
  EXPECT_EQ(req->topics[0].partitions[1].timestamp, 1700000000000);
}

TEST(ListOffsetsRequestTest, DecodesV5) {
  auto req = DecodeAs<ListOffsetsRequest>(ListOffsetsFrame(5));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->isolation_level, 1);
  ASSERT_EQ(req->topics[0].partitions.size(), 2u);
  EXPECT_EQ(req->topics[0].partitions[0].current_leader_epoch, 3);
  EXPECT_EQ(req->topics[0].partitions[0].timestamp, -1);
  EXPECT_EQ(req->topics[0].partitions[1].current_leader_epoch, -1);
  EXPECT_EQ(req->topics[0].partitions[1].timestamp, 1700000000000);
}

TEST(MetadataRequestTest, DecodesV0) {
  auto req = DecodeAs<MetadataRequest>(MetadataFrame(0));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->topics, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(req->allow_auto_topic_creation);
}

TEST(MetadataRequestTest, DecodesV8) {
  auto req = DecodeAs<MetadataRequest>(MetadataFrame(8));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->topics, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(req->allow_auto_topic_creation);
  EXPECT_TRUE(req->include_cluster_authorized_operations);
  EXPECT_FALSE(req->include_topic_authorized_operations);
}

TEST(MetadataRequestTest, AllTopicsIsEmptyInV0AndNullFromV1) {
  auto v0_empty = DecodeAs<MetadataRequest>(
      Frame(ApiKey::kMetadata, 0, [](WireWriter& w) { w.ArrayCount(0); }));
  ASSERT_TRUE(v0_empty.has_value());
  EXPECT_FALSE(v0_empty->topics.has_value());  // all

  auto v1_null =
      DecodeAs<MetadataRequest>(Frame(ApiKey::kMetadata, 1, [](WireWriter& w) { w.Int32(-1); }));
  ASSERT_TRUE(v1_null.has_value());
  EXPECT_FALSE(v1_null->topics.has_value());  // all

  auto v1_empty = DecodeAs<MetadataRequest>(
      Frame(ApiKey::kMetadata, 1, [](WireWriter& w) { w.ArrayCount(0); }));
  ASSERT_TRUE(v1_empty.has_value());
  ASSERT_TRUE(v1_empty->topics.has_value());  // none
  EXPECT_TRUE(v1_empty->topics->empty());

  auto v4_null = DecodeAs<MetadataRequest>(Frame(ApiKey::kMetadata, 4, [](WireWriter& w) {
    w.Int32(-1);
    w.Bool(true);
  }));
  ASSERT_TRUE(v4_null.has_value());
  EXPECT_FALSE(v4_null->topics.has_value());
  EXPECT_TRUE(v4_null->allow_auto_topic_creation);
}

TEST(OffsetCommitRequestTest, DecodesV0) {
  auto req = DecodeAs<OffsetCommitRequest>(OffsetCommitFrame(0));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->group_id, "group");
  EXPECT_EQ(req->generation_id, -1);
  EXPECT_EQ(req->member_id, "");
  EXPECT_EQ(req->retention_time_ms, -1);
  ASSERT_EQ(req->topics.size(), 1u);
  ASSERT_EQ(req->topics[0].partitions.size(), 2u);
  EXPECT_EQ(req->topics[0].partitions[0].committed_offset, 42);
  EXPECT_EQ(req->topics[0].partitions[0].committed_metadata, "meta");
  EXPECT_FALSE(req->topics[0].partitions[1].committed_metadata.has_value());
}

TEST(OffsetCommitRequestTest, DecodesV1WithCommitTimestamp) {
  auto req = DecodeAs<OffsetCommitRequest>(OffsetCommitFrame(1));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->generation_id, 3);
  EXPECT_EQ(req->member_id, "m-1");
  EXPECT_EQ(req->retention_time_ms, -1);
  ASSERT_EQ(req->topics[0].partitions.size(), 2u);
  EXPECT_EQ(req->topics[0].partitions[0].commit_timestamp, 1234);
  EXPECT_EQ(req->topics[0].partitions[0].committed_metadata, "meta");
}

TEST(OffsetCommitRequestTest, DecodesV2WithRetention) {
  auto req = DecodeAs<OffsetCommitRequest>(OffsetCommitFrame(2));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->retention_time_ms, 86400000);
  EXPECT_EQ(req->topics[0].partitions[0].commit_timestamp, -1);
}

TEST(OffsetCommitRequestTest, DecodesV7) {
  auto req = DecodeAs<OffsetCommitRequest>(OffsetCommitFrame(7));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->group_id, "group");
  EXPECT_EQ(req->generation_id, 3);
  EXPECT_EQ(req->member_id, "m-1");
  EXPECT_EQ(req->group_instance_id, "inst");
  EXPECT_EQ(req->retention_time_ms, -1);
  ASSERT_EQ(req->topics[0].partitions.size(), 2u);
  const auto& p = req->topics[0].partitions[0];
  EXPECT_EQ(p.partition_index, 0);
  EXPECT_EQ(p.committed_offset, 42);
  EXPECT_EQ(p.committed_leader_epoch, 2);
  EXPECT_EQ(p.commit_timestamp, -1);
  EXPECT_EQ(p.committed_metadata, "meta");
  EXPECT_EQ(req->topics[0].partitions[1].committed_leader_epoch, -1);
}

TEST(OffsetFetchRequestTest, DecodesV1AndV5) {
  for (int16_t v : {1, 5}) {
    auto req = DecodeAs<OffsetFetchRequest>(OffsetFetchFrame(v));
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->group_id, "group");
    ASSERT_TRUE(req->topics.has_value());
    ASSERT_EQ(req->topics->size(), 1u);
    EXPECT_EQ((*req->topics)[0].name, "orders");
    EXPECT_EQ((*req->topics)[0].partition_indexes, (std::vector<int32_t>{0, 1}));
  }
}

TEST(OffsetFetchRequestTest, NullTopicsFromV2MeansAll) {
  auto req = DecodeAs<OffsetFetchRequest>(Frame(ApiKey::kOffsetFetch, 2, [](WireWriter& w) {
    w.String("group");
    w.Int32(-1);
  }));
  ASSERT_TRUE(req.has_value());
  EXPECT_FALSE(req->topics.has_value());
}

TEST(FindCoordinatorRequestTest, DecodesV0AndV2) {
  auto v0 = DecodeAs<FindCoordinatorRequest>(FindCoordinatorFrame(0));
  ASSERT_TRUE(v0.has_value());
  EXPECT_EQ(v0->key, "group");
  EXPECT_EQ(v0->key_type, 0);
  auto v2 = DecodeAs<FindCoordinatorRequest>(FindCoordinatorFrame(2));
  ASSERT_TRUE(v2.has_value());
  EXPECT_EQ(v2->key, "group");
  EXPECT_EQ(v2->key_type, 1);
}

TEST(JoinGroupRequestTest, DecodesV0) {
  auto req = DecodeAs<JoinGroupRequest>(JoinGroupFrame(0));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->group_id, "group");
  EXPECT_EQ(req->session_timeout_ms, 10000);
  EXPECT_EQ(req->rebalance_timeout_ms, -1);
  EXPECT_EQ(req->member_id, "");
  EXPECT_FALSE(req->group_instance_id.has_value());
  EXPECT_EQ(req->protocol_type, "consumer");
  ASSERT_EQ(req->protocols.size(), 2u);
  EXPECT_EQ(req->protocols[0].name, "range");
  EXPECT_EQ(req->protocols[0].metadata, std::string("\0\1abc", 5));
  EXPECT_EQ(req->protocols[1].name, "roundrobin");
  EXPECT_EQ(req->protocols[1].metadata, "");
}

TEST(JoinGroupRequestTest, DecodesV5) {
  auto req = DecodeAs<JoinGroupRequest>(JoinGroupFrame(5));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->session_timeout_ms, 10000);
  EXPECT_EQ(req->rebalance_timeout_ms, 300000);
  EXPECT_EQ(req->group_instance_id, "inst");
  EXPECT_EQ(req->protocol_type, "consumer");
  ASSERT_EQ(req->protocols.size(), 2u);
  EXPECT_EQ(req->protocols[0].metadata, std::string("\0\1abc", 5));
}

TEST(HeartbeatRequestTest, DecodesV0AndV3) {
  for (int16_t v : {0, 3}) {
    auto req = DecodeAs<HeartbeatRequest>(HeartbeatFrame(v));
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->group_id, "group");
    EXPECT_EQ(req->generation_id, 3);
    EXPECT_EQ(req->member_id, "m-1");
    EXPECT_FALSE(req->group_instance_id.has_value());
  }
}

TEST(LeaveGroupRequestTest, DecodesV0) {
  auto req = DecodeAs<LeaveGroupRequest>(LeaveGroupFrame(0));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->group_id, "group");
  EXPECT_EQ(req->member_id, "m-1");
  EXPECT_TRUE(req->members.empty());
}

TEST(LeaveGroupRequestTest, DecodesV3MemberBatch) {
  auto req = DecodeAs<LeaveGroupRequest>(LeaveGroupFrame(3));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->group_id, "group");
  EXPECT_EQ(req->member_id, "");
  ASSERT_EQ(req->members.size(), 2u);
  EXPECT_EQ(req->members[0].member_id, "m-1");
  EXPECT_FALSE(req->members[0].group_instance_id.has_value());
  EXPECT_EQ(req->members[1].member_id, "m-2");
  EXPECT_EQ(req->members[1].group_instance_id, "inst-2");
}

TEST(SyncGroupRequestTest, DecodesV0AndV3) {
  for (int16_t v : {0, 3}) {
    auto req = DecodeAs<SyncGroupRequest>(SyncGroupFrame(v));
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->group_id, "group");
    EXPECT_EQ(req->generation_id, 3);
    EXPECT_EQ(req->member_id, "m-1");
    if (v >= 3) {
      EXPECT_EQ(req->group_instance_id, "inst");
    } else {
      EXPECT_FALSE(req->group_instance_id.has_value());
    }
    ASSERT_EQ(req->assignments.size(), 2u);
    EXPECT_EQ(req->assignments[0].member_id, "m-1");
    EXPECT_EQ(req->assignments[0].assignment, std::string("\0\1assign", 8));
    EXPECT_EQ(req->assignments[1].member_id, "m-2");
    EXPECT_EQ(req->assignments[1].assignment, "");
  }
}

TEST(DescribeGroupsRequestTest, DecodesV0AndV4) {
  auto v0 = DecodeAs<DescribeGroupsRequest>(DescribeGroupsFrame(0));
  ASSERT_TRUE(v0.has_value());
  EXPECT_EQ(v0->groups, (std::vector<std::string>{"g1", "g2"}));
  EXPECT_FALSE(v0->include_authorized_operations);
  auto v4 = DecodeAs<DescribeGroupsRequest>(DescribeGroupsFrame(4));
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->groups, (std::vector<std::string>{"g1", "g2"}));
  EXPECT_TRUE(v4->include_authorized_operations);
}

TEST(ListGroupsRequestTest, DecodesV0AndV2) {
  EXPECT_TRUE(DecodeAs<ListGroupsRequest>(ListGroupsFrame(0)).has_value());
  EXPECT_TRUE(DecodeAs<ListGroupsRequest>(ListGroupsFrame(2)).has_value());
}

TEST(ApiVersionsRequestTest, DecodesV0AndV2) {
  EXPECT_TRUE(DecodeAs<ApiVersionsRequest>(ApiVersionsFrame(0)).has_value());
  EXPECT_TRUE(DecodeAs<ApiVersionsRequest>(ApiVersionsFrame(2)).has_value());
}

TEST(CreateTopicsRequestTest, DecodesV2AndV4) {
  for (int16_t v : {2, 4}) {
    auto req = DecodeAs<CreateTopicsRequest>(CreateTopicsFrame(v));
    ASSERT_TRUE(req.has_value());
    ASSERT_EQ(req->topics.size(), 2u);
    const auto& t1 = req->topics[0];
    EXPECT_EQ(t1.name, "t1");
    EXPECT_EQ(t1.num_partitions, 3);
    EXPECT_EQ(t1.replication_factor, 1);
    EXPECT_TRUE(t1.assignments.empty());
    ASSERT_EQ(t1.configs.size(), 2u);
    EXPECT_EQ(t1.configs[0].name, "cleanup.policy");
    EXPECT_EQ(t1.configs[0].value, "compact");
    EXPECT_EQ(t1.configs[1].name, "retention.ms");
    EXPECT_FALSE(t1.configs[1].value.has_value());
    const auto& t2 = req->topics[1];
    EXPECT_EQ(t2.num_partitions, -1);
    EXPECT_EQ(t2.replication_factor, -1);
    ASSERT_EQ(t2.assignments.size(), 2u);
    EXPECT_EQ(t2.assignments[1].partition_index, 1);
    EXPECT_EQ(t2.assignments[1].broker_ids, (std::vector<int32_t>{1}));
    EXPECT_TRUE(t2.configs.empty());
    EXPECT_EQ(req->timeout_ms, 30000);
    EXPECT_TRUE(req->validate_only);
  }
}

TEST(DeleteTopicsRequestTest, DecodesV1AndV3) {
  for (int16_t v : {1, 3}) {
    auto req = DecodeAs<DeleteTopicsRequest>(DeleteTopicsFrame(v));
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->topic_names, (std::vector<std::string>{"t1", "t2"}));
    EXPECT_EQ(req->timeout_ms, 30000);
  }
}

TEST(InitProducerIdRequestTest, DecodesV0AndV1) {
  auto v0 = DecodeAs<InitProducerIdRequest>(InitProducerIdFrame(0));
  ASSERT_TRUE(v0.has_value());
  EXPECT_FALSE(v0->transactional_id.has_value());
  EXPECT_EQ(v0->transaction_timeout_ms, 60000);
  auto v1 = DecodeAs<InitProducerIdRequest>(InitProducerIdFrame(1));
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->transactional_id, "txn");
}

TEST(DescribeConfigsRequestTest, DecodesV1AndV3) {
  for (int16_t v : {1, 3}) {
    auto req = DecodeAs<DescribeConfigsRequest>(DescribeConfigsFrame(v));
    ASSERT_TRUE(req.has_value());
    ASSERT_EQ(req->resources.size(), 2u);
    EXPECT_EQ(req->resources[0].resource_type, 2);
    EXPECT_EQ(req->resources[0].resource_name, "orders");
    EXPECT_EQ(req->resources[0].configuration_keys, (std::vector<std::string>{"retention.ms"}));
    EXPECT_EQ(req->resources[1].resource_type, 4);
    EXPECT_EQ(req->resources[1].resource_name, "1");
    EXPECT_FALSE(req->resources[1].configuration_keys.has_value());
    EXPECT_TRUE(req->include_synonyms);
    EXPECT_EQ(req->include_documentation, v >= 3);
  }
}

TEST(DeleteGroupsRequestTest, DecodesV0AndV1) {
  for (int16_t v : {0, 1}) {
    auto req = DecodeAs<DeleteGroupsRequest>(DeleteGroupsFrame(v));
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->groups_names, (std::vector<std::string>{"g1"}));
  }
}

// Responses
// -----------------------------------------------------------------------------------------

TEST(ProduceResponseTest, EncodesV7) {
  ProduceResponse resp;
  resp.responses.push_back({"orders", {}});
  ProduceResponse::Partition ok;
  ok.index = 0;
  ok.base_offset = 100;
  ok.log_start_offset = 0;
  ProduceResponse::Partition not_leader;
  not_leader.index = 1;
  not_leader.error_code = KafkaError::kNotLeaderOrFollower;
  resp.responses[0].partitions = {ok, not_leader};
  resp.throttle_time_ms = 7;
  const std::string expected = Expected([](WireWriter& w) {
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.Int16(0);
    w.Int64(100);
    w.Int64(-1);
    w.Int64(0);
    w.Int32(1);
    w.Int16(6);
    w.Int64(-1);
    w.Int64(-1);
    w.Int64(-1);
    w.Int32(7);
  });
  EXPECT_EQ(Hex(Encode(7, resp)), Hex(expected));
}

TEST(ProduceResponseTest, EncodesV8RecordErrorsAndV0WithoutThrottle) {
  ProduceResponse resp;
  resp.responses.push_back({"t", {}});
  ProduceResponse::Partition p;
  p.index = 2;
  p.error_code = KafkaError::kInvalidRecord;
  p.record_errors.push_back({3, "bad"});
  p.error_message = "rejected";
  resp.responses[0].partitions.push_back(p);
  EXPECT_EQ(Hex(Encode(8, resp)), Hex(Expected([](WireWriter& w) {
              w.ArrayCount(1);
              w.String("t");
              w.ArrayCount(1);
              w.Int32(2);
              w.Int16(87);
              w.Int64(-1);
              w.Int64(-1);
              w.Int64(-1);
              w.ArrayCount(1);
              w.Int32(3);
              w.NullableString("bad");
              w.NullableString("rejected");
              w.Int32(0);
            })));
  EXPECT_EQ(Hex(Encode(0, resp)), Hex(Expected([](WireWriter& w) {
              w.ArrayCount(1);
              w.String("t");
              w.ArrayCount(1);
              w.Int32(2);
              w.Int16(87);
              w.Int64(-1);
            })));
}

TEST(FetchResponseTest, EncodesV11WithTwoBatchesByReference) {
  const std::string b1 = testing::MakeBatch(1, "first");
  const std::string b2 = testing::MakeBatch(3, "second");
  FetchResponse resp;
  resp.responses.push_back({"orders", {}});
  FetchResponse::Partition p0;
  p0.partition_index = 0;
  p0.high_watermark = 10;
  p0.last_stable_offset = 10;
  p0.log_start_offset = 0;
  p0.batches = {AsBytes(b1), AsBytes(b2)};
  FetchResponse::Partition p1;
  p1.partition_index = 1;
  p1.error_code = KafkaError::kOffsetOutOfRange;
  p1.high_watermark = 5;
  p1.last_stable_offset = 5;
  p1.log_start_offset = 2;
  p1.aborted_transactions.emplace();
  p1.aborted_transactions->push_back({77, 3});
  resp.responses[0].partitions = {p0, p1};

  OutBuffer out;
  EncodeResponse(11, resp, out);
  const std::string expected = Expected([&](WireWriter& w) {
    w.Int32(0);  // throttle_time_ms
    w.Int16(0);  // error_code
    w.Int32(0);  // session_id
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.Int16(0);
    w.Int64(10);
    w.Int64(10);
    w.Int64(0);
    w.Int32(-1);  // aborted_transactions: null
    w.Int32(-1);  // preferred_read_replica
    w.Int32(static_cast<int32_t>(b1.size() + b2.size()));
    w.Raw(b1);
    w.Raw(b2);
    w.Int32(1);
    w.Int16(1);
    w.Int64(5);
    w.Int64(5);
    w.Int64(2);
    w.ArrayCount(1);
    w.Int64(77);
    w.Int64(3);
    w.Int32(-1);
    w.Int32(0);  // no records: length 0
  });
  EXPECT_EQ(Hex(Flatten(out)), Hex(expected));
  // The batches go out by reference, not copied.
  std::vector<iovec> iov;
  out.Iovecs(0, iov);
  int views = 0;
  for (const iovec& v : iov) {
    if (v.iov_base == b1.data() || v.iov_base == b2.data()) ++views;
  }
  EXPECT_EQ(views, 2);
}

TEST(FetchResponseTest, EncodesV4WithoutSessionOrLogStart) {
  FetchResponse resp;
  resp.responses.push_back({"t", {}});
  FetchResponse::Partition p;
  p.high_watermark = 3;
  p.last_stable_offset = 3;
  p.log_start_offset = 1;
  resp.responses[0].partitions.push_back(p);
  EXPECT_EQ(Hex(Encode(4, resp)), Hex(Expected([](WireWriter& w) {
              w.Int32(0);
              w.ArrayCount(1);
              w.String("t");
              w.ArrayCount(1);
              w.Int32(0);
              w.Int16(0);
              w.Int64(3);
              w.Int64(3);
              w.Int32(-1);
              w.Int32(0);
            })));
}

TEST(ListOffsetsResponseTest, EncodesV1AndV5) {
  ListOffsetsResponse resp;
  resp.throttle_time_ms = 1;
  resp.topics.push_back({"t", {}});
  ListOffsetsResponse::Partition p;
  p.partition_index = 2;
  p.timestamp = 1000;
  p.offset = 42;
  resp.topics[0].partitions.push_back(p);
  EXPECT_EQ(Hex(Encode(1, resp)), Hex(Expected([](WireWriter& w) {
              w.ArrayCount(1);
              w.String("t");
              w.ArrayCount(1);
              w.Int32(2);
              w.Int16(0);
              w.Int64(1000);
              w.Int64(42);
            })));
  EXPECT_EQ(Hex(Encode(5, resp)), Hex(Expected([](WireWriter& w) {
              w.Int32(1);
              w.ArrayCount(1);
              w.String("t");
              w.ArrayCount(1);
              w.Int32(2);
              w.Int16(0);
              w.Int64(1000);
              w.Int64(42);
              w.Int32(-1);
            })));
}

MetadataResponse SampleMetadata() {
  MetadataResponse resp;
  resp.throttle_time_ms = 0;
  resp.brokers.push_back({1, "localhost", 9092, std::nullopt});
  resp.cluster_id = "sluice";
  resp.controller_id = 1;
  MetadataResponse::Topic orders;
  orders.name = "orders";
  orders.partitions.push_back({.error_code = KafkaError::kNone,
                               .partition_index = 0,
                               .leader_id = 1,
                               .leader_epoch = -1,
                               .replica_nodes = {1},
                               .isr_nodes = {1},
                               .offline_replicas = {}});
  resp.topics.push_back(orders);
  MetadataResponse::Topic missing;
  missing.error_code = KafkaError::kUnknownTopicOrPartition;
  missing.name = "missing";
  resp.topics.push_back(missing);
  return resp;
}

TEST(MetadataResponseTest, EncodesV1) {
  const std::string expected = Expected([](WireWriter& w) {
    w.ArrayCount(1);
    w.Int32(1);
    w.String("localhost");
    w.Int32(9092);
    w.NullableString(std::nullopt);  // rack
    w.Int32(1);                      // controller_id
    w.ArrayCount(2);
    w.Int16(0);
    w.String("orders");
    w.Bool(false);
    w.ArrayCount(1);
    w.Int16(0);
    w.Int32(0);
    w.Int32(1);
    w.ArrayCount(1);
    w.Int32(1);
    w.ArrayCount(1);
    w.Int32(1);
    w.Int16(3);
    w.String("missing");
    w.Bool(false);
    w.ArrayCount(0);
  });
  EXPECT_EQ(Hex(Encode(1, SampleMetadata())), Hex(expected));
}

TEST(MetadataResponseTest, EncodesV8) {
  MetadataResponse resp = SampleMetadata();
  resp.throttle_time_ms = 3;
  resp.brokers[0].rack = "r1";
  resp.topics[0].is_internal = true;
  resp.topics[0].partitions[0].offline_replicas = {2};
  resp.topics[0].topic_authorized_operations = 0x0f;
  const std::string expected = Expected([](WireWriter& w) {
    w.Int32(3);  // throttle_time_ms
    w.ArrayCount(1);
    w.Int32(1);
    w.String("localhost");
    w.Int32(9092);
    w.NullableString("r1");
    w.NullableString("sluice");  // cluster_id
    w.Int32(1);
    w.ArrayCount(2);
    w.Int16(0);
    w.String("orders");
    w.Bool(true);
    w.ArrayCount(1);
    w.Int16(0);
    w.Int32(0);
    w.Int32(1);
    w.Int32(-1);  // leader_epoch
    w.ArrayCount(1);
    w.Int32(1);
    w.ArrayCount(1);
    w.Int32(1);
    w.ArrayCount(1);  // offline_replicas
    w.Int32(2);
    w.Int32(0x0f);  // topic_authorized_operations
    w.Int16(3);
    w.String("missing");
    w.Bool(false);
    w.ArrayCount(0);
    w.Int32(INT32_MIN);
    w.Int32(INT32_MIN);  // cluster_authorized_operations
  });
  EXPECT_EQ(Hex(Encode(8, resp)), Hex(expected));
}

TEST(MetadataResponseTest, EncodesV0WithoutV1Fields) {
  MetadataResponse resp;
  resp.brokers.push_back({1, "h", 1, "rack"});
  EXPECT_EQ(Hex(Encode(0, resp)), H("00000001 00000001 000168 00000001 00000000"));
}

TEST(ApiVersionsResponseTest, EncodesV0AndV2Literally) {
  ApiVersionsResponse resp;
  resp.api_keys = {{0, 0, 8}, {18, 0, 2}};
  resp.throttle_time_ms = 0x10;
  EXPECT_EQ(Hex(Encode(0, resp)), H("0000 00000002 000000000008 001200000002"));
  EXPECT_EQ(Hex(Encode(2, resp)), H("0000 00000002 000000000008 001200000002 00000010"));
}

TEST(ApiVersionsResponseTest, FallbackIsV0FormatWithEveryApi) {
  OutBuffer out;
  EncodeApiVersionsFallback(out);
  const std::string expected = Expected([](WireWriter& w) {
    w.Int16(35);
    w.ArrayCount(std::size(kSupportedApis));
    for (const SupportedApi& api : kSupportedApis) {
      w.Int16(static_cast<int16_t>(api.key));
      w.Int16(api.min_version);
      w.Int16(api.max_version);
    }
  });
  const std::string body = Flatten(out);
  EXPECT_EQ(Hex(body), Hex(expected));
  EXPECT_EQ(body.size(), 2u + 4u + 6u * 19u);
  EXPECT_NE(Hex(body).find("001200000002"), std::string::npos);  // ApiVersions 0-2
  EXPECT_EQ(Hex(body).substr(0, 20), H("0023 00000013 0000 0000"));
}

TEST(SupportedApisTest, TableMatchesTheAdvertisedRanges) {
  const std::vector<ApiVersionsResponse::ApiVersion> keys = SupportedApiVersions();
  ASSERT_EQ(keys.size(), 19u);
  auto range = [&](int16_t key) {
    for (const auto& k : keys) {
      if (k.api_key == key) return std::pair<int, int>(k.min_version, k.max_version);
    }
    return std::pair<int, int>(-100, -100);
  };
  EXPECT_EQ(range(0), std::make_pair(0, 8));
  EXPECT_EQ(range(1), std::make_pair(4, 11));
  EXPECT_EQ(range(2), std::make_pair(1, 5));
  EXPECT_EQ(range(3), std::make_pair(0, 8));
  EXPECT_EQ(range(8), std::make_pair(0, 7));
  EXPECT_EQ(range(9), std::make_pair(1, 5));
  EXPECT_EQ(range(10), std::make_pair(0, 2));
  EXPECT_EQ(range(11), std::make_pair(0, 5));
  EXPECT_EQ(range(12), std::make_pair(0, 3));
  EXPECT_EQ(range(13), std::make_pair(0, 3));
  EXPECT_EQ(range(14), std::make_pair(0, 3));
  EXPECT_EQ(range(15), std::make_pair(0, 4));
  EXPECT_EQ(range(16), std::make_pair(0, 2));
  EXPECT_EQ(range(18), std::make_pair(0, 2));
  EXPECT_EQ(range(19), std::make_pair(2, 4));
  EXPECT_EQ(range(20), std::make_pair(1, 3));
  EXPECT_EQ(range(22), std::make_pair(0, 1));
  EXPECT_EQ(range(32), std::make_pair(1, 3));
  EXPECT_EQ(range(42), std::make_pair(0, 1));
  EXPECT_EQ(range(23), std::make_pair(-100, -100));  // no OffsetForLeaderEpoch
  EXPECT_TRUE(IsSupportedVersion(0, 0));
  EXPECT_FALSE(IsSupportedVersion(1, 3));
  EXPECT_FALSE(IsSupportedVersion(18, 3));
}

TEST(KafkaErrorTest, NamesAndNumbers) {
  EXPECT_STREQ(KafkaErrorName(KafkaError::kNone), "NONE");
  EXPECT_STREQ(KafkaErrorName(KafkaError::kUnknownServerError), "UNKNOWN_SERVER_ERROR");
  EXPECT_STREQ(KafkaErrorName(KafkaError::kNotLeaderOrFollower), "NOT_LEADER_OR_FOLLOWER");
  EXPECT_STREQ(KafkaErrorName(KafkaError::kUnsupportedVersion), "UNSUPPORTED_VERSION");
  EXPECT_STREQ(KafkaErrorName(KafkaError::kThrottlingQuotaExceeded), "THROTTLING_QUOTA_EXCEEDED");
  EXPECT_STREQ(KafkaErrorName(static_cast<KafkaError>(1234)), "UNKNOWN");
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kUnsupportedVersion), 35);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kInvalidConfig), 40);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kKafkaStorageError), 56);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kUnknownProducerId), 59);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kNonEmptyGroup), 68);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kGroupIdNotFound), 69);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kUnsupportedCompressionType), 76);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kMemberIdRequired), 79);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kGroupMaxSizeReached), 81);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kInvalidRecord), 87);
  EXPECT_EQ(static_cast<int16_t>(KafkaError::kThrottlingQuotaExceeded), 89);
  EXPECT_STREQ(ApiKeyName(ApiKey::kDescribeConfigs), "DescribeConfigs");
}

TEST(OffsetCommitResponseTest, EncodesV2AndV7) {
  OffsetCommitResponse resp;
  resp.throttle_time_ms = 2;
  resp.topics.push_back({"t", {{0, KafkaError::kNone}, {1, KafkaError::kIllegalGeneration}}});
  auto body = [](WireWriter& w) {
    w.ArrayCount(1);
    w.String("t");
    w.ArrayCount(2);
    w.Int32(0);
    w.Int16(0);
    w.Int32(1);
    w.Int16(22);
  };
  EXPECT_EQ(Hex(Encode(2, resp)), Hex(Expected(body)));
  EXPECT_EQ(Hex(Encode(7, resp)), Hex(Expected([&](WireWriter& w) {
              w.Int32(2);
              body(w);
            })));
}

TEST(OffsetFetchResponseTest, EncodesV5) {
  OffsetFetchResponse resp;
  resp.throttle_time_ms = 0;
  resp.topics.push_back({"orders", {}});
  resp.topics[0].partitions.push_back({.partition_index = 0,
                                       .committed_offset = 42,
                                       .committed_leader_epoch = -1,
                                       .metadata = "meta",
                                       .error_code = KafkaError::kNone});
  resp.topics[0].partitions.push_back({.partition_index = 1,
                                       .committed_offset = -1,
                                       .committed_leader_epoch = -1,
                                       .metadata = std::nullopt,
                                       .error_code = KafkaError::kNone});
  resp.error_code = KafkaError::kNone;
  const std::string expected = Expected([](WireWriter& w) {
    w.Int32(0);
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.Int64(42);
    w.Int32(-1);
    w.NullableString("meta");
    w.Int16(0);
    w.Int32(1);
    w.Int64(-1);
    w.Int32(-1);
    w.NullableString(std::nullopt);
    w.Int16(0);
    w.Int16(0);  // top-level error_code
  });
  EXPECT_EQ(Hex(Encode(5, resp)), Hex(expected));
}

TEST(OffsetFetchResponseTest, EncodesV1WithoutTopLevelErrorOrThrottle) {
  OffsetFetchResponse resp;
  resp.error_code = KafkaError::kNotCoordinator;
  EXPECT_EQ(Hex(Encode(1, resp)), "00000000");
  EXPECT_EQ(Hex(Encode(2, resp)), H("00000000 0010"));
  EXPECT_EQ(Hex(Encode(3, resp)), H("00000000 00000000 0010"));
}

TEST(FindCoordinatorResponseTest, EncodesV0AndV2) {
  FindCoordinatorResponse resp;
  resp.node_id = 1;
  resp.host = "h";
  resp.port = 9092;
  EXPECT_EQ(Hex(Encode(0, resp)), H("0000 00000001 000168 00002384"));
  EXPECT_EQ(Hex(Encode(2, resp)), H("00000000 0000 ffff 00000001 000168 00002384"));
}

TEST(JoinGroupResponseTest, EncodesV5) {
  JoinGroupResponse resp;
  resp.generation_id = 1;
  resp.protocol_name = "range";
  resp.leader = "m-1";
  resp.member_id = "m-1";
  resp.members = {{"m-1", std::nullopt, "meta1"}, {"m-2", "inst-2", "meta2"}};
  const std::string expected = Expected([](WireWriter& w) {
    w.Int32(0);  // throttle_time_ms
    w.Int16(0);
    w.Int32(1);
    w.String("range");
    w.String("m-1");
    w.String("m-1");
    w.ArrayCount(2);
    w.String("m-1");
    w.NullableString(std::nullopt);
    w.BytesField(AsBytes("meta1"));
    w.String("m-2");
    w.NullableString("inst-2");
    w.BytesField(AsBytes("meta2"));
  });
  EXPECT_EQ(Hex(Encode(5, resp)), Hex(expected));
  // v0: no throttle, no group_instance_id.
  const std::string v0 = Expected([](WireWriter& w) {
    w.Int16(0);
    w.Int32(1);
    w.String("range");
    w.String("m-1");
    w.String("m-1");
    w.ArrayCount(2);
    w.String("m-1");
    w.BytesField(AsBytes("meta1"));
    w.String("m-2");
    w.BytesField(AsBytes("meta2"));
  });
  EXPECT_EQ(Hex(Encode(0, resp)), Hex(v0));
}

TEST(GroupResponsesTest, EncodeHeartbeatSyncGroupLeaveGroup) {
  HeartbeatResponse hb{.throttle_time_ms = 0, .error_code = KafkaError::kRebalanceInProgress};
  EXPECT_EQ(Hex(Encode(0, hb)), "001b");
  EXPECT_EQ(Hex(Encode(3, hb)), H("00000000 001b"));

  SyncGroupResponse sync{
      .throttle_time_ms = 0, .error_code = KafkaError::kNone, .assignment = "ab"};
  EXPECT_EQ(Hex(Encode(0, sync)), H("0000 00000002 6162"));
  EXPECT_EQ(Hex(Encode(3, sync)), H("00000000 0000 00000002 6162"));

  LeaveGroupResponse leave;
  leave.members = {{"m", std::nullopt, KafkaError::kUnknownMemberId}};
  EXPECT_EQ(Hex(Encode(0, leave)), "0000");
  EXPECT_EQ(Hex(Encode(1, leave)), H("00000000 0000"));
  EXPECT_EQ(Hex(Encode(3, leave)), H("00000000 0000 00000001 00016d ffff 0019"));
}

TEST(GroupResponsesTest, EncodeDescribeGroupsV0AndV4) {
  DescribeGroupsResponse resp;
  DescribeGroupsResponse::Group g;
  g.group_id = "g";
  g.group_state = "Stable";
  g.protocol_type = "consumer";
  g.protocol_data = "range";
  g.members.push_back({"m", "i", "cid", "/1.2.3.4", "md", "as"});
  resp.groups.push_back(g);
  auto group = [](WireWriter& w, int16_t v) {
    w.Int16(0);
    w.String("g");
    w.String("Stable");
    w.String("consumer");
    w.String("range");
    w.ArrayCount(1);
    w.String("m");
    if (v >= 4) w.NullableString("i");
    w.String("cid");
    w.String("/1.2.3.4");
    w.BytesField(AsBytes("md"));
    w.BytesField(AsBytes("as"));
    if (v >= 3) w.Int32(INT32_MIN);
  };
  EXPECT_EQ(Hex(Encode(0, resp)), Hex(Expected([&](WireWriter& w) {
              w.ArrayCount(1);
              group(w, 0);
            })));
  EXPECT_EQ(Hex(Encode(4, resp)), Hex(Expected([&](WireWriter& w) {
              w.Int32(0);
              w.ArrayCount(1);
              group(w, 4);
            })));
}

TEST(GroupResponsesTest, EncodeListGroupsAndDeleteGroups) {
  ListGroupsResponse list;
  list.groups = {{"g", "consumer"}};
  EXPECT_EQ(Hex(Encode(0, list)), Hex(Expected([](WireWriter& w) {
              w.Int16(0);
              w.ArrayCount(1);
              w.String("g");
              w.String("consumer");
            })));
  EXPECT_EQ(Hex(Encode(2, list)).substr(0, 8), "00000000");

  DeleteGroupsResponse del;
  del.results = {{"g", KafkaError::kNonEmptyGroup}};
  EXPECT_EQ(Hex(Encode(0, del)), H("00000000 00000001 000167 0044"));
  EXPECT_EQ(Hex(Encode(1, del)), H("00000000 00000001 000167 0044"));
}

TEST(AdminResponsesTest, EncodeCreateTopicsDeleteTopicsInitProducerId) {
  CreateTopicsResponse create;
  create.topics = {{"t", KafkaError::kTopicAlreadyExists, "exists"}};
  EXPECT_EQ(Hex(Encode(2, create)), Hex(Expected([](WireWriter& w) {
              w.Int32(0);
              w.ArrayCount(1);
              w.String("t");
              w.Int16(36);
              w.NullableString("exists");
            })));
  EXPECT_EQ(Encode(4, create), Encode(2, create));

  DeleteTopicsResponse del;
  del.responses = {{"t", KafkaError::kUnknownTopicOrPartition}};
  EXPECT_EQ(Hex(Encode(1, del)), H("00000000 00000001 000174 0003"));

  InitProducerIdResponse init;
  init.producer_id = 1000;
  init.producer_epoch = 0;
  EXPECT_EQ(Hex(Encode(0, init)), H("00000000 0000 00000000000003e8 0000"));
}

TEST(DescribeConfigsResponseTest, EncodesV3) {
  DescribeConfigsResponse resp;
  DescribeConfigsResponse::ResourceResult res;
  res.resource_type = 2;
  res.resource_name = "orders";
  DescribeConfigsResponse::Config c;
  c.name = "retention.ms";
  c.value = "604800000";
  c.read_only = false;
  c.config_source = 5;
  c.is_sensitive = false;
  c.synonyms = {{"log.retention.ms", "604800000", 5}};
  c.config_type = 5;
  c.documentation = "How long to keep a segment.";
  res.configs.push_back(c);
  resp.results.push_back(res);
  auto config_v1 = [](WireWriter& w) {
    w.Int32(0);  // throttle_time_ms
    w.ArrayCount(1);
    w.Int16(0);
    w.NullableString(std::nullopt);  // error_message
    w.Int8(2);
    w.String("orders");
    w.ArrayCount(1);
    w.String("retention.ms");
    w.NullableString("604800000");
    w.Bool(false);  // read_only
    w.Int8(5);      // config_source
    w.Bool(false);  // is_sensitive
    w.ArrayCount(1);
    w.String("log.retention.ms");
    w.NullableString("604800000");
    w.Int8(5);
  };
  EXPECT_EQ(Hex(Encode(3, resp)), Hex(Expected([&](WireWriter& w) {
              config_v1(w);
              w.Int8(5);  // config_type
              w.NullableString("How long to keep a segment.");
            })));
  EXPECT_EQ(Hex(Encode(1, resp)), Hex(Expected(config_v1)));
}

// Seed corpus for tests/fuzz/request_decoder_fuzz.cc: with SLUICE_WRITE_REQUEST_CORPUS=<dir>,
// writes every frame above (and a few more) there, one file each.
TEST(RequestCorpusTest, WriteSeedsWhenAsked) {
  const char* dir = std::getenv("SLUICE_WRITE_REQUEST_CORPUS");
  if (dir == nullptr) GTEST_SKIP() << "set SLUICE_WRITE_REQUEST_CORPUS to write the seeds";
  std::vector<FrameCase> frames = AllFrames();
  frames.push_back({"ApiVersions-v3", ApiVersionsV3Frame()});
  frames.push_back({"Produce-v7", ProduceFrame(7)});
  frames.push_back({"Fetch-v7", FetchFrame(7)});
  frames.push_back({"Metadata-v1", MetadataFrame(1)});
  frames.push_back({"OffsetCommit-v2", OffsetCommitFrame(2)});
  std::filesystem::create_directories(dir);
  for (const FrameCase& c : frames) {
    ASSERT_TRUE(DecodeRequest(AsBytes(c.frame)).has_value()) << c.name;
    testing::WriteWholeFile(std::string(dir) + "/" + c.name, c.frame);
  }
}

}  // namespace
}  // namespace sluice::net
