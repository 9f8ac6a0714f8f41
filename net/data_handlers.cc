// Produce, Fetch (with long polling) and ListOffsets.

#include <chrono>
#include <optional>
#include <set>

#include "net/broker_impl.h"
#include "net/produce_validation.h"
#include "segment/base/log.h"
#include "segment/record_batch.h"

namespace sluice::net {

using base::ErrorCode;

namespace {

constexpr int16_t kMinProduceVersion = 3;  // record batch v2 (magic 2); v0-2 carry MessageSets
constexpr int16_t kMinZstdFetchVersion = 10;

}  // namespace

Result<engine::PartitionStats> Broker::Impl::ClientPartitionStats(const std::string& topic,
                                                                  int32_t partition) const {
  if (!VisibleTopic(topic)) {
    return base::MakeError(ErrorCode::kNotFound, "topic '" + topic + "' is internal");
  }
  return engine_->GetPartitionStats(topic, partition);
}

// --- Produce ------------------------------------------------------------------------------------

// One Produce in flight: its response, filled in by the partitions' appends as they finish (each
// its own entry), and sent by whichever finishes last.
struct Broker::Impl::ProduceCall {
  int16_t version = 0;
  int16_t acks = 0;
  ProduceResponse resp;
  Responder responder;
  std::shared_ptr<const RequestFrame> frame;  // the batches' bytes, until every append is done
  // The appends not finished, plus one for the handler while it queues them.
  std::atomic<size_t> outstanding{1};

