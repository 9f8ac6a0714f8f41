// The Kafka request decoder (net/messages.h): the header, dispatch and version checks, every
// API's body at its lowest and highest version, and hostile input (truncation, trailing bytes,
// huge counts). Frames come from tests/net/codec_test_util.h.

#include "net/messages.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "net/kafka_errors.h"
#include "net/wire.h"
#include "tests/net/codec_test_util.h"
#include "tests/support/test_util.h"

namespace sluice::net::codec_test {
namespace {
using base::ErrorCode;

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

TEST(RequestHeaderTest, ApiVersionsV3DecodesItsHeaderAndBody) {
  RequestHeader h;
  auto req = DecodeAs<ApiVersionsRequest>(ApiVersionsV3Frame(), &h);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(h.api_key, 18);
  EXPECT_EQ(h.api_version, 3);
  EXPECT_EQ(h.correlation_id, kCorrelationId);
  EXPECT_EQ(h.client_id, "client-1");
  EXPECT_TRUE(req->well_formed);
  EXPECT_EQ(req->client_software_name, "librdkafka");
  EXPECT_EQ(req->client_software_version, "2.0.2");
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
    auto req = DecodeAs<ApiVersionsRequest>(frame, &h);
    ASSERT_TRUE(req.has_value()) << Hex(tags);
    EXPECT_EQ(h.api_version, 4);
    EXPECT_EQ(h.client_id, "client-1");
    EXPECT_FALSE(req->well_formed) << Hex(tags);  // answered INVALID_REQUEST
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
  for (int16_t key : {int16_t{4}, int16_t{24}, int16_t{23}, int16_t{99}, int16_t{-3}}) {
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

// ApiVersions v3+ is always answered: a cut body, or bytes after it, decode as not well formed
// (AV3BodyThatDoesNotParseStillDecodes); its header must be whole all the same.
bool IsFlexibleApiVersions(const FrameCase& c) {
  const std::string prefix = "ApiVersions-v";
  return c.name.rfind(prefix, 0) == 0 && std::stoi(c.name.substr(prefix.size())) >= 3;
}

TEST(DecodeRequestTest, EveryStrictPrefixOfEveryFrameFails) {
  for (const FrameCase& c : AllFrames()) {
    ASSERT_TRUE(DecodeRequest(AsBytes(c.frame)).has_value()) << c.name;
    if (IsFlexibleApiVersions(c)) continue;
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
    if (IsFlexibleApiVersions(c)) continue;
    auto r = DecodeRequest(AsBytes(c.frame + std::string("\0", 1)));
    if (c.frame.size() >= 2 && c.frame[0] == 0 && c.frame[1] == 16) {
      // ListGroups (key 16): up to 4 bytes after the body are ignored, as Kafka does; librdkafka
      // 2.0.x sends one (net/messages.cc).
      EXPECT_TRUE(r.has_value()) << c.name;
      continue;
    }
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

// Request bodies, each API at its lowest and highest version ----------------------------------

TEST(ProduceRequestTest, DecodesV0) {
  const std::string frame = ProduceFrame(0);  // outlives the request: records point into it
  auto req = DecodeAs<ProduceRequest>(frame);
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

TEST(ListGroupsRequestTest, DecodesTheFiltersOfV4AndV5) {
  auto v3 = DecodeAs<ListGroupsRequest>(ListGroupsFrame(3));
  ASSERT_TRUE(v3.has_value());
  EXPECT_TRUE(v3->states_filter.empty());
  EXPECT_TRUE(v3->types_filter.empty());
  auto v4 = DecodeAs<ListGroupsRequest>(ListGroupsFrame(4));
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->states_filter, (std::vector<std::string>{"Stable", " empty "}));
  EXPECT_TRUE(v4->types_filter.empty());
  auto v5 = DecodeAs<ListGroupsRequest>(ListGroupsFrame(5));
  ASSERT_TRUE(v5.has_value());
  EXPECT_EQ(v5->states_filter, (std::vector<std::string>{"Stable", " empty "}));
  EXPECT_EQ(v5->types_filter, (std::vector<std::string>{"Classic"}));
}

TEST(ListGroupsRequestTest, RefusesAFilterLongerThanTheFrame) {
  std::string frame = FlexibleFrame(ApiKey::kListGroups, 4, [](WireWriter& w) {
    w.CompactArrayCount(1000);  // 1000 strings in the 2 bytes left
    w.CompactString("x");
  });
  EXPECT_FALSE(DecodeRequest(AsBytes(frame)).has_value());
  // Cut short: the tagged fields after the filter are missing.
  frame = FlexibleFrame(ApiKey::kListGroups, 4, [](WireWriter& w) {
    w.CompactArrayCount(1);
    w.CompactString("Stable");
  });
  EXPECT_FALSE(DecodeRequest(AsBytes(frame)).has_value());
}

TEST(ApiVersionsRequestTest, DecodesV0AndV2) {
  EXPECT_TRUE(DecodeAs<ApiVersionsRequest>(ApiVersionsFrame(0)).has_value());
  EXPECT_TRUE(DecodeAs<ApiVersionsRequest>(ApiVersionsFrame(2)).has_value());
}

// Every cut of a v3 body still decodes (ApiVersions is always answered), as not well formed; so
// does a body with bytes after its end.
TEST(ApiVersionsRequestTest, AV3BodyThatDoesNotParseStillDecodes) {
  const std::string whole = ApiVersionsV3Frame();
  const size_t body_at = whole.size() - 1 - 6 - 11;  // the two compact strings, the tags
  for (size_t n = body_at; n < whole.size(); ++n) {
    auto req = DecodeAs<ApiVersionsRequest>(whole.substr(0, n));
    ASSERT_TRUE(req.has_value()) << n;
    EXPECT_FALSE(req->well_formed) << n;
  }
  auto longer = DecodeAs<ApiVersionsRequest>(whole + "x");
  ASSERT_TRUE(longer.has_value());
  EXPECT_FALSE(longer->well_formed);
}

TEST(ApiVersionsRequestTest, ClientSoftwareFieldsAsKafkaValidatesThem) {
  for (const char* ok : {"librdkafka", "2.0.2", "apache-kafka-java", "a", "9", "x-1.y"}) {
    EXPECT_TRUE(ValidClientSoftwareField(ok)) << ok;
  }
  for (const char* bad : {"", "-a", "a-", ".a", "a.", "a b", "a_b", "1.0+build", "\xc3\xa9"}) {
    EXPECT_FALSE(ValidClientSoftwareField(bad)) << bad;
  }
}

TEST(CreateTopicsRequestTest, DecodesV2ToV7) {
  for (int16_t v : {2, 4, 5, 7}) {
    SCOPED_TRACE(v);
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

TEST(AlterConfigsRequestTest, DecodesV0AndV1) {
  for (int16_t v : {0, 1}) {
    auto req = DecodeAs<AlterConfigsRequest>(AlterConfigsFrame(v));
    ASSERT_TRUE(req.has_value());
    ASSERT_EQ(req->resources.size(), 1u);
    EXPECT_EQ(req->resources[0].resource_type, 2);
    EXPECT_EQ(req->resources[0].resource_name, "orders");
    ASSERT_EQ(req->resources[0].configs.size(), 2u);
    EXPECT_EQ(req->resources[0].configs[0].name, "retention.ms");
    EXPECT_EQ(req->resources[0].configs[0].value, "60000");
    EXPECT_EQ(req->resources[0].configs[1].name, "cleanup.policy");
    EXPECT_FALSE(req->resources[0].configs[1].value.has_value());
    EXPECT_TRUE(req->validate_only);
  }
}

TEST(DeleteGroupsRequestTest, DecodesV0AndV1) {
  for (int16_t v : {0, 1}) {
    auto req = DecodeAs<DeleteGroupsRequest>(DeleteGroupsFrame(v));
    ASSERT_TRUE(req.has_value());
    EXPECT_EQ(req->groups_names, (std::vector<std::string>{"g1"}));
  }
}

TEST(AclRequestsTest, DecodeV0AndV1) {
  for (int16_t v : {0, 1}) {
    auto describe = DecodeAs<DescribeAclsRequest>(DescribeAclsFrame(v));
    ASSERT_TRUE(describe.has_value());
    const AclFilterFields& f = describe->filter;
    EXPECT_EQ(f.resource_type_filter, 2);
    EXPECT_EQ(f.resource_name_filter, "orders");
    EXPECT_EQ(f.pattern_type_filter, v >= 1 ? 4 : 3) << "v0 is LITERAL";
    EXPECT_FALSE(f.principal_filter.has_value());
    EXPECT_EQ(f.host_filter, "*");
    EXPECT_EQ(f.operation, 3);
    EXPECT_EQ(f.permission_type, 3);

    auto create = DecodeAs<CreateAclsRequest>(CreateAclsFrame(v));
    ASSERT_TRUE(create.has_value());
    ASSERT_EQ(create->creations.size(), 1u);
    const auto& c = create->creations[0];
    EXPECT_EQ(c.resource_type, 3);
    EXPECT_EQ(c.resource_name, "app-");
    EXPECT_EQ(c.resource_pattern_type, v >= 1 ? 4 : 3);
    EXPECT_EQ(c.principal, "User:alice");
    EXPECT_EQ(c.host, "10.0.0.1");
    EXPECT_EQ(c.operation, 8);
    EXPECT_EQ(c.permission_type, 2);

    auto del = DecodeAs<DeleteAclsRequest>(DeleteAclsFrame(v));
    ASSERT_TRUE(del.has_value());
    ASSERT_EQ(del->filters.size(), 2u);
    EXPECT_EQ(del->filters[1].resource_name_filter, "orders");
  }
}

// The seed corpus of tests/fuzz/request_decoder_fuzz.cc holds every frame above (and a few more),
// byte for byte. With SLUICE_WRITE_REQUEST_CORPUS=<dir> the frames are written there first (to
// regenerate the seeds after a codec change).
TEST(SeedCorpusTest, CorpusHoldsEveryFrame) {
  std::vector<FrameCase> frames = AllFrames();
  frames.push_back({"ApiVersions-v3", ApiVersionsV3Frame()});
  frames.push_back({"Produce-v7", ProduceFrame(7)});
  frames.push_back({"Fetch-v7", FetchFrame(7)});
  frames.push_back({"Metadata-v1", MetadataFrame(1)});
  frames.push_back({"OffsetCommit-v2", OffsetCommitFrame(2)});
  const char* out = std::getenv("SLUICE_WRITE_REQUEST_CORPUS");
  if (out != nullptr) {
    std::filesystem::create_directories(out);
    for (const FrameCase& c : frames)
      testing::WriteWholeFile(std::string(out) + "/" + c.name, c.frame);
  }
  const std::string dir = std::string(SLUICE_SOURCE_DIR) + "/tests/fuzz/corpus/request_decoder";
  for (const FrameCase& c : frames) {
    ASSERT_TRUE(DecodeRequest(AsBytes(c.frame)).has_value()) << c.name;
    ASSERT_TRUE(std::filesystem::exists(dir + "/" + c.name)) << "seed missing: " << c.name;
    EXPECT_EQ(testing::ReadWholeFile(dir + "/" + c.name), c.frame) << "seed differs: " << c.name;
  }
}

// --- Flexible versions (compact fields, tagged fields) and the SASL APIs -----------------------

TEST(FlexibleWireTest, VarintsAndCompactFieldsRoundTrip) {
  std::string buf;
  WireWriter w(buf);
  for (uint32_t v : {0u, 1u, 127u, 128u, 16383u, 16384u, 0xffffffffu}) w.UnsignedVarint(v);
  w.CompactString("héllo");
  w.CompactNullableString(std::nullopt);
  w.CompactBytes(base::AsBytes(std::string("\0\1", 2)));
  w.CompactArrayCount(1);
  w.EmptyTaggedFields();
  WireReader r(AsBytes(buf));
  for (uint32_t v : {0u, 1u, 127u, 128u, 16383u, 16384u, 0xffffffffu}) {
    EXPECT_EQ(r.UnsignedVarint(), v);
  }
  EXPECT_EQ(r.CompactString(), "héllo");
  EXPECT_EQ(r.CompactNullableString(), std::nullopt);
  EXPECT_EQ(base::AsString(r.CompactBytes()), std::string("\0\1", 2));
  // 1 element of at least 1 byte: the count is checked against what is left (1 byte).
  EXPECT_EQ(r.CompactArrayCount(1), 1);
  r.SkipTaggedFields();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(FlexibleWireTest, HostileLengthsCountsAndVarintsAreErrors) {
  const std::vector<std::string> bad = {
      std::string("\xff\xff\xff\xff\x7f", 5),  // a varint over 32 bits
      std::string("\x80\x80", 2),              // a varint cut short
  };
  for (const std::string& b : bad) {
    WireReader r(AsBytes(b));
    r.UnsignedVarint();
    EXPECT_FALSE(r.ok());
  }
  // (The inputs are named: a reader views its bytes, which must outlive it.)
  {
    const std::string b(
        "\x0a"
        "abc",
        4);  // a 9-byte string, 3 bytes left
    WireReader r(AsBytes(b));
    r.CompactString();
    EXPECT_FALSE(r.ok());
  }
  {
    const std::string b("\xe8\x07", 2);  // 999 elements, no bytes left
    WireReader r(AsBytes(b));
    EXPECT_EQ(r.CompactArrayCount(1), 0);
    EXPECT_FALSE(r.ok());
  }
  {
    const std::string b(
        "\x01\x05\x09"
        "ab",
        5);  // a tagged field of 9 bytes
    WireReader r(AsBytes(b));
    r.SkipTaggedFields();
    EXPECT_FALSE(r.ok());
  }
}

TEST(SaslCodecTest, AlterAndDescribeRequestsDecodeAsTheirEncodersWroteThem) {
  AlterUserScramCredentialsRequest alter;
  alter.deletions.push_back({"old", 1});
  alter.upsertions.push_back({"new", 2, 8192, "salt", std::string(64, '\x7f')});
  const std::string frame = EncodeRequestFrame(77, "cli", alter);
  ASSERT_OK_AND_ASSIGN(DecodedRequest d, DecodeRequest(AsBytes(frame)));
  EXPECT_EQ(d.header.correlation_id, 77);
  EXPECT_EQ(d.header.client_id, "cli");
  const auto& a = std::get<AlterUserScramCredentialsRequest>(d.body);
  ASSERT_EQ(a.deletions.size(), 1u);
  EXPECT_EQ(a.deletions[0].name, "old");
  ASSERT_EQ(a.upsertions.size(), 1u);
  EXPECT_EQ(a.upsertions[0].iterations, 8192);
  EXPECT_EQ(a.upsertions[0].salt, "salt");
  EXPECT_EQ(a.upsertions[0].salted_password, std::string(64, '\x7f'));

  DescribeUserScramCredentialsRequest all;
  ASSERT_OK_AND_ASSIGN(DecodedRequest d2, DecodeRequest(AsBytes(EncodeRequestFrame(1, "c", all))));
  EXPECT_FALSE(std::get<DescribeUserScramCredentialsRequest>(d2.body).users.has_value());
  // A truncated flexible request is malformed, not a crash.
  for (size_t cut = 0; cut < frame.size(); ++cut) {
    EXPECT_FALSE(DecodeRequest(AsBytes(frame.substr(0, cut))).has_value()) << cut;
  }
}

TEST(SaslCodecTest, ResponsesStartWithTheFlexibleHeaderAndDecodeBack) {
  DescribeUserScramCredentialsResponse resp;
  resp.results.push_back({"u", KafkaError::kNone, std::nullopt, {{2, 4096}}});
  OutBuffer out;
  EncodeResponse(0, resp, out);
  const std::string body = Flatten(out);
  ASSERT_FALSE(body.empty());
  EXPECT_EQ(body[0], '\0');  // response header v1: no tagged fields
  ASSERT_OK_AND_ASSIGN(auto back, DecodeDescribeUserScramCredentialsResponse(AsBytes(body)));
  ASSERT_EQ(back.results.size(), 1u);
  EXPECT_EQ(back.results[0].user, "u");
  EXPECT_EQ(back.results[0].credential_infos[0].iterations, 4096);

  SaslAuthenticateResponse auth;
  auth.error_code = KafkaError::kSaslAuthenticationFailed;
  auth.error_message = "no";
  OutBuffer a0, a1;
  EncodeResponse(0, auth, a0);
  EncodeResponse(1, auth, a1);
  EXPECT_EQ(Flatten(a1).size(), Flatten(a0).size() + 8);  // session_lifetime_ms from v1
}

TEST(ClientQuotasCodecTest, RequestsDecodeAsTheirEncodersWroteThemAtBothVersions) {
  DescribeClientQuotasRequest req;
  req.components.push_back({"user", 0, std::string("alice")});
  req.components.push_back({"client-id", 1, std::nullopt});
  req.strict = true;
  for (int16_t v : {0, 1}) {
    const std::string frame = EncodeRequestFrame(5, "tools", v, req);
    ASSERT_OK_AND_ASSIGN(DecodedRequest d, DecodeRequest(AsBytes(frame)));
    EXPECT_EQ(d.header.correlation_id, 5);
    const auto& q = std::get<DescribeClientQuotasRequest>(d.body);
    ASSERT_EQ(q.components.size(), 2u) << v;
    EXPECT_EQ(q.components[0].entity_type, "user");
    EXPECT_EQ(q.components[0].match, std::optional<std::string>("alice"));
    EXPECT_EQ(q.components[1].match_type, 1);
    EXPECT_FALSE(q.components[1].match.has_value());
    EXPECT_TRUE(q.strict);
    for (size_t cut = 0; cut < frame.size(); ++cut) {
      EXPECT_FALSE(DecodeRequest(AsBytes(frame.substr(0, cut))).has_value()) << v << " " << cut;
    }
  }
}

TEST(ClientQuotasCodecTest, ResponsesDecodeBackAtBothVersions) {
  DescribeClientQuotasResponse resp;
  resp.entries.emplace();
  resp.entries->push_back({{{"user", std::string("alice")}, {"client-id", std::nullopt}},
                           {{"producer_byte_rate", 1024.5}}});
  for (int16_t v : {0, 1}) {
    OutBuffer out;
    EncodeResponse(v, resp, out);
    const std::string body = Flatten(out);
    if (v == 1) {
      EXPECT_EQ(body[0], '\0');  // response header v1
    }
    ASSERT_OK_AND_ASSIGN(auto back, DecodeDescribeClientQuotasResponse(v, AsBytes(body)));
    ASSERT_TRUE(back.entries.has_value());
    ASSERT_EQ(back.entries->size(), 1u);
    const auto& e = (*back.entries)[0];
    ASSERT_EQ(e.entity.size(), 2u);
    EXPECT_EQ(e.entity[1].entity_type, "client-id");
    EXPECT_FALSE(e.entity[1].entity_name.has_value());
    ASSERT_EQ(e.values.size(), 1u);
    EXPECT_EQ(e.values[0].key, "producer_byte_rate");
    EXPECT_EQ(e.values[0].value, 1024.5);
  }
  DescribeClientQuotasResponse failed;
  failed.error_code = KafkaError::kInvalidRequest;
  failed.error_message = "bad";
  for (int16_t v : {0, 1}) {
    OutBuffer out;
    EncodeResponse(v, failed, out);
    ASSERT_OK_AND_ASSIGN(auto back, DecodeDescribeClientQuotasResponse(v, AsBytes(Flatten(out))));
    EXPECT_EQ(back.error_code, KafkaError::kInvalidRequest);
    EXPECT_FALSE(back.entries.has_value());  // null with an error
  }
}

}  // namespace
}  // namespace sluice::net::codec_test
