#include "engine/engine.h"

#include <chrono>

#include "engine/group_offsets.h"
#include "segment/base/log.h"
#include "segment/format.h"
#include "segment/io/posix_fs.h"
#include "segment/io/uring_fs.h"
#include "segment/record_batch.h"

namespace sluice::engine {

using base::ErrorCode;
using base::MakeError;

namespace {

constexpr char kCleanShutdownMarker[] = ".clean-shutdown";
constexpr char kLockFile[] = ".lock";

Error Invalid(const std::string& what) { return MakeError(ErrorCode::kInvalidArgument, what); }

}  // namespace

Engine::Engine(const EngineOptions& options) : options_(options) {}

Engine::~Engine() { Close().IgnoreError(); }

std::string Engine::PartitionDir(const std::string& topic, int32_t partition) const {
  return io::JoinPath(options_.data_dir, topic + "-" + std::to_string(partition));
}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  std::unique_ptr<Engine> engine(new Engine(options));
  if (options.fs != nullptr) {
    engine->fs_ = options.fs;
  } else {
    if (io::UringFs::Available()) {
      engine->owned_fs_ = std::make_unique<io::UringFs>();
    } else {
      base::LogWarning("io_uring is not available here; writing with pwrite");
      engine->owned_fs_ = std::make_unique<io::PosixFs>();
    }
    engine->fs_ = engine->owned_fs_.get();
  }
  engine->clock_ = options.clock != nullptr ? options.clock : &base::SystemClock::Instance();
  io::FileSystem& fs = *engine->fs_;
  engine->producer_ids_ = std::make_unique<ProducerIdAllocator>(fs, options.data_dir);
  const std::string& dir = options.data_dir;
  if (dir.empty()) return Invalid("the data directory path is empty");
  ASSIGN_OR_RETURN(bool existed, fs.Exists(dir));
  if (!existed) {
    if (options.create_if_missing == CreateIfMissing::kNo) {
      return MakeError(ErrorCode::kNotFound, "data directory " + dir + " does not exist");
    }
    RETURN_IF_ERROR(fs.CreateDir(dir));
    RETURN_IF_ERROR(fs.SyncDir(io::DirName(dir)));
  }

  // One engine (one process) per data directory.
  ASSIGN_OR_RETURN(engine->lock_, fs.Lock(io::JoinPath(dir, kLockFile)));

  // The marker must be gone, durably, before anything is written: a crash from here on is unclean.
  const std::string marker = io::JoinPath(dir, kCleanShutdownMarker);
  ASSIGN_OR_RETURN(engine->clean_open_, fs.Exists(marker));
  if (engine->clean_open_) {
    RETURN_IF_ERROR(fs.Remove(marker));
    RETURN_IF_ERROR(fs.SyncDir(dir));
  }

  ASSIGN_OR_RETURN(TopicMap catalog, LoadCatalog(fs, dir));
  for (const auto& [name, info] : catalog) {
    ASSIGN_OR_RETURN(auto topic, engine->OpenTopic(info));
    engine->topics_.emplace(name, std::move(topic));
  }
  ASSIGN_OR_RETURN(engine->group_offsets_, GroupOffsetStore::Open(*engine));
  if (!engine->clean_open_ && !catalog.empty()) {
    base::LogInfo(dir + ": opened after an unclean shutdown; recovery checked " +
                  std::to_string(engine->reports_.size()) + " partition tail(s)");
  }
  if (options.background == BackgroundWork::kThreads) {
    engine->bg_thread_ = std::thread([e = engine.get()] { e->BackgroundLoop(); });
  }
  return engine;
}

