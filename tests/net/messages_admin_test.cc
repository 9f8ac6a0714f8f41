// The codec of the admin APIs of issue 13 (IncrementalAlterConfigs, CreatePartitions,
// DeleteRecords, OffsetDelete, DescribeCluster, DescribeLogDirs, DescribeProducers) and of
// ListOffsets v6-7, ListGroups v3-5 and CreateTopics v5-7: requests decode field by field at their
// lowest and highest versions (frames written by hand in the order of Kafka's message specs,
// codec_test_util.h), and responses encode to exactly the bytes those specs give (expected bytes
// written field by field).

#include <gtest/gtest.h>

#include "tests/net/codec_test_util.h"

namespace sluice::net::codec_test {
namespace {

// The bytes `write` produces.
std::string WireBytes(const std::function<void(FlexWriter&)>& write, bool flexible) {
  std::string out;
  WireWriter w(out);
  FlexWriter f{w, flexible};
  write(f);
  return out;
}

template <typename Response>
std::string Encoded(int16_t v, const Response& resp) {
  OutBuffer out;
  EncodeResponse(v, resp, out);
  return Flatten(out);
}

TEST(AdminCodecTest, ListOffsetsV7IsFlexibleAndCarriesMaxTimestamp) {
  RequestHeader h;
  auto req = DecodeAs<ListOffsetsRequest>(ListOffsetsFrame(7), &h);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(h.correlation_id, kCorrelationId);
  EXPECT_EQ(h.client_id, std::optional<std::string>("client-1"));
  ASSERT_EQ(req->topics.size(), 1u);
  EXPECT_EQ(req->topics[0].name, "orders");
  ASSERT_EQ(req->topics[0].partitions.size(), 2u);
  EXPECT_EQ(req->topics[0].partitions[0].timestamp, -3);
  EXPECT_EQ(req->topics[0].partitions[0].current_leader_epoch, 3);
  EXPECT_EQ(req->topics[0].partitions[1].timestamp, 1700000000000);

  ListOffsetsResponse resp;
  resp.topics.push_back({"orders", {{0, KafkaError::kNone, {}, 5004, 9, -1}}});
  for (int16_t v : {5, 6, 7}) {
    const bool flexible = v >= 6;
    const std::string want = WireBytes(
        [&](FlexWriter& f) {
          f.Tags();  // response header v1
          f.w.Int32(0);
          f.Count(1);
          f.Str("orders");
          f.Count(1);
          f.w.Int32(0);
          f.w.Int16(0);
          f.w.Int64(5004);
          f.w.Int64(9);
          f.w.Int32(-1);
          f.Tags();
          f.Tags();
          f.Tags();
        },
        flexible);
    EXPECT_EQ(Encoded(v, resp), want) << v;
  }
}

TEST(AdminCodecTest, DeleteRecordsRoundTripsAtEveryVersion) {
  for (int16_t v : {0, 1, 2}) {
    auto req = DecodeAs<DeleteRecordsRequest>(DeleteRecordsFrame(v));
    ASSERT_TRUE(req.has_value()) << v;
    ASSERT_EQ(req->topics.size(), 1u);
    EXPECT_EQ(req->topics[0].name, "orders");
    ASSERT_EQ(req->topics[0].partitions.size(), 2u);
    EXPECT_EQ(req->topics[0].partitions[0].offset, 42);
    EXPECT_EQ(req->topics[0].partitions[1].partition_index, 1);
    EXPECT_EQ(req->topics[0].partitions[1].offset, -1);
    EXPECT_EQ(req->timeout_ms, 30000);

    DeleteRecordsResponse resp;
    resp.topics.push_back(
        {"orders", {{0, 42, KafkaError::kNone}, {1, -1, KafkaError::kOffsetOutOfRange}}});
    const std::string want = WireBytes(
        [&](FlexWriter& f) {
          f.Tags();
          f.w.Int32(0);
          f.Count(1);
          f.Str("orders");
          f.Count(2);
          f.w.Int32(0);
          f.w.Int64(42);
          f.w.Int16(0);
          f.Tags();
          f.w.Int32(1);
          f.w.Int64(-1);
          f.w.Int16(1);
          f.Tags();
          f.Tags();
          f.Tags();
        },
        v >= 2);
    EXPECT_EQ(Encoded(v, resp), want) << v;
  }
}

TEST(AdminCodecTest, DescribeLogDirsNullTopicsAndV4Volumes) {
  auto all = DecodeAs<DescribeLogDirsRequest>(DescribeLogDirsFrame(0));
  ASSERT_TRUE(all.has_value());
  EXPECT_FALSE(all->topics.has_value());
  auto some = DecodeAs<DescribeLogDirsRequest>(DescribeLogDirsFrame(4));
  ASSERT_TRUE(some.has_value());
  ASSERT_TRUE(some->topics.has_value());
  ASSERT_EQ(some->topics->size(), 1u);
  EXPECT_EQ((*some->topics)[0].topic, "orders");
  EXPECT_EQ((*some->topics)[0].partitions, (std::vector<int32_t>{0, 3}));

  DescribeLogDirsResponse resp;
  DescribeLogDirsResponse::Result dir;
  dir.log_dir = "/data";
  dir.topics.push_back({"orders", {{0, 1234, 0, false}}});
  dir.total_bytes = 1000000;
  dir.usable_bytes = 500000;
  resp.results.push_back(dir);
  for (int16_t v : {0, 1, 2, 3, 4}) {
    const std::string want = WireBytes(
        [&](FlexWriter& f) {
          f.Tags();
          f.w.Int32(0);
          if (v >= 3) f.w.Int16(0);
          f.Count(1);
          f.w.Int16(0);
          f.Str("/data");
          f.Count(1);
          f.Str("orders");
          f.Count(1);
          f.w.Int32(0);
          f.w.Int64(1234);
          f.w.Int64(0);
          f.w.Bool(false);
          f.Tags();
          f.Tags();
          if (v >= 4) {
            f.w.Int64(1000000);
            f.w.Int64(500000);
          }
          f.Tags();
          f.Tags();
        },
        v >= 2);
    EXPECT_EQ(Encoded(v, resp), want) << v;
  }
}

TEST(AdminCodecTest, CreatePartitionsAssignmentsAndValidateOnly) {
  for (int16_t v : {0, 1, 2, 3}) {
    auto req = DecodeAs<CreatePartitionsRequest>(CreatePartitionsFrame(v));
    ASSERT_TRUE(req.has_value()) << v;
    ASSERT_EQ(req->topics.size(), 2u);
    EXPECT_EQ(req->topics[0].name, "orders");
    EXPECT_EQ(req->topics[0].count, 4);
    EXPECT_FALSE(req->topics[0].assignments.has_value());
    ASSERT_TRUE(req->topics[1].assignments.has_value());
    EXPECT_EQ(*req->topics[1].assignments, (std::vector<std::vector<int32_t>>{{1}}));
    EXPECT_EQ(req->validate_only, v >= 1);

    CreatePartitionsResponse resp;
    resp.results.push_back({"orders", KafkaError::kNone, std::nullopt});
    resp.results.push_back({"events", KafkaError::kInvalidPartitions,
                            std::string("Topic already has 3 partition(s).")});
    const std::string want = WireBytes(
        [&](FlexWriter& f) {
          f.Tags();
          f.w.Int32(0);
          f.Count(2);
          f.Str("orders");
          f.w.Int16(0);
          f.NullableStr(std::nullopt);
          f.Tags();
          f.Str("events");
          f.w.Int16(37);
          f.NullableStr(std::string("Topic already has 3 partition(s)."));
          f.Tags();
          f.Tags();
        },
        v >= 2);
    EXPECT_EQ(Encoded(v, resp), want) << v;
  }
}

TEST(AdminCodecTest, IncrementalAlterConfigsOperations) {
  for (int16_t v : {0, 1}) {
    auto req = DecodeAs<IncrementalAlterConfigsRequest>(IncrementalAlterConfigsFrame(v));
    ASSERT_TRUE(req.has_value()) << v;
    ASSERT_EQ(req->resources.size(), 1u);
    EXPECT_EQ(req->resources[0].resource_type, 2);
    EXPECT_EQ(req->resources[0].resource_name, "orders");
    ASSERT_EQ(req->resources[0].configs.size(), 2u);
    EXPECT_EQ(req->resources[0].configs[0].name, "retention.ms");
    EXPECT_EQ(req->resources[0].configs[0].config_operation, 0);
    EXPECT_EQ(req->resources[0].configs[0].value, std::optional<std::string>("1000"));
    EXPECT_EQ(req->resources[0].configs[1].config_operation, 1);
    EXPECT_FALSE(req->resources[0].configs[1].value.has_value());
    EXPECT_TRUE(req->validate_only);

    IncrementalAlterConfigsResponse resp;
    resp.responses.push_back(
        {KafkaError::kInvalidConfig, std::string("Unknown topic config name: x"), 2, "orders"});
    const std::string want = WireBytes(
        [&](FlexWriter& f) {
          f.Tags();
          f.w.Int32(0);
          f.Count(1);
          f.w.Int16(40);
          f.NullableStr(std::string("Unknown topic config name: x"));
          f.w.Int8(2);
          f.Str("orders");
          f.Tags();
          f.Tags();
        },
        v >= 1);
    EXPECT_EQ(Encoded(v, resp), want) << v;
  }
}

TEST(AdminCodecTest, OffsetDelete) {
  auto req = DecodeAs<OffsetDeleteRequest>(OffsetDeleteFrame(0));
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->group_id, "g1");
  ASSERT_EQ(req->topics.size(), 1u);
  EXPECT_EQ(req->topics[0].partitions, (std::vector<int32_t>{0, 5}));

