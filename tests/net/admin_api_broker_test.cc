// The admin APIs of issue 13 against a real broker on 127.0.0.1, with hand-made requests:
// IncrementalAlterConfigs' operations (SET, DELETE, APPEND, SUBTRACT) and its refusals,
// CreatePartitions' refusals, DeleteRecords followed by ListOffsets (earliest and max timestamp),
// OffsetDelete of an unknown group, and ApiVersions v3-v4 (flexible, what librdkafka and Java
// clients send first) with its refusals and the KIP-511 fallback above v4. (Kafka's own tools run
// against it in tests/clients/test_kafka_admin_tools.py.)

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "net/broker.h"
#include "net/kafka_errors.h"
#include "net/messages.h"
#include "net/wire.h"
#include "segment/io/posix_fs.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/test_util.h"

namespace sluice::net {
namespace {

using base::AsBytes;

class AdminApiBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BrokerOptions options;
    for (Listener& l : options.server.listeners) l.port = 0;
    options.server.event_loops = 1;
    options.server.worker_threads = 2;
    auto broker = Broker::Start(testing::TestEngineOptions(dir_.path(), &fs_), options);
    ASSERT_TRUE(broker.has_value()) << broker.error().ToString();
    broker_ = std::move(*broker);
    ASSERT_OK(broker_->engine().CreateTopic("t", 1, {}));
    socket_.emplace(broker_->port());
    ASSERT_TRUE(socket_->ok());
  }
  void TearDown() override {
    socket_.reset();
    if (broker_) {
      EXPECT_TRUE(broker_->Stop().has_value());
    }
  }

  // Sends a flexible request (header v2) and returns the response body after the correlation id
  // and the response header's tagged fields.
  std::string Call(ApiKey key, int16_t v, bool flexible,
                   const std::function<void(WireWriter&)>& body) {
    std::string f;
    WireWriter w(f);
    w.Int16(static_cast<int16_t>(key));
    w.Int16(v);
    w.Int32(++correlation_id_);
    w.String("admin-test");
    if (flexible) w.EmptyTaggedFields();
    body(w);
    EXPECT_TRUE(socket_->SendFrame(f));
    std::optional<std::string> resp = socket_->ReadFrame();
    EXPECT_TRUE(resp.has_value());
    if (!resp) return {};
    WireReader r(AsBytes(*resp));
    EXPECT_EQ(r.Int32(), correlation_id_);
    if (flexible) r.SkipTaggedFields();
    return std::string(base::AsString(r.rest()));
  }

  struct ConfigOp {
    std::string name;
    int8_t op;
    std::optional<std::string> value;
  };
  // IncrementalAlterConfigs v1 on topic `topic`: the error code and message.
  std::pair<int16_t, std::optional<std::string>> Alter(const std::string& topic,
                                                       const std::vector<ConfigOp>& ops,
                                                       bool validate_only = false) {
    const std::string body = Call(ApiKey::kIncrementalAlterConfigs, 1, true, [&](WireWriter& w) {
      w.CompactArrayCount(1);
      w.Int8(2);
      w.CompactString(topic);
      w.CompactArrayCount(ops.size());
      for (const ConfigOp& o : ops) {
        w.CompactString(o.name);
        w.Int8(o.op);
        w.CompactNullableString(o.value);
        w.EmptyTaggedFields();
      }
      w.EmptyTaggedFields();
      w.Bool(validate_only);
      w.EmptyTaggedFields();
    });
    WireReader r(AsBytes(body));
    r.Int32();  // throttle
    EXPECT_EQ(r.CompactArrayCount(), 1);
    const int16_t code = r.Int16();
    std::optional<std::string> message = r.CompactNullableString();
    EXPECT_TRUE(r.ok());
    return {code, message};
  }
  std::string Config(const std::string& key) {
    auto config = broker_->engine().GetTopicConfig("t");
    EXPECT_TRUE(config.has_value());
    return engine::ConfigToMap(*config).at(key);
  }
  bool Overridden(const std::string& key) {
    return broker_->engine().GetTopicConfig("t")->overrides.count(key) != 0;
  }
  // ListOffsets v7 for partition 0 of t at `timestamp`: (error, timestamp, offset).
  std::tuple<int16_t, int64_t, int64_t> ListOffset(int64_t timestamp) {
    const std::string body = Call(ApiKey::kListOffsets, 7, true, [&](WireWriter& w) {
      w.Int32(-1);
      w.Int8(0);
      w.CompactArrayCount(1);
      w.CompactString("t");
      w.CompactArrayCount(1);
      w.Int32(0);
      w.Int32(-1);
      w.Int64(timestamp);
      w.EmptyTaggedFields();
      w.EmptyTaggedFields();
      w.EmptyTaggedFields();
    });
    WireReader r(AsBytes(body));
    r.Int32();
    r.CompactArrayCount();
    r.CompactString();
    r.CompactArrayCount();
    r.Int32();
    const int16_t code = r.Int16();
    const int64_t ts = r.Int64();
    const int64_t offset = r.Int64();
    EXPECT_TRUE(r.ok());
    return {code, ts, offset};
  }