Result<std::shared_ptr<Engine::Topic>> Engine::OpenTopic(const TopicInfo& info) {
  auto topic = std::make_shared<Topic>();
  topic->name = info.name;
  topic->config = info.config;
  for (int32_t p = 0; p < info.partitions; ++p) {
    std::function<void()> on_data;
    if (options_.on_data) {
      on_data = [cb = options_.on_data, name = info.name, p] { cb(name, p); };
    }
    ASSIGN_OR_RETURN(auto log, PartitionLog::Open(*fs_, PartitionDir(info.name, p), info.config,
                                                  *clock_, &reports_, std::move(on_data)));
    topic->partitions.push_back(std::move(log));
  }
  return topic;
}

Status Engine::Close() {
  {
    std::lock_guard lock(bg_mu_);
    if (closed_) return {};
    closed_ = true;
    bg_stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_thread_.joinable()) bg_thread_.join();
  // No id may be reserved once another engine can own the directory.
  if (producer_ids_ != nullptr) producer_ids_->Close();
  Status result;
  std::unique_lock lock(topics_mu_);
  for (auto& [name, topic] : topics_) {
    for (auto& log : topic->partitions) {
      if (Status s = log->Close(); !s && result) result = s;
    }
  }
  topics_.clear();
  if (!result) {
    lock_.reset();
    return result;
  }
  // Every partition is synced and trimmed: say so, so that the next open knows.
  std::string text = "clean\n";
  Status marked = io::WriteFileAtomic(*fs_, io::JoinPath(options_.data_dir, kCleanShutdownMarker),
                                      base::AsBytes(text));
  lock_.reset();
  return marked;
}

void Engine::SimulateCrashForTesting() {
  {
    std::lock_guard lock(bg_mu_);
    if (closed_) return;
    closed_ = true;
    bg_stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_thread_.joinable()) bg_thread_.join();
  if (producer_ids_ != nullptr) producer_ids_->Close();
  std::unique_lock lock(topics_mu_);
  for (auto& [name, topic] : topics_) {
    for (auto& log : topic->partitions) log->AbandonForTesting();
  }
  topics_.clear();
  lock_.reset();  // a dead process holds no lock
}

TopicMap Engine::CatalogLocked() const {
  TopicMap map;
  for (const auto& [name, topic] : topics_) {
    map[name] = TopicInfo{name, static_cast<int32_t>(topic->partitions.size()), topic->Config()};
  }
  return map;
}

Status Engine::CreateTopicWithConfig(const std::string& name, int32_t partitions,
                                     const TopicConfig& config) {
  RETURN_IF_ERROR(ValidateTopicName(name));
  if (partitions < 1 || partitions > 100000) {
    return Invalid("partition count " + std::to_string(partitions) + " is outside [1, 100000]");
  }
  std::lock_guard catalog_lock(catalog_mu_);
  {
    std::shared_lock lock(topics_mu_);
    if (closed_) return MakeError(ErrorCode::kClosed, "engine is closed");
    if (topics_.count(name) != 0) {
      return MakeError(ErrorCode::kAlreadyExists, "topic '" + name + "' already exists");
    }
  }
  // Directories of a topic of this name that was deleted (a crash after the catalog changed) are
  // not this topic's data.
  for (int32_t p = 0; p < partitions; ++p) RETURN_IF_ERROR(fs_->RemoveAll(PartitionDir(name, p)));
  TopicInfo info{name, partitions, config};
  ASSIGN_OR_RETURN(auto topic, OpenTopic(info));
  std::unique_lock lock(topics_mu_);
  TopicMap catalog = CatalogLocked();
  catalog[name] = info;
  if (Status s = SaveCatalog(*fs_, options_.data_dir, catalog); !s) {
    lock.unlock();
    for (auto& log : topic->partitions) log->Close().IgnoreError();
    for (int32_t p = 0; p < partitions; ++p) fs_->RemoveAll(PartitionDir(name, p)).IgnoreError();
    return s;
  }
  topics_.emplace(name, std::move(topic));
  return {};
}

Status Engine::CreateTopic(const std::string& name, int32_t partitions,
                           const std::map<std::string, std::string>& changes) {
  ASSIGN_OR_RETURN(TopicConfig config, ApplyConfig(options_.default_topic_config, changes));
  return CreateTopicWithConfig(name, partitions, config);
}