  // Called once per queued append and once by the handler: the last one answers.
  void Done() {
    if (outstanding.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    frame.reset();  // the batches are written: their memory goes back to the budget
    if (acks == 0) {
      responder.NoResponse();
    } else {
      Reply(responder, version, resp);
    }
  }
};

namespace {

// Records a refused partition of a Produce and logs why (rate-limited: a full disk refuses every
// produce until space returns, thousands a second).
void RefusePartition(ProduceResponse::Partition& part, KafkaError code, const std::string& why,
                     const std::string& peer, const std::string& topic) {
  part.error_code = code;
  part.error_message = why;
  part.base_offset = -1;
  static base::RateLimitedLog log(base::LogLevel::kWarning);
  log.Log("serve: " + peer + ": produce to " + topic + "-" + std::to_string(part.index) +
          " refused (" + KafkaErrorName(code) + "): " + why);
}

}  // namespace

void Broker::Impl::HandleProduce(const RequestHeader& h, const ProduceRequest& req,
                                 std::shared_ptr<const RequestFrame> frame, Responder& responder) {
  auto call = std::make_shared<ProduceCall>();
  call->version = h.api_version;
  call->acks = req.acks;
  call->frame = std::move(frame);
  const std::string peer = responder.peer();
  const bool valid_acks = req.acks == 0 || req.acks == 1 || req.acks == -1;
  // One decoder for the request; its buffer (decompressed records, at most max.message.bytes of
  // the topic) is charged to the memory budget while the request holds it.
  segment::RecordDecoder decoder;
  MemoryBudget::Lease decoder_charge;
  const RequestAuth auth = Auth(responder);
  // Every entry of the response is made before the first append is queued: the appends' callbacks
  // fill them in, from writer threads, while this loop goes on.
  ProduceResponse& resp = call->resp;
  resp.responses.resize(req.topics.size());
  for (size_t ti = 0; ti < req.topics.size(); ++ti) {
    resp.responses[ti].name = req.topics[ti].name;
    resp.responses[ti].partitions.resize(req.topics[ti].partitions.size());
    for (size_t pi = 0; pi < req.topics[ti].partitions.size(); ++pi) {
      resp.responses[ti].partitions[pi].index = req.topics[ti].partitions[pi].index;
    }
  }
  for (size_t ti = 0; ti < req.topics.size(); ++ti) {
    const auto& t = req.topics[ti];
    const bool may_write = !VisibleTopic(t.name) ||
                           auth.Allowed(AclOperation::kWrite, AclResourceType::kTopic, t.name);
    // A batch decompresses to at most the topic's max.message.bytes: the limit is ours, never a
    // size the batch declares (a frame header, a record count).
    auto config = engine_->GetTopicConfig(t.name);
    decoder.set_max_decompressed_bytes(static_cast<size_t>(
        config ? config->max_message_bytes : engine_->default_topic_config().max_message_bytes));
    for (size_t pi = 0; pi < t.partitions.size(); ++pi) {
      const auto& p = t.partitions[pi];
      ProduceResponse::Partition& part = resp.responses[ti].partitions[pi];
      auto fail = [&](KafkaError code, const std::string& why) {
        RefusePartition(part, code, why, peer, t.name);
      };
      if (h.api_version < kMinProduceVersion) {
        fail(KafkaError::kUnsupportedVersion, "Produce v0-v2 (message format v0/v1) is refused");
      } else if (!valid_acks) {
        fail(KafkaError::kInvalidRequiredAcks, "acks must be 0, 1 or -1");
      } else if (req.transactional_id) {
        fail(KafkaError::kInvalidRequest, "transactions are not supported");
      } else if (!VisibleTopic(t.name)) {
        fail(KafkaError::kInvalidTopicException, "internal topic");
      } else if (!may_write) {
        part.error_code = KafkaError::kTopicAuthorizationFailed;  // the authorizer logged it
      } else if (!p.records) {
        fail(KafkaError::kCorruptMessage, "null records");

      } else if (auto batches = SplitBatches(*p.records, decoder); !batches) {
        decoder_charge = server_->budget().ReserveAnyway(decoder.buffer_bytes());
        // A batch that would decompress past the limit is refused as Kafka refuses a batch over
        // max.message.bytes; anything else that does not decode is corrupt.
        fail(batches.error().code == ErrorCode::kTooLarge ? KafkaError::kMessageTooLarge
                                                          : KafkaError::kCorruptMessage,
             batches.error().context);
      } else {
        decoder_charge = server_->budget().ReserveAnyway(decoder.buffer_bytes());
        if (h.api_version >= 5) {
          // Taken before the append: the log start a client sees is never from its future.
          if (auto stats = engine_->GetPartitionStats(t.name, p.index)) {
            part.log_start_offset = stats->log_start_offset.value();
          }
        }
        // All or none, as in Kafka: a batch refused by the engine (a sequence gap, a size limit)
        // leaves none of the partition's batches of this request stored, so that the client's
        // retry of the whole set stores each once. The batches point into the frame, which the
        // call holds until the append is done.
        uint64_t batch_bytes = 0;
        for (Bytes b : *batches) batch_bytes += b.size();
        call->outstanding.fetch_add(1, std::memory_order_relaxed);
        const int64_t append_time_ms =
            config && config->message_timestamp_type == engine::TimestampType::kLogAppendTime
                ? engine_->clock().NowMs()
                : -1;
        engine_->AppendBatchesAsync(
            t.name, p.index, *batches,
            [call, &part, peer, topic = t.name, batch_bytes, append_time_ms,
             traffic = traffic_.For(t.name, p.index)](Result<engine::AppendResult> appended) {
              if (!appended) {
                const KafkaError code = ToKafkaError(appended.error());
                if (code == KafkaError::kUnknownTopicOrPartition) {
                  part.error_code = code;  // routine for clients with stale metadata: no log line
                  part.base_offset = -1;
                } else {
                  RefusePartition(part, code, appended.error().context, peer, topic);
                }
              } else {
                part.base_offset = appended->base_offset.value();
                part.log_append_time_ms = append_time_ms;
                if (!appended->duplicate) {
                  traffic->records_in.fetch_add(
                      static_cast<uint64_t>(appended->last_offset - appended->base_offset + 1),
                      std::memory_order_relaxed);
                  traffic->bytes_in.fetch_add(batch_bytes, std::memory_order_relaxed);
                }
              }
              call->Done();
            },
            append_time_ms);
        continue;
      }
      if (part.error_code != KafkaError::kNone) part.base_offset = -1;
    }
  }
  call->responder = std::move(responder);
  call->Done();
}

// --- Fetch --------------------------------------------------------------------------------------

struct Broker::Impl::PendingFetch {
  RequestHeader header;
  FetchRequest request;
  Responder responder;
  FetchWaiters::Clock::time_point deadline;
  bool final_attempt = false;           // the deadline passed: answer with whatever there is
  std::set<std::string> denied_topics;  // not READable by the client (decided once, at arrival)
};

void Broker::Impl::Handle(const RequestHeader& h, const FetchRequest& req, Responder& responder) {
  auto fetch = std::make_shared<PendingFetch>();
  const RequestAuth auth = Auth(responder);
  for (const auto& t : req.topics) {
    if (!fetch->denied_topics.contains(t.topic) &&
        !auth.Allowed(AclOperation::kRead, AclResourceType::kTopic, t.topic)) {
      fetch->denied_topics.insert(t.topic);
    }
  }
  fetch->header = h;
  fetch->request = req;
  fetch->responder = std::move(responder);
  fetch->deadline =
      FetchWaiters::Clock::now() + std::chrono::milliseconds(std::max(0, req.max_wait_ms));
  fetch->final_attempt = req.max_wait_ms <= 0;
  RunFetch(std::move(fetch));
}

// A zstd batch transcoded for a Fetch (below v10, or of a batch compressed with a dictionary),
// with its charge on the memory budget.
struct TranscodedBatch {
  std::string bytes_;
  MemoryBudget::Lease charge;
  Bytes bytes() const { return base::AsBytes(bytes_); }
};

Result<std::shared_ptr<const TranscodedBatch>> Broker::Impl::TranscodeForClient(
    const std::string& topic, int32_t partition, const engine::StoredBatch& batch,
    const base::ZstdDictionaries* dictionaries, bool recompress, bool first, size_t room) {
  // At most the topic's max.message.bytes, whatever the batch's frames declare; after the first
  // batch of the response (sent whole, KIP-74), within the response's max_bytes.
  auto config = engine_->GetTopicConfig(topic);
  size_t limit = static_cast<size_t>(config ? config->max_message_bytes
                                            : engine_->default_topic_config().max_message_bytes);
  if (!first) {
    if (room <= segment::kBatchHeaderSize) return std::shared_ptr<const TranscodedBatch>();
    limit = std::min(limit, room - segment::kBatchHeaderSize);
  }
  // The memory is taken before the work: a response that cannot have it now ends here (the client
  // fetches again); the first batch takes it anyway, so that every fetch makes progress.
  auto charge = first ? server_->budget().ReserveAnyway(limit + segment::kBatchHeaderSize)
                      : server_->budget().TryReserve(limit + segment::kBatchHeaderSize);
  if (!charge) return std::shared_ptr<const TranscodedBatch>();
  auto plain = segment::DecompressBatch(batch.bytes, batch.header, limit, dictionaries);
  if (!plain) {
    if (!first && plain.error().code == ErrorCode::kTooLarge)
      return std::shared_ptr<const TranscodedBatch>();
    const std::string what =
        topic + "-" + std::to_string(partition) + ": cannot serve the zstd batch at offset " +
        std::to_string(batch.header.base_offset) + " decompressed: " + plain.error().ToString();
    base::LogError("serve: " + what);
    return base::MakeError(ErrorCode::kCorruption, what);
  }
  if (recompress) {
    // A dictionary batch for a client that reads zstd: standard zstd again, at the topic's level.
    auto header = segment::ParseBatchHeader(base::AsBytes(*plain));
    if (header) {
      auto again = segment::CompressBatch(base::AsBytes(*plain), *header, base::Codec::kZstd,
                                          config ? config->compression_level : 0);
      if (again && again->size() < plain->size()) *plain = std::move(*again);
    }
  }
  auto out = std::make_shared<TranscodedBatch>();
  out->bytes_ = std::move(*plain);
  charge.ShrinkTo(out->bytes_.size());
  out->charge = std::move(charge);
  return std::shared_ptr<const TranscodedBatch>(std::move(out));
}

void Broker::Impl::RunFetch(std::shared_ptr<PendingFetch> fetch) {
  const FetchRequest& req = fetch->request;
  const int16_t version = fetch->header.api_version;
  const uint64_t seen_version = waiters_->version();

  FetchResponse resp;
  std::vector<std::shared_ptr<const void>> pins;
  const size_t max_bytes = static_cast<size_t>(std::max(0, req.max_bytes));
  size_t total = 0;
  std::vector<std::pair<std::string, int32_t>> watched;
  // What the response carries per partition (counted once it is sent).
  struct Sent {
    const std::string* topic;
    int32_t partition;
    uint64_t records;
    uint64_t bytes;
  };
  std::vector<Sent> sent;
  for (const auto& t : req.topics) {
    FetchResponse::Topic topic;
    topic.topic = t.topic;
    for (const auto& p : t.partitions) {
      FetchResponse::Partition part;
      part.partition_index = p.partition;
      part.aborted_transactions.emplace();
      if (fetch->denied_topics.contains(t.topic)) {
        part.error_code = KafkaError::kTopicAuthorizationFailed;
        topic.partitions.push_back(std::move(part));
        continue;
      }
      auto stats = ClientPartitionStats(t.topic, p.partition);
      if (!stats) {
        part.error_code = ToKafkaError(stats.error());
        topic.partitions.push_back(std::move(part));
        continue;
      }
      part.high_watermark = part.last_stable_offset = stats->high_watermark.value();
      part.log_start_offset = stats->log_start_offset.value();
      const int64_t offset = p.fetch_offset;
      if (offset < part.log_start_offset || offset > part.high_watermark) {
        part.error_code = KafkaError::kOffsetOutOfRange;
      } else if (offset < part.high_watermark) {
        // KIP-74: the first batch of the response is sent whole even past the limits; after it,
        // max_bytes holds.
        const size_t budget = std::min(static_cast<size_t>(std::max(0, p.partition_max_bytes)),
                                       max_bytes > total ? max_bytes - total : 0);
        auto read = engine_->Read(t.topic, p.partition, base::Offset(offset), budget);
        if (!read) {
          part.error_code = ToKafkaError(read.error());
        } else {
          part.high_watermark = part.last_stable_offset = read->high_watermark.value();
          part.log_start_offset = read->log_start_offset.value();
          Sent& counted = sent.emplace_back(Sent{&t.topic, p.partition, 0, 0});
          std::optional<bool> zstd_topic;  // looked up at the first dictionary batch
          for (const auto& b : read->batches) {
            const size_t size = b.bytes.size();
            if (!part.batches.empty() || total > 0) {
              if (total + size > max_bytes) break;
            }
            const bool with_dictionary = segment::BatchDictionaryId(b.bytes, b.header) != 0;
            if (b.header.codec() == base::Codec::kZstd &&
                (version < kMinZstdFetchVersion || with_dictionary)) {
              // An old client cannot read zstd, and no client has sluice's dictionaries: serve
              // the batch decompressed, or (a dictionary batch of a zstd topic, to a client that
              // reads zstd) compressed again without the dictionary.
              if (with_dictionary && !zstd_topic) {
                auto config = engine_->GetTopicConfig(t.topic);
                zstd_topic = config && config->StorageCodec() == base::Codec::kZstd;
              }
              const bool recompress =
                  with_dictionary && version >= kMinZstdFetchVersion && *zstd_topic;
              auto plain = TranscodeForClient(t.topic, p.partition, b, read->dictionaries.get(),
                                              recompress, part.batches.empty() && total == 0,
                                              max_bytes > total ? max_bytes - total : 0);
              if (!plain) {
                part.error_code = KafkaError::kCorruptMessage;
                break;
              }
              if (!*plain) break;  // does not fit this response, or memory is short: next fetch
              part.batches.push_back((*plain)->bytes());
              total += (*plain)->bytes().size();
              counted.records += static_cast<uint64_t>(std::max(0, b.header.record_count));
              counted.bytes += (*plain)->bytes().size();
              pins.push_back(std::move(*plain));
              continue;
            }
            part.batches.push_back(b.bytes);
            total += size;
            counted.records += static_cast<uint64_t>(std::max(0, b.header.record_count));
            counted.bytes += size;
          }
          if (!part.batches.empty()) pins.push_back(read->pin);
        }
      }
      if (part.error_code == KafkaError::kNone) watched.emplace_back(t.topic, p.partition);
      topic.partitions.push_back(std::move(part));
    }
    resp.responses.push_back(std::move(topic));
  }

  const bool enough = total >= static_cast<size_t>(std::max(1, req.min_bytes));
  if (!enough && !fetch->final_attempt && !watched.empty()) {
    Impl* self = this;
    const bool parked =
        waiters_->Park(seen_version, watched, fetch->deadline, [self, fetch](bool timed_out) {
          fetch->final_attempt = timed_out || FetchWaiters::Clock::now() >= fetch->deadline;
          self->server_->Post([self, fetch] { self->RunFetch(fetch); });
        });
    if (parked) return;
    // Not parked: data arrived since this read (read again), or the waiters stopped (answer).
    if (waiters_->version() != seen_version && FetchWaiters::Clock::now() < fetch->deadline) {
      server_->Post([self, fetch] { self->RunFetch(fetch); });
      return;
    }
  }
  for (const Sent& c : sent) {
    if (c.records == 0 && c.bytes == 0) continue;
    auto traffic = traffic_.For(*c.topic, c.partition);
    traffic->records_out.fetch_add(c.records, std::memory_order_relaxed);
    traffic->bytes_out.fetch_add(c.bytes, std::memory_order_relaxed);
  }
  NoteErrors(fetch->responder, resp);
  OutBuffer out;
  EncodeResponse(version, resp, out);
  for (auto& pin : pins) out.AddPin(std::move(pin));
  fetch->responder.Send(std::move(out));
}

// --- ListOffsets --------------------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const ListOffsetsRequest& req,
                          Responder& responder) {
  constexpr int64_t kLatest = -1;
  constexpr int64_t kEarliest = -2;
  constexpr int64_t kMaxTimestamp = -3;
  ListOffsetsResponse resp;
  const RequestAuth auth = Auth(responder);
  for (const auto& t : req.topics) {
    ListOffsetsResponse::Topic topic;
    topic.name = t.name;
    const bool may_describe =
        auth.Allowed(AclOperation::kDescribe, AclResourceType::kTopic, t.name);
    for (const auto& p : t.partitions) {
      ListOffsetsResponse::Partition part;
      part.partition_index = p.partition_index;
      auto stats = ClientPartitionStats(t.name, p.partition_index);
      if (!may_describe) {
        part.error_code = KafkaError::kTopicAuthorizationFailed;
      } else if (!stats) {
        part.error_code = ToKafkaError(stats.error());
      } else if (p.timestamp == kLatest) {
        part.offset = stats->high_watermark.value();
      } else if (p.timestamp == kEarliest) {
        part.offset = stats->log_start_offset.value();
      } else if (p.timestamp == kMaxTimestamp && h.api_version >= 7) {
        // KIP-734: the first record with the largest timestamp; -1 and -1 for an empty partition.
        if (auto found = engine_->OffsetForMaxTimestamp(t.name, p.partition_index); !found) {
          part.error_code = ToKafkaError(found.error());
        } else if (*found) {
          part.offset = (*found)->offset.value();
          part.timestamp = (*found)->timestamp;
        }
      } else if (p.timestamp < 0) {
        // -3 below v7, -4 (earliest local, v8+) and -5 (latest tiered, v9+) are not served.
      } else if (auto found = engine_->OffsetForTimestamp(t.name, p.partition_index, p.timestamp);
                 !found) {
        part.error_code = ToKafkaError(found.error());
      } else if (*found) {
        part.offset = (*found)->offset.value();
        part.timestamp = (*found)->timestamp;
      }
      topic.partitions.push_back(std::move(part));
    }
    resp.topics.push_back(std::move(topic));
  }
  Reply(responder, h.api_version, resp);
}

}  // namespace sluice::net