  testing::TempDir dir_;
  io::PosixFs fs_;
  std::unique_ptr<Broker> broker_;
  std::optional<testing::LoopbackSocket> socket_;
  int32_t correlation_id_ = 0;
};

TEST_F(AdminApiBrokerTest, IncrementalAlterConfigsOperations) {
  constexpr int8_t kSet = 0, kDelete = 1, kAppend = 2, kSubtract = 3;
  const std::string list = "leader.replication.throttled.replicas";
  EXPECT_EQ(Alter("t", {{"retention.ms", kSet, "1000"}, {list, kAppend, "0:1"}}).first, 0);
  EXPECT_EQ(Config("retention.ms"), "1000");
  EXPECT_EQ(Config(list), "0:1");
  EXPECT_EQ(Alter("t", {{list, kAppend, "1:1,0:1"}}).first, 0);  // no duplicates
  EXPECT_EQ(Config(list), "0:1,1:1");
  EXPECT_EQ(Alter("t", {{list, kSubtract, "0:1"}}).first, 0);
  EXPECT_EQ(Config(list), "1:1");
  EXPECT_EQ(Config("retention.ms"), "1000");  // untouched keys keep their values
  EXPECT_EQ(Alter("t", {{"retention.ms", kDelete, std::nullopt}}).first, 0);
  EXPECT_FALSE(Overridden("retention.ms"));
  EXPECT_EQ(Config("retention.ms"), "604800000");
  EXPECT_TRUE(Overridden(list));

  // validate_only changes nothing; every refusal changes nothing either (all or none).
  EXPECT_EQ(Alter("t", {{"retention.ms", kSet, "5"}}, true).first, 0);
  EXPECT_EQ(Config("retention.ms"), "604800000");
  auto unknown = Alter("t", {{"retention.ms", kSet, "5"}, {"no.such.key", kSet, "1"}});
  EXPECT_EQ(unknown.first, 40);  // INVALID_CONFIG
  EXPECT_EQ(unknown.second, std::optional<std::string>("Unknown topic config name: no.such.key"));
  EXPECT_EQ(Config("retention.ms"), "604800000");
  auto append = Alter("t", {{"retention.ms", kAppend, "5"}});
  EXPECT_EQ(append.first, 40);
  EXPECT_EQ(append.second, std::optional<std::string>(
                               "Config value append is not allowed for config key: retention.ms"));
  EXPECT_EQ(Alter("t", {{"retention.ms", kSet, "-5"}}).first, 40);  // a bad value
  EXPECT_EQ(
      Alter("t", {{"retention.ms", kSet, "1"}, {"retention.ms", kDelete, std::nullopt}}).first,
      42);  // INVALID_REQUEST: a key twice
  EXPECT_EQ(Alter("t", {{"retention.ms", 7, "1"}}).first, 42);
  EXPECT_EQ(Alter("nope", {{"retention.ms", kSet, "1"}}).first, 3);
  EXPECT_EQ(Alter("__consumer_offsets", {{"retention.ms", kSet, "1"}}).first, 17);
  EXPECT_EQ(Config("retention.ms"), "604800000");
}