Status Engine::DeleteTopic(const std::string& name) {
  if (IsInternalTopic(name)) {
    return MakeError(ErrorCode::kRefused, "topic '" + name + "' is internal and cannot be deleted");
  }
  std::lock_guard catalog_lock(catalog_mu_);
  std::shared_ptr<Topic> topic;
  {
    std::unique_lock lock(topics_mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return MakeError(ErrorCode::kNotFound, "topic '" + name + "'");
    TopicMap catalog = CatalogLocked();
    catalog.erase(name);
    RETURN_IF_ERROR(SaveCatalog(*fs_, options_.data_dir, catalog));
    topic = it->second;
    topics_.erase(it);
  }
  // The catalog no longer names the topic; its files go now. Readers holding a ReadResult keep
  // their mappings.
  Status result;
  for (size_t p = 0; p < topic->partitions.size(); ++p) {
    topic->partitions[p]->Close().IgnoreError();
    if (Status s = fs_->RemoveAll(PartitionDir(name, static_cast<int32_t>(p))); !s && result) {
      result = s;
    }
  }
  return result;
}

Status Engine::AlterTopicConfig(const std::string& name,
                                const std::map<std::string, std::string>& changes) {
  std::lock_guard catalog_lock(catalog_mu_);
  ASSIGN_OR_RETURN(auto topic, FindTopic(name));
  ASSIGN_OR_RETURN(TopicConfig config, ApplyConfig(topic->Config(), changes));
  std::unique_lock lock(topics_mu_);
  TopicMap catalog = CatalogLocked();
  catalog[name].config = config;
  RETURN_IF_ERROR(SaveCatalog(*fs_, options_.data_dir, catalog));
  {
    std::lock_guard topic_lock(topic->mu);
    topic->config = config;
  }
  for (auto& log : topic->partitions) log->SetConfig(config);
  return {};
}

std::vector<TopicInfo> Engine::ListTopics() const {
  std::shared_lock lock(topics_mu_);
  std::vector<TopicInfo> out;
  for (const auto& [name, info] : CatalogLocked()) out.push_back(info);
  return out;
}

Result<TopicDescription> Engine::DescribeTopic(const std::string& name) const {
  ASSIGN_OR_RETURN(auto topic, FindTopic(name));
  TopicDescription d;
  d.info = TopicInfo{name, static_cast<int32_t>(topic->partitions.size()), topic->Config()};
  for (const auto& log : topic->partitions) d.partitions.push_back(log->Stats());
  return d;
}

Result<std::shared_ptr<Engine::Topic>> Engine::FindTopic(const std::string& name) const {
  std::shared_lock lock(topics_mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return MakeError(ErrorCode::kNotFound, "topic '" + name + "' does not exist");
  }
  return it->second;
}

Result<PartitionLog*> Engine::FindPartition(const std::shared_ptr<Topic>& topic,
                                            int32_t partition) const {
  if (partition < 0 || static_cast<size_t>(partition) >= topic->partitions.size()) {
    return MakeError(ErrorCode::kNotFound,
                     "topic '" + topic->name + "' has no partition " + std::to_string(partition));
  }
  return topic->partitions[static_cast<size_t>(partition)].get();
}

namespace {

// Validates one produced batch and prepares it for storing: maxTimestamp filled in, compressed as
// the topic requires. The result's bytes point into `batch` or into `owned`.
Result<BatchToAppend> PrepareBatch(Bytes batch, const TopicConfig& config, std::string& owned) {
  auto parsed = segment::ParseBatchHeader(batch);
  if (!parsed) return Invalid(parsed.error().context);
  BatchHeader header = *parsed;
  if (batch.size() > static_cast<size_t>(config.max_message_bytes)) {
    return MakeError(ErrorCode::kTooLarge, "batch of " + std::to_string(batch.size()) +
                                               " bytes exceeds max.message.bytes " +
                                               std::to_string(config.max_message_bytes));
  }
  if (Status s = segment::VerifyBatchCrc(batch, header); !s) return Invalid(s.error().context);
  if (header.transactional() || header.control()) {
    return Invalid("transactional and control batches are not supported");
  }
  if (header.record_count == 0) return Invalid("batch has no records");
  if (ProducerStateTable::IsIdempotent(header) && header.producer_epoch < 0) {
    return Invalid("idempotent batch of producer " + std::to_string(header.producer_id) +
                   " has negative epoch " + std::to_string(header.producer_epoch));
  }

  // Work that needs a copy of the batch happens here, on the producer's thread, outside any lock.
  if (header.max_timestamp < 0 && !header.log_append_time()) {
    auto max_ts = segment::ComputeMaxTimestamp(batch, header);
    if (!max_ts) return Invalid(max_ts.error().context);
    owned.assign(base::AsString(batch));
    auto* p = reinterpret_cast<std::byte*>(owned.data());
    base::StoreBE<int64_t>(p + segment::batch_field::kMaxTimestamp, *max_ts);
    segment::UpdateBatchCrc({p, owned.size()});
    header.max_timestamp = *max_ts;
    batch = base::AsBytes(owned);
  }
  const base::Codec codec = config.StorageCodec();
  if (header.codec() == base::Codec::kNone && codec != base::Codec::kNone) {
    ASSIGN_OR_RETURN(std::string compressed,
                     segment::CompressBatch(batch, header, codec, config.compression_level));
    owned = std::move(compressed);
    batch = base::AsBytes(owned);
    ASSIGN_OR_RETURN(header, segment::ParseBatchHeader(batch));
  }
  return BatchToAppend{batch, header};
}

}  // namespace

Result<AppendResult> Engine::Append(const std::string& topic_name, int32_t partition, Bytes batch) {
  return AppendBatches(topic_name, partition, std::span<const Bytes>(&batch, 1));
}

Result<AppendResult> Engine::AppendBatches(const std::string& topic_name, int32_t partition,
                                           std::span<const Bytes> batches) {
  ASSIGN_OR_RETURN(auto topic, FindTopic(topic_name));
  ASSIGN_OR_RETURN(PartitionLog * log, FindPartition(topic, partition));
  if (batches.empty()) return Invalid("no batch to append");
  const TopicConfig config = topic->Config();
  // Every batch is checked (and prepared) before any is queued: a bad one refuses them all.
  // `owned` is sized up front so that the views into its strings stay put.
  std::vector<std::string> owned(batches.size());
  std::vector<BatchToAppend> prepared;
  prepared.reserve(batches.size());
  uint64_t frame_bytes = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    auto batch = PrepareBatch(batches[i], config, owned[i]);
    if (!batch) {
      Error e = std::move(batch).error();
      if (batches.size() > 1) {
        e.context = "batch " + std::to_string(i + 1) + " of " + std::to_string(batches.size()) +
                    ": " + e.context;
      }
      return e;
    }
    frame_bytes += segment::format::kFramePrefixSize + batch->bytes.size();
    prepared.push_back(*batch);
  }
  // The batches of one call go into one segment (so that the HW moves over all or none of them),
  // so together they must fit one; as in Kafka, which refuses a produce larger than segment.bytes.
  if (frame_bytes + segment::format::kSegmentHeaderSize >
      static_cast<uint64_t>(config.segment_bytes)) {
    return MakeError(ErrorCode::kTooLarge,
                     (batches.size() > 1 ? std::to_string(batches.size()) + " batches of " : "") +
                         std::to_string(frame_bytes) + " bytes (framed) do not fit segment.bytes " +
                         std::to_string(config.segment_bytes));
  }
  return log->AppendBatches(prepared);
}