  OffsetDeleteResponse resp;
  resp.topics.push_back({"orders", {{0, KafkaError::kGroupSubscribedToTopic}}});
  const std::string want = WireBytes(
      [&](FlexWriter& f) {
        f.w.Int16(0);
        f.w.Int32(0);
        f.Count(1);
        f.Str("orders");
        f.Count(1);
        f.w.Int32(0);
        f.w.Int16(86);
      },
      false);
  EXPECT_EQ(Encoded(0, resp), want);
}

TEST(AdminCodecTest, DescribeCluster) {
  for (int16_t v : {0, 1}) {
    auto req = DecodeAs<DescribeClusterRequest>(DescribeClusterFrame(v));
    ASSERT_TRUE(req.has_value()) << v;
    EXPECT_TRUE(req->include_cluster_authorized_operations);
    EXPECT_EQ(req->endpoint_type, 1);

    DescribeClusterResponse resp;
    resp.cluster_id = "abc";
    resp.controller_id = 1;
    resp.brokers.push_back({1, "127.0.0.1", 9092, std::nullopt});
    const std::string want = WireBytes(
        [&](FlexWriter& f) {
          f.Tags();
          f.w.Int32(0);
          f.w.Int16(0);
          f.NullableStr(std::nullopt);
          if (v >= 1) f.w.Int8(1);
          f.Str("abc");
          f.w.Int32(1);
          f.Count(1);
          f.w.Int32(1);
          f.Str("127.0.0.1");
          f.w.Int32(9092);
          f.NullableStr(std::nullopt);
          f.Tags();
          f.w.Int32(std::numeric_limits<int32_t>::min());
          f.Tags();
        },
        true);
    EXPECT_EQ(Encoded(v, resp), want) << v;
  }
}

TEST(AdminCodecTest, DescribeProducers) {
  auto req = DecodeAs<DescribeProducersRequest>(DescribeProducersFrame(0));
  ASSERT_TRUE(req.has_value());
  ASSERT_EQ(req->topics.size(), 1u);
  EXPECT_EQ(req->topics[0].partition_indexes, (std::vector<int32_t>{0, 2}));

  DescribeProducersResponse resp;
  DescribeProducersResponse::Partition p;
  p.partition_index = 0;
  p.active_producers.push_back({7, 1, 41, 1700000000000, -1, -1});
  resp.topics.push_back({"orders", {p}});
  const std::string want = WireBytes(
      [&](FlexWriter& f) {
        f.Tags();
        f.w.Int32(0);
        f.Count(1);
        f.Str("orders");
        f.Count(1);
        f.w.Int32(0);
        f.w.Int16(0);
        f.NullableStr(std::nullopt);
        f.Count(1);
        f.w.Int64(7);
        f.w.Int32(1);
        f.w.Int32(41);
        f.w.Int64(1700000000000);
        f.w.Int32(-1);
        f.w.Int64(-1);
        f.Tags();
        f.Tags();
        f.Tags();
        f.Tags();
      },
      true);
  EXPECT_EQ(Encoded(0, resp), want);
}

TEST(AdminCodecTest, ListGroupsStateAndTypeFromV4AndV5) {
  ListGroupsResponse resp;
  resp.groups.push_back({"g", "consumer", "Stable", "classic"});
  for (int16_t v : {2, 3, 4, 5}) {
    const bool flexible = v >= 3;
    const std::string want = WireBytes(
        [&](FlexWriter& f) {
          f.Tags();  // response header v1
          f.w.Int32(0);
          f.w.Int16(0);
          f.Count(1);
          f.Str("g");
          f.Str("consumer");
          if (v >= 4) f.Str("Stable");
          if (v >= 5) f.Str("classic");
          f.Tags();
          f.Tags();
        },
        flexible);
    EXPECT_EQ(Encoded(v, resp), want) << v;
  }
}

TEST(AdminCodecTest, CreateTopicsConfigsFromV5AndTopicIdFromV7) {
  CreateTopicsResponse resp;
  CreateTopicsResponse::Topic created;
  created.name = "t";
  for (size_t i = 0; i < created.topic_id.size(); ++i) {
    created.topic_id[i] = static_cast<uint8_t>(0xf0 + i);
  }
  created.num_partitions = 3;
  created.replication_factor = 1;
  created.configs = std::vector<CreateTopicsResponse::Config>{
      {"cleanup.policy", std::string("delete"), false, 5, false},
      {"retention.ms", std::string("1000"), false, 1, false}};
  CreateTopicsResponse::Topic hidden;  // no DESCRIBE_CONFIGS: a tagged error, null configs
  hidden.name = "h";
  hidden.topic_config_error_code = KafkaError::kTopicAuthorizationFailed;
  hidden.configs = std::nullopt;
  CreateTopicsResponse::Topic failed;
  failed.name = "f";
  failed.error_code = KafkaError::kTopicAlreadyExists;
  failed.error_message = "exists";
  resp.topics = {created, hidden, failed};
  for (int16_t v : {4, 5, 6, 7}) {
    const bool flexible = v >= 5;
    const std::string want = WireBytes(
        [&](FlexWriter& f) {
          WireWriter& w = f.w;
          f.Tags();  // response header v1
          w.Int32(0);
          f.Count(3);
          f.Str("t");
          if (v >= 7) {
            for (int i = 0; i < 16; ++i) w.Int8(static_cast<int8_t>(0xf0 + i));
          }
          w.Int16(0);
          f.NullableStr(std::nullopt);
          if (flexible) {
            w.Int32(3);
            w.Int16(1);
            f.Count(2);
            f.Str("cleanup.policy");
            f.NullableStr(std::string("delete"));
            w.Bool(false);
            w.Int8(5);
            w.Bool(false);
            f.Tags();
            f.Str("retention.ms");
            f.NullableStr(std::string("1000"));
            w.Bool(false);
            w.Int8(1);
            w.Bool(false);
            f.Tags();
            f.Tags();
          }
          f.Str("h");
          if (v >= 7) {
            for (int i = 0; i < 16; ++i) w.Int8(0);
          }
          w.Int16(0);
          f.NullableStr(std::nullopt);
          if (flexible) {
            w.Int32(-1);
            w.Int16(-1);
            f.NullCount();
            w.UnsignedVarint(1);  // one tagged field: tag 0, 2 bytes, TOPIC_AUTHORIZATION_FAILED
            w.UnsignedVarint(0);
            w.UnsignedVarint(2);
            w.Int16(29);
          }
          f.Str("f");
          if (v >= 7) {
            for (int i = 0; i < 16; ++i) w.Int8(0);
          }
          w.Int16(36);
          f.NullableStr(std::string("exists"));
          if (flexible) {
            w.Int32(-1);
            w.Int16(-1);
            f.Count(0);
            f.Tags();
          }
          f.Tags();
        },
        flexible);
    EXPECT_EQ(Encoded(v, resp), want) << v;
  }
}

TEST(AdminCodecTest, FlexibleHeadersOfTheNewVersions) {
  EXPECT_TRUE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kListGroups), 3));
  EXPECT_FALSE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kListGroups), 2));
  EXPECT_TRUE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kCreateTopics), 5));
  EXPECT_FALSE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kCreateTopics), 4));
  EXPECT_TRUE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kListOffsets), 6));
  EXPECT_FALSE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kListOffsets), 5));
  EXPECT_TRUE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kCreatePartitions), 2));
  EXPECT_FALSE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kCreatePartitions), 1));
  EXPECT_TRUE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kIncrementalAlterConfigs), 1));
  EXPECT_FALSE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kOffsetDelete), 0));
  EXPECT_TRUE(IsFlexibleVersion(static_cast<int16_t>(ApiKey::kDescribeCluster), 0));
  // A flexible request sent with a classic header (no tagged fields) is malformed, not misread.
  const std::string classic = Frame(ApiKey::kDescribeCluster, 0, [](WireWriter& w) {
    w.Bool(false);
    w.EmptyTaggedFields();
  });
  EXPECT_FALSE(DecodeRequest(AsBytes(classic)).has_value());
}

}  // namespace
}  // namespace sluice::net::codec_test
