// The Kafka response encoders (net/messages.h): encoded bodies compared with bytes built by hand
// with WireWriter in the order of Apache Kafka's message specs, plus a few literal byte strings so
// a WireWriter bug cannot hide.

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

#include "net/kafka_errors.h"
#include "net/messages.h"
#include "net/out_buffer.h"
#include "net/wire.h"
#include "tests/net/codec_test_util.h"
#include "tests/support/test_util.h"

namespace sluice::net::codec_test {
namespace {

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

// v3+: compact array, a tagged-field section per entry and at the end, and no tagged fields
// before the body (the response header of ApiVersions is v0 at every version).
TEST(ApiVersionsResponseTest, EncodesV3AndV4Flexible) {
  ApiVersionsResponse resp;
  resp.api_keys = {{0, 0, 8}, {18, 0, 4}};
  resp.throttle_time_ms = 0x10;
  for (int16_t v : {3, 4}) {
    EXPECT_EQ(Hex(Encode(v, resp)), H("0000 03 00000000000800 00120000000400 00000010 00")) << v;
  }
  ApiVersionsResponse invalid;
  invalid.error_code = KafkaError::kInvalidRequest;
  EXPECT_EQ(Hex(Encode(3, invalid)), H("002a 01 00000000 00"));
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
  EXPECT_EQ(body.size(), 2u + 4u + 6u * 35u);
  EXPECT_NE(Hex(body).find("001200000004"), std::string::npos);  // ApiVersions 0-4
  EXPECT_EQ(Hex(body).substr(0, 20), H("0023 00000023 0000 0000"));
}

TEST(SupportedApisTest, TableMatchesTheAdvertisedRanges) {
  const std::vector<ApiVersionsResponse::ApiVersion> keys = SupportedApiVersions();
  ASSERT_EQ(keys.size(), 35u);
  auto range = [&](int16_t key) {
    for (const auto& k : keys) {
      if (k.api_key == key) return std::pair<int, int>(k.min_version, k.max_version);
    }
    return std::pair<int, int>(-100, -100);
  };
  EXPECT_EQ(range(0), std::make_pair(0, 8));
  EXPECT_EQ(range(1), std::make_pair(4, 11));
  EXPECT_EQ(range(2), std::make_pair(1, 7));  // v6+ flexible, v7: max timestamp
  EXPECT_EQ(range(3), std::make_pair(0, 8));
  EXPECT_EQ(range(8), std::make_pair(0, 7));
  EXPECT_EQ(range(9), std::make_pair(1, 5));
  EXPECT_EQ(range(10), std::make_pair(0, 2));
  EXPECT_EQ(range(11), std::make_pair(0, 5));
  EXPECT_EQ(range(12), std::make_pair(0, 3));
  EXPECT_EQ(range(13), std::make_pair(0, 3));
  EXPECT_EQ(range(14), std::make_pair(0, 3));
  EXPECT_EQ(range(15), std::make_pair(0, 4));
  EXPECT_EQ(range(16), std::make_pair(0, 5));
  EXPECT_EQ(range(18), std::make_pair(0, 4));  // v3-4 flexible
  EXPECT_EQ(range(19), std::make_pair(2, 7));
  EXPECT_EQ(range(33), std::make_pair(0, 1));
  EXPECT_EQ(range(20), std::make_pair(1, 3));
  EXPECT_EQ(range(22), std::make_pair(0, 1));
  EXPECT_EQ(range(32), std::make_pair(1, 3));
  EXPECT_EQ(range(42), std::make_pair(0, 1));
  EXPECT_EQ(range(29), std::make_pair(0, 1));  // DescribeAcls
  EXPECT_EQ(range(30), std::make_pair(0, 1));  // CreateAcls
  EXPECT_EQ(range(31), std::make_pair(0, 1));  // DeleteAcls
  EXPECT_EQ(range(17), std::make_pair(0, 1));  // SaslHandshake (v0 answered UNSUPPORTED_VERSION)
  EXPECT_EQ(range(36), std::make_pair(0, 1));  // SaslAuthenticate
  EXPECT_EQ(range(48), std::make_pair(0, 1));  // DescribeClientQuotas (v1 flexible)
  EXPECT_EQ(range(50), std::make_pair(0, 0));  // DescribeUserScramCredentials (flexible)
  EXPECT_EQ(range(51), std::make_pair(0, 0));  // AlterUserScramCredentials (flexible)
  EXPECT_EQ(range(21), std::make_pair(0, 2));  // DeleteRecords (v2 flexible)
  EXPECT_EQ(range(35), std::make_pair(0, 4));  // DescribeLogDirs (v2+ flexible)
  EXPECT_EQ(range(37), std::make_pair(0, 3));  // CreatePartitions (v2+ flexible)
  EXPECT_EQ(range(44), std::make_pair(0, 1));  // IncrementalAlterConfigs (v1 flexible)
  EXPECT_EQ(range(47), std::make_pair(0, 0));  // OffsetDelete
  EXPECT_EQ(range(60), std::make_pair(0, 1));  // DescribeCluster (flexible)
  EXPECT_EQ(range(61), std::make_pair(0, 0));  // DescribeProducers (flexible)
  EXPECT_EQ(range(23), std::make_pair(-100, -100));  // no OffsetForLeaderEpoch
  EXPECT_TRUE(IsSupportedVersion(0, 0));
  EXPECT_FALSE(IsSupportedVersion(1, 3));
  EXPECT_TRUE(IsSupportedVersion(18, 4));
  EXPECT_FALSE(IsSupportedVersion(18, 5));
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
  list.groups = {{"g", "consumer", "Stable", "classic"}};
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

TEST(AdminResponsesTest, EncodeAlterConfigs) {
  AlterConfigsResponse resp;
  resp.responses = {{KafkaError::kInvalidConfig, "bad", 2, "t"}};
  const std::string expected = Hex(Expected([](WireWriter& w) {
    w.Int32(0);  // throttle_time_ms
    w.ArrayCount(1);
    w.Int16(40);
    w.NullableString("bad");
    w.Int8(2);
    w.String("t");
  }));
  EXPECT_EQ(Hex(Encode(0, resp)), expected);
  EXPECT_EQ(Hex(Encode(1, resp)), expected);
}

TEST(AdminResponsesTest, EncodeCreateTopicsDeleteTopicsInitProducerId) {
  CreateTopicsResponse create;
  CreateTopicsResponse::Topic exists;
  exists.name = "t";
  exists.error_code = KafkaError::kTopicAlreadyExists;
  exists.error_message = "exists";
  create.topics = {exists};
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

TEST(AclResponsesTest, EncodeV0AndV1) {
  DescribeAclsResponse describe;
  describe.error_code = KafkaError::kSecurityDisabled;
  describe.error_message = "no";
  describe.resources.push_back({2, "t", 4, {{"User:a", "*", 3, 3}}});
  for (int16_t v : {0, 1}) {
    EXPECT_EQ(Hex(Encode(v, describe)), Hex(Expected([v](WireWriter& w) {
                w.Int32(0);
                w.Int16(54);
                w.NullableString(std::string("no"));
                w.ArrayCount(1);
                w.Int8(2);
                w.String("t");
                if (v >= 1) w.Int8(4);
                w.ArrayCount(1);
                w.String("User:a");
                w.String("*");
                w.Int8(3);
                w.Int8(3);
              })));
  }
  CreateAclsResponse create;
  create.results = {{KafkaError::kNone, std::nullopt}, {KafkaError::kInvalidRequest, "bad"}};
  EXPECT_EQ(Hex(Encode(1, create)), Hex(Expected([](WireWriter& w) {
              w.Int32(0);
              w.ArrayCount(2);
              w.Int16(0);
              w.NullableString(std::nullopt);
              w.Int16(42);
              w.NullableString(std::string("bad"));
            })));
  DeleteAclsResponse del;
  DeleteAclsResponse::MatchingAcl m;
  m.resource_type = 3;
  m.resource_name = "g";
  m.pattern_type = 3;
  m.principal = "User:b";
  m.host = "1.2.3.4";
  m.operation = 2;
  m.permission_type = 2;
  del.filter_results.push_back({KafkaError::kNone, std::nullopt, {m}});
  for (int16_t v : {0, 1}) {
    EXPECT_EQ(Hex(Encode(v, del)), Hex(Expected([v](WireWriter& w) {
                w.Int32(0);
                w.ArrayCount(1);
                w.Int16(0);
                w.NullableString(std::nullopt);
                w.ArrayCount(1);
                w.Int16(0);
                w.NullableString(std::nullopt);
                w.Int8(3);
                w.String("g");
                if (v >= 1) w.Int8(3);
                w.String("User:b");
                w.String("1.2.3.4");
                w.Int8(2);
                w.Int8(2);
              })));
  }
}

}  // namespace
}  // namespace sluice::net::codec_test