Result<int64_t> Engine::AllocateProducerId() { return producer_ids_->Allocate(); }

Result<ReadResult> Engine::Read(const std::string& topic_name, int32_t partition, Offset from,
                                size_t max_bytes) const {
  ASSIGN_OR_RETURN(auto topic, FindTopic(topic_name));
  ASSIGN_OR_RETURN(PartitionLog * log, FindPartition(topic, partition));
  return log->Read(from, max_bytes);
}

Result<std::optional<TimestampOffset>> Engine::OffsetForTimestamp(const std::string& topic_name,
                                                                  int32_t partition,
                                                                  int64_t timestamp) const {
  ASSIGN_OR_RETURN(auto topic, FindTopic(topic_name));
  ASSIGN_OR_RETURN(PartitionLog * log, FindPartition(topic, partition));
  return log->OffsetForTimestamp(timestamp);
}

Result<PartitionStats> Engine::GetPartitionStats(const std::string& topic_name,
                                                 int32_t partition) const {
  ASSIGN_OR_RETURN(auto topic, FindTopic(topic_name));
  ASSIGN_OR_RETURN(PartitionLog * log, FindPartition(topic, partition));
  return log->Stats();
}

Result<Offset> Engine::WaitForData(const std::string& topic_name, int32_t partition, Offset offset,
                                   int64_t timeout_ms) const {
  ASSIGN_OR_RETURN(auto topic, FindTopic(topic_name));
  ASSIGN_OR_RETURN(PartitionLog * log, FindPartition(topic, partition));
  return log->WaitForData(offset, timeout_ms);
}