TEST_F(AdminApiBrokerTest, CreatePartitionsRefusals) {
  auto create = [&](const std::string& topic, int32_t count,
                    std::optional<std::vector<int32_t>> assignment) {
    const std::string body = Call(ApiKey::kCreatePartitions, 3, true, [&](WireWriter& w) {
      w.CompactArrayCount(1);
      w.CompactString(topic);
      w.Int32(count);
      if (assignment) {
        w.CompactArrayCount(1);
        w.CompactArrayCount(assignment->size());
        for (int32_t b : *assignment) w.Int32(b);
        w.EmptyTaggedFields();
      } else {
        w.UnsignedVarint(0);  // null
      }
      w.EmptyTaggedFields();
      w.Int32(1000);
      w.Bool(false);
      w.EmptyTaggedFields();
    });
    WireReader r(AsBytes(body));
    r.Int32();
    r.CompactArrayCount();
    EXPECT_EQ(r.CompactString(), topic);
    const int16_t code = r.Int16();
    const std::optional<std::string> message = r.CompactNullableString();
    return std::make_pair(code, message.value_or(""));
  };
  EXPECT_EQ(create("t", 1, std::nullopt),
            std::make_pair(int16_t{37}, std::string("Topic already has 1 partition(s).")));
  EXPECT_EQ(create("t", 2, std::vector<int32_t>{7}).first, 39);  // INVALID_REPLICA_ASSIGNMENT
  EXPECT_EQ(create("nope", 2, std::nullopt).first, 3);
  EXPECT_EQ(create("__consumer_offsets", 2, std::nullopt).first, 3);
  EXPECT_EQ(create("t", 2, std::vector<int32_t>{0}).first, 0);  // --node-id 0, the default
  EXPECT_EQ(broker_->engine().DescribeTopic("t")->info.partitions, 2);
}

TEST_F(AdminApiBrokerTest, DeleteRecordsThenListOffsets) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(broker_->engine().Append("t", 0, AsBytes(testing::MakeBatch(5, "b", 1000 + i * 10))));
  }
  EXPECT_EQ(ListOffset(-3), std::make_tuple(int16_t{0}, int64_t{1034}, int64_t{19}));
  auto del = [&](int64_t offset) {
    const std::string body = Call(ApiKey::kDeleteRecords, 2, true, [&](WireWriter& w) {
      w.CompactArrayCount(1);
      w.CompactString("t");
      w.CompactArrayCount(1);
      w.Int32(0);
      w.Int64(offset);
      w.EmptyTaggedFields();
      w.EmptyTaggedFields();
      w.Int32(1000);
      w.EmptyTaggedFields();
    });
    WireReader r(AsBytes(body));
    r.Int32();
    r.CompactArrayCount();
    r.CompactString();
    r.CompactArrayCount();
    r.Int32();
    const int64_t low = r.Int64();
    const int16_t code = r.Int16();
    return std::make_pair(code, low);
  };
  EXPECT_EQ(del(12), std::make_pair(int16_t{0}, int64_t{12}));
  EXPECT_EQ(ListOffset(-2), std::make_tuple(int16_t{0}, int64_t{-1}, int64_t{12}));
  EXPECT_EQ(del(5), std::make_pair(int16_t{0}, int64_t{12}));  // below: nothing changes
  EXPECT_EQ(del(21).first, 1);                                 // past the HW
  EXPECT_EQ(del(-2).first, 1);
  EXPECT_EQ(del(-1), std::make_pair(int16_t{0}, int64_t{20}));  // the high watermark
  EXPECT_EQ(ListOffset(-2), std::make_tuple(int16_t{0}, int64_t{-1}, int64_t{20}));
  EXPECT_EQ(ListOffset(-3), std::make_tuple(int16_t{0}, int64_t{-1}, int64_t{-1}));  // empty
}

