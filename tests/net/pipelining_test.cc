// Pipelined requests on one connection against a real broker on 127.0.0.1 (net/server.h): a
// client sends many requests without waiting for answers, as librdkafka does with linger.ms=0.
// Produces start as soon as the earlier ones are queued, so a flush=sync topic's appends share
// fdatasyncs; responses still come back strictly in request order, whatever each one's outcome
// (stored, unknown topic, corrupt batch, no response for acks=0) and with other requests between.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "net/broker.h"
#include "net/messages.h"
#include "net/wire.h"
#include "segment/io/posix_fs.h"
#include "segment/io/testing/fault_fs.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/test_util.h"

namespace sluice::net {
namespace {

std::string Header(ApiKey key, int16_t version, int32_t correlation_id) {
  std::string f;
  WireWriter w(f);
  w.Int16(static_cast<int16_t>(key));
  w.Int16(version);
  w.Int32(correlation_id);
  w.String("pipelining-test");
  return f;
}

// A Produce v3 of `batch` to topic-partition with `acks`.
std::string ProduceFrame(int32_t correlation_id, const std::string& topic, int32_t partition,
                         const std::string& batch, int16_t acks = -1) {
  std::string f = Header(ApiKey::kProduce, 3, correlation_id);
  WireWriter w(f);
  w.NullableString(std::nullopt);  // transactional id
  w.Int16(acks);
  w.Int32(30'000);
  w.ArrayCount(1);
  w.String(topic);
  w.ArrayCount(1);
  w.Int32(partition);
  w.BytesField(base::AsBytes(batch));
  return f;
}

std::string MetadataFrame(int32_t correlation_id) {
  std::string f = Header(ApiKey::kMetadata, 1, correlation_id);
  WireWriter(f).Int32(-1);  // all topics
  return f;
}

struct ProduceAnswer {
  KafkaError error = KafkaError::kNone;
  int64_t base_offset = -1;
};

// The one partition's answer in a Produce v3 response body (after the correlation id).
ProduceAnswer ParseProduce(const std::string& body) {
  WireReader r(base::AsBytes(body));
  EXPECT_EQ(r.ArrayCount(), 1);
  r.String();
  EXPECT_EQ(r.ArrayCount(), 1);
  r.Int32();
  ProduceAnswer a;
  a.error = static_cast<KafkaError>(r.Int16());
  a.base_offset = r.Int64();
  r.Int64();  // log append time
  r.Int32();  // throttle time
  EXPECT_TRUE(r.ok() && r.remaining() == 0);
  return a;
}

class PipeliningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BrokerOptions options;
    for (Listener& l : options.server.listeners) l.port = 0;  // any free port
    options.server.event_loops = 1;
    options.server.worker_threads = 4;
    auto broker = Broker::Start(testing::TestEngineOptions(dir_.path(), &fs_), options);
    ASSERT_TRUE(broker.has_value()) << broker.error().ToString();
    broker_ = std::move(*broker);
    ASSERT_OK(broker_->engine().CreateTopic("durable", 1, {{"flush", "sync"}}));
    ASSERT_OK(broker_->engine().CreateTopic("fast", 2, {}));
  }
  void TearDown() override {
    if (broker_) {
      EXPECT_TRUE(broker_->Stop().has_value());
    }
  }

  testing::TempDir dir_;
  io::PosixFs posix_;
  io::testing::FaultFs fs_{posix_};  // counts the fdatasyncs; injects nothing
  std::unique_ptr<Broker> broker_;
};

TEST_F(PipeliningTest, ProducesSentWithoutWaitingShareFsyncsAndAreAnsweredInOrder) {
  testing::LoopbackSocket conn(broker_->port());
  ASSERT_TRUE(conn.ok());
  constexpr int kProduces = 200;
  const uint64_t syncs_before = fs_.OpCount(io::testing::OpKind::kSync);
  std::string all;
  for (int i = 0; i < kProduces; ++i) {
    const std::string frame = ProduceFrame(i, "durable", 0, testing::MakeBatch(3, "d"));
    std::string prefixed(4, '\0');
    base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(prefixed.data()),
                           static_cast<int32_t>(frame.size()));
    all += prefixed + frame;
  }
  ASSERT_TRUE(conn.SendAll(all));  // every request at once, no answer read yet
  for (int i = 0; i < kProduces; ++i) {
    auto response = conn.ReadFrame();
    ASSERT_TRUE(response.has_value()) << "response " << i;
    ASSERT_GE(response->size(), 4u);
    EXPECT_EQ(base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(response->data())), i);
    const ProduceAnswer a = ParseProduce(response->substr(4));
    EXPECT_EQ(a.error, KafkaError::kNone) << i;
    EXPECT_EQ(a.base_offset, 3 * i);  // stored in request order
  }
  // Served one at a time, each Produce would have had an fdatasync of its own.
  const uint64_t syncs = fs_.OpCount(io::testing::OpKind::kSync) - syncs_before;
  EXPECT_LT(syncs, static_cast<uint64_t>(kProduces));
  std::printf("%d pipelined flush=sync produces, %llu fdatasyncs\n", kProduces,
              static_cast<unsigned long long>(syncs));
}