Status Engine::DeleteSegmentsBefore(const std::string& topic_name, int32_t partition,
                                    Offset offset) {
  ASSIGN_OR_RETURN(auto topic, FindTopic(topic_name));
  ASSIGN_OR_RETURN(PartitionLog * log, FindPartition(topic, partition));
  return log->DeleteSegmentsBefore(offset);
}

Status Engine::ForEachPartition(const std::function<Status(PartitionLog&)>& fn) {
  std::vector<std::shared_ptr<Topic>> topics;
  {
    std::shared_lock lock(topics_mu_);
    for (const auto& [name, t] : topics_) topics.push_back(t);
  }
  // Every partition gets its turn; the first error is returned.
  Status result;
  for (const auto& t : topics) {
    for (auto& log : t->partitions) {
      if (Status s = fn(*log); !s && result) result = s;
    }
  }
  return result;
}

Status Engine::Flush() {
  return ForEachPartition([](PartitionLog& log) { return log.Flush(); });
}

Status Engine::FlushDue() {
  const int64_t now = clock_->NowMs();
  return ForEachPartition(
      [now](PartitionLog& log) { return log.FlushDue(now) ? log.Flush() : Status(); });
}

Status Engine::EnforceRetention() {
  const int64_t now = clock_->NowMs();
  return ForEachPartition([now](PartitionLog& log) { return log.EnforceRetention(now); });
}

void Engine::BackgroundLoop() {
  // Polls often enough that flush.bytes is honoured within a few tens of milliseconds.
  constexpr auto kTick = std::chrono::milliseconds(20);
  int64_t last_retention = clock_->MonotonicNs();
  // A poisoned partition or a full disk fails these at every tick.
  base::RateLimitedLog flush_log(base::LogLevel::kError);
  base::RateLimitedLog retention_log(base::LogLevel::kError);
  std::unique_lock lock(bg_mu_);
  while (!bg_stop_) {
    bg_cv_.wait_for(lock, kTick, [&] { return bg_stop_; });
    if (bg_stop_) break;
    lock.unlock();
    if (Status s = FlushDue(); !s) flush_log.Log("background flush: " + s.error().ToString());
    const int64_t now = clock_->MonotonicNs();
    if (now - last_retention >= options_.retention_check_interval_ms * 1'000'000) {
      last_retention = now;
      if (Status s = EnforceRetention(); !s) {
        retention_log.Log("retention: " + s.error().ToString());
      }
    }
    lock.lock();
  }
}

}  // namespace sluice::engine