TEST_F(AdminApiBrokerTest, OffsetDeleteOfAnUnknownGroup) {
  const std::string body = Call(ApiKey::kOffsetDelete, 0, false, [&](WireWriter& w) {
    w.String("nobody");
    w.ArrayCount(1);
    w.String("t");
    w.ArrayCount(1);
    w.Int32(0);
  });
  WireReader r(AsBytes(body));
  EXPECT_EQ(r.Int16(), 69);  // GROUP_ID_NOT_FOUND
}

// ApiVersions v3/v4 as librdkafka and Java send it: header v2, the client's software in compact
// strings. The answer is flexible but its header is v0: the body follows the correlation id.
TEST_F(AdminApiBrokerTest, ApiVersionsV3AndV4AreAnsweredFlexible) {
  for (int16_t v : {3, 4}) {
    SCOPED_TRACE(v);
    const std::string body = Call(ApiKey::kApiVersions, v, false, [](WireWriter& w) {
      w.EmptyTaggedFields();  // the request header's
      w.CompactString("librdkafka");
      w.CompactString("2.0.2");
      w.EmptyTaggedFields();
    });
    WireReader r(AsBytes(body));
    EXPECT_EQ(r.Int16(), 0);
    const int32_t n = r.CompactArrayCount();
    EXPECT_EQ(n, static_cast<int32_t>(std::size(kSupportedApis)));
    std::optional<std::pair<int16_t, int16_t>> api_versions;
    for (int32_t i = 0; i < n && r.ok(); ++i) {
      const int16_t key = r.Int16();
      const int16_t min = r.Int16();
      const int16_t max = r.Int16();
      r.SkipTaggedFields();
      if (key == static_cast<int16_t>(ApiKey::kApiVersions)) api_versions.emplace(min, max);
    }
    EXPECT_EQ(r.Int32(), 0);  // throttle_time_ms
    r.SkipTaggedFields();
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.remaining(), 0u);
    EXPECT_EQ(api_versions, std::make_pair(int16_t{0}, int16_t{4}));
  }
}

// Kafka's refusals: a client software name or version it does not accept, or a body that does not
// parse, is INVALID_REQUEST with no versions; the connection stays open and a later request is
// answered. Above v4 the KIP-511 fallback: a v0 body with UNSUPPORTED_VERSION and every API.
TEST_F(AdminApiBrokerTest, ApiVersionsRefusalsAndTheFallbackAboveV4) {
  auto v3 = [&](const std::string& name, const std::string& version) {
    return Call(ApiKey::kApiVersions, 3, false, [&](WireWriter& w) {
      w.EmptyTaggedFields();
      w.CompactString(name);
      w.CompactString(version);
      w.EmptyTaggedFields();
    });
  };
  const std::string invalid("\x00\x2a\x01\x00\x00\x00\x00\x00", 8);  // 42, [], 0 ms, no tags
  EXPECT_EQ(v3("my client", "1.0"), invalid);
  EXPECT_EQ(v3("librdkafka", ""), invalid);
  const std::string truncated = Call(ApiKey::kApiVersions, 3, false, [](WireWriter& w) {
    w.EmptyTaggedFields();
    w.Int8(40);  // a compact string of 39 bytes, and nothing after
  });
  EXPECT_EQ(truncated, invalid);

  const std::string fallback = Call(ApiKey::kApiVersions, 5, false, [](WireWriter& w) {
    w.EmptyTaggedFields();
    w.CompactString("future");
    w.CompactString("9");
    w.EmptyTaggedFields();
  });
  WireReader r(AsBytes(fallback));
  EXPECT_EQ(r.Int16(), 35);  // UNSUPPORTED_VERSION
  EXPECT_EQ(r.ArrayCount(), static_cast<int32_t>(std::size(kSupportedApis)));

  EXPECT_EQ(v3("librdkafka", "2.0.2").substr(0, 2), std::string("\0\0", 2));
}

}  // namespace
}  // namespace sluice::net