TEST_F(PipeliningTest, MixedOutcomesAndOtherRequestsKeepRequestOrder) {
  testing::LoopbackSocket conn(broker_->port());
  ASSERT_TRUE(conn.ok());
  std::string corrupt = testing::MakeBatch(2, "c");
  corrupt[corrupt.size() - 3] ^= 0x5a;  // the records no longer match the CRC
  enum class Expect { kStored, kUnknown, kCorrupt, kNoAnswer, kMetadata };
  struct Sent {
    int32_t id;
    Expect expect;
    std::string topic;
    int32_t partition;
  };
  std::vector<Sent> sent;
  std::string all;
  auto add = [&](Sent s, const std::string& frame) {
    std::string prefixed(4, '\0');
    base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(prefixed.data()),
                           static_cast<int32_t>(frame.size()));
    all += prefixed + frame;
    sent.push_back(std::move(s));
  };
  for (int32_t id = 0; id < 120; ++id) {
    const std::string topic = id % 3 == 0 ? "durable" : "fast";
    const int32_t partition = topic == "fast" ? id % 2 : 0;
    if (id % 17 == 5) {
      add({id, Expect::kUnknown, "nope", 0}, ProduceFrame(id, "nope", 0, testing::MakeBatch(1)));
    } else if (id % 23 == 7) {
      add({id, Expect::kCorrupt, topic, partition}, ProduceFrame(id, topic, partition, corrupt));
    } else if (id % 29 == 11) {
      add({id, Expect::kNoAnswer, topic, partition},
          ProduceFrame(id, topic, partition, testing::MakeBatch(2, "z"), /*acks=*/0));
    } else if (id % 31 == 13) {
      add({id, Expect::kMetadata, "", 0}, MetadataFrame(id));
    } else {
      add({id, Expect::kStored, topic, partition},
          ProduceFrame(id, topic, partition, testing::MakeBatch(2, "s")));
    }
  }
  ASSERT_TRUE(conn.SendAll(all));
  // Offsets each partition handed out, in the order the client sent its produces.
  std::map<std::pair<std::string, int32_t>, int64_t> next_offset;
  for (const Sent& s : sent) {
    if (s.expect == Expect::kNoAnswer) {
      next_offset[{s.topic, s.partition}] += 2;  // stored all the same, in its place
      continue;
    }
    auto response = conn.ReadFrame();
    ASSERT_TRUE(response.has_value()) << "no answer for request " << s.id;
    ASSERT_GE(response->size(), 4u);
    ASSERT_EQ(base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(response->data())), s.id);
    if (s.expect == Expect::kMetadata) continue;
    const ProduceAnswer a = ParseProduce(response->substr(4));
    switch (s.expect) {
      case Expect::kStored: {
        EXPECT_EQ(a.error, KafkaError::kNone) << s.id;
        int64_t& next = next_offset[{s.topic, s.partition}];
        EXPECT_EQ(a.base_offset, next) << s.id;
        next += 2;
        break;
      }
      case Expect::kUnknown:
        EXPECT_EQ(a.error, KafkaError::kUnknownTopicOrPartition) << s.id;
        break;
      case Expect::kCorrupt:
        EXPECT_EQ(a.error, KafkaError::kCorruptMessage) << s.id;
        break;
      default:
        break;
    }
  }
  // Nothing more: the acks=0 produces had no answer, and every other request had exactly one.
  std::string probe = MetadataFrame(999);
  ASSERT_TRUE(conn.SendFrame(probe));
  auto last = conn.ReadFrame();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(last->data())), 999);
  for (const auto& [tp, next] : next_offset) {
    auto stats = broker_->engine().GetPartitionStats(tp.first, tp.second);
    ASSERT_TRUE(stats.has_value());
    EXPECT_EQ(stats->high_watermark.value(), next) << tp.first << "-" << tp.second;
  }
}

}  // namespace
}  // namespace sluice::net
