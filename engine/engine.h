#pragma once

// The embedded engine: topics of partition logs in one data directory (layout in
// ../segment/FORMAT.md and DESIGN.md). This header is the engine's public API; net/ and cli/ use
// nothing else from engine/.
//
// Thread-safety: every method may be called from any thread. Appends to one partition are
// ordered by the partition; appends to different partitions run in parallel. Views returned by
// Read stay valid while the ReadResult's `pin` is held, even across retention and topic deletion.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/acl_store.h"
#include "engine/catalog.h"
#include "engine/config.h"
#include "engine/partition_log.h"
#include "engine/partition_reader.h"
#include "engine/scram_users.h"
#include "engine/watermark.h"
#include "engine/writer_pool.h"
#include "segment/base/clock.h"
#include "segment/io/file_system.h"

namespace sluice::engine {

class GroupOffsetStore;

enum class BackgroundWork : uint8_t {
  kThreads,  // a thread flushes (flush.ms, flush.bytes) and enforces retention; another cleans
  kManual,   // the caller calls FlushDue(), EnforceRetention() and RunCleaner() (tests)
};

// Files the engine keeps in the data directory (FORMAT.md): its lock, held while an engine has the
// directory open (one process at a time), and the marker of a clean shutdown.
inline constexpr char kLockFile[] = ".lock";
inline constexpr char kCleanShutdownFile[] = ".clean-shutdown";

// Whether Open may create a missing data directory. Commands that only read pass kNo, so that a
// mistyped path is an error naming it rather than a new, empty data directory.
enum class CreateIfMissing : bool { kNo, kYes };

// kReadOnly: a reader beside a writer (engine/partition_reader.h). It takes no lock on the data
// directory and never changes a byte of it (only the waiters count of a partition's shared
// watermark page while it waits): no recovery, no catalog reconciliation, no clean-shutdown
// marker. Reads stop at the high watermark the writing process publishes (or, with no writer, at
// what is known valid); every write (topics, appends, group offsets, ACLs, users, producer ids) is
// kRefused.
enum class EngineAccess : bool { kReadWrite, kReadOnly };

// Whether a read-write engine publishes each partition's high watermark for reader processes
// (`<partition dir>/watermark`, engine/watermark.h). kAuto: when the engine uses the real file
// system (EngineOptions::fs is null); a MemFs is seen by no other process.
enum class PublishWatermarks : uint8_t { kAuto, kNo, kYes };

// How the engine writes its data files when EngineOptions::fs is null (segment/io/):
//   kPosix  pwritev and fdatasync from the writing thread (io::PosixFs)
//   kUring  io_uring, one ring per writing thread (io::UringFs); falls back to kPosix, with a
//           warning, where io_uring is unavailable
// The default is kPosix: on this project's reference machine (Linux 6.18, ext4) io_uring cannot
// do a buffered write inline (ext4 hands each one to an io-wq worker thread), and pwritev measured
// fastest at the engine's write sizes (bench/write_path_bench, bench/RESULTS.md).
enum class WritePath : uint8_t { kPosix, kUring };
inline constexpr WritePath kDefaultWritePath = WritePath::kPosix;
// "posix" / "uring"; ParseWritePath returns nullopt for anything else.
const char* WritePathName(WritePath path);
std::optional<WritePath> ParseWritePath(std::string_view name);

struct EngineOptions {
  std::string data_dir = "./sluice-data";  // must not be empty
  CreateIfMissing create_if_missing = CreateIfMissing::kYes;
  EngineAccess access = EngineAccess::kReadWrite;
  PublishWatermarks publish_watermarks = PublishWatermarks::kAuto;
  // File system to use; null = the one `write_path` names, owned by the engine. Borrowed.
  io::FileSystem* fs = nullptr;
  // The engine's own file system when `fs` is null (ignored otherwise).
  WritePath write_path = kDefaultWritePath;
  // Clock; null = the system clock. Borrowed.
  const base::Clock* clock = nullptr;
  BackgroundWork background = BackgroundWork::kThreads;
  int64_t retention_check_interval_ms = 30'000;
  // The log cleaner of compacted topics (engine/log_cleaner.h): with kThreads, a thread of its
  // own checks every partition this often (Kafka's log.cleaner.backoff.ms) and cleans those due.
  int64_t cleaner_check_interval_ms = 15'000;
  CleanerOptions cleaner;
  // Configuration of topics created without one (defaults plus these changes).
  TopicConfig default_topic_config;
  // Called each time a partition's high watermark advances (once per written group of batches,
  // any topic, the internal __consumer_offsets included): by the thread that wrote the group,
  // after the HW is stored, with no engine lock held. For waking long-poll fetches: it must be
  // cheap and must not throw. An appender whose batch another thread wrote may see Append return
  // before the call. Null = none.
  std::function<void(const std::string& topic, int32_t partition)> on_data;
  // Threads that write asynchronous appends (AppendBatchesAsync; engine/writer_pool.h), started
  // with the first such append.
  int writer_threads = 4;
  // Where asynchronous appends' writes run instead of those threads, when set: a test's executor
  // that runs the writer tasks when it chooses (a crash sweep that must issue the same file-system
  // operations every run).
  std::function<void(std::function<void()>)> run_writer;
  // Sizes of the zstd dictionaries partitions train (compression.zstd.dictionary=auto): how much
  // they sample, how large a dictionary is, when the ratio has drifted.
  DictionaryOptions dictionary;
};

// Whether an administrative call only checks what it would do (Kafka's validate_only).
enum class ValidateOnly : bool { kNo, kYes };

struct TopicDescription {
  TopicInfo info;
  std::vector<PartitionStats> partitions;
};

class Engine {
 public:
  // Opens the data directory, creating it if needed, and recovers every partition.
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Flushes and closes every partition and leaves the clean-shutdown marker. Idempotent.
  Status Close();

  // --- topics ---------------------------------------------------------------------------------
  // Creates a topic with the default configuration plus `changes` (keys as in TopicConfig).
  Status CreateTopic(const std::string& name, int32_t partitions,
                     const std::map<std::string, std::string>& changes);
  // Grows a topic to `count` partitions (Kafka's CreatePartitions): the new partitions' directories
  // are created and durable before the catalog names them, so a crash in between leaves at worst
  // directories that the next Open adopts (FORMAT.md). A count not above the current one is
  // kInvalidArgument (Kafka never shrinks a topic); internal topics are kRefused. With
  // ValidateOnly::kYes only checks.
  Status CreatePartitions(const std::string& name, int32_t count,
                          ValidateOnly validate_only = ValidateOnly::kNo);
  // Deletes a topic and its data. Internal topics (IsInternalTopic) are kRefused.
  Status DeleteTopic(const std::string& name);
  // Applies `changes` on top of the topic's configuration; their keys become its overrides.
  Status AlterTopicConfig(const std::string& name,
                          const std::map<std::string, std::string>& changes);
  // AlterTopicConfig for internal topics too: for the engine's own stores (GroupOffsetStore moves
  // __consumer_offsets to cleanup.policy=compact) and tests.
  Status AlterInternalTopicConfig(const std::string& name,
                                  const std::map<std::string, std::string>& changes);
  // The topic's configuration becomes the defaults plus exactly `config_keys` (Kafka's
  // non-incremental AlterConfigs); those keys become its overrides.
  Status ReplaceTopicConfig(const std::string& name,
                            const std::map<std::string, std::string>& config_keys);
  std::vector<TopicInfo> ListTopics() const;
  // Every partition's stats. A partition not used yet since a clean shutdown is not opened for
  // them when its files are exactly what a clean close leaves (read without opening, and equal to
  // what opening would give); otherwise it is opened, and an offline one says why.
  Result<TopicDescription> DescribeTopic(const std::string& name) const;
  // The topic's configuration; opens no partition.
  Result<TopicConfig> GetTopicConfig(const std::string& name) const;
  const TopicConfig& default_topic_config() const { return options_.default_topic_config; }

  // --- data -----------------------------------------------------------------------------------

  // Appends one Kafka RecordBatch v2. The batch is validated (layout, CRC-32C, size against
  // max.message.bytes and segment.bytes; no transactional or control batches), its maxTimestamp
  // filled in from the records if the producer left it at -1, and, if it is uncompressed and the
  // topic's compression.type is zstd or lz4, compressed. Returns once the batch is readable
  // (flush=none) or durable (flush=sync). Bad input is kInvalidArgument.
  // Idempotent batches (producer id and base sequence >= 0) follow Kafka's rules per (producer id,
  // partition) (PartitionLog, ProducerStateTable): a retry of one of the producer's last 5 batches
  // returns the original offsets with `duplicate` set and stores nothing; a stale epoch is
  // kProducerFenced; a sequence gap is kOutOfOrderSequence.
  Result<AppendResult> Append(const std::string& topic, int32_t partition, Bytes batch);
  // Appends several batches to one partition, all or none (a Kafka Produce's records for one
  // partition): each is validated and prepared as by Append, and they are checked against each
  // other (idempotent sequences follow on from one another) before any is queued; then they are
  // written as one unit into one segment, and the high watermark moves over all of them or none
  // (PartitionLog::AppendBatches). Together they must fit segment.bytes (else kTooLarge). The
  // result has the first batch's base offset and the last one's last offset. Append is the
  // one-batch case of this.
  Result<AppendResult> AppendBatches(const std::string& topic, int32_t partition,
                                     std::span<const Bytes> batches);
  // AppendBatches without waiting for the write (PartitionLog::AppendBatchesAsync): the batches
  // are validated, prepared (compressed) on this thread and given their offsets before this
  // returns, so a later append to the partition is ordered after them; `done` gets the result
  // once they are readable (flush=none) or durable (flush=sync), on one of the engine's writer
  // threads, or on this thread before returning if they are refused. The bytes are borrowed until
  // `done` is called. `done` must be quick and must not call the engine or wait for anything
  // (it runs in the partition's writer role: its next group waits for it).
  // A topic with message.timestamp.type=LogAppendTime stamps the batches with
  // `log_append_time_ms` (-1: the engine's clock now); Append and AppendBatches use the clock.
  void AppendBatchesAsync(const std::string& topic, int32_t partition,
                          std::span<const Bytes> batches, AppendCallback done,
                          int64_t log_append_time_ms = -1);

  Result<ReadResult> Read(const std::string& topic, int32_t partition, Offset from,
                          size_t max_bytes) const;
  Result<std::optional<TimestampOffset>> OffsetForTimestamp(const std::string& topic,
                                                            int32_t partition,
                                                            int64_t timestamp) const;
  Result<PartitionStats> GetPartitionStats(const std::string& topic, int32_t partition) const;
  // Waits until the partition's high watermark is above `offset` or `timeout_ms` passes.
  Result<Offset> WaitForData(const std::string& topic, int32_t partition, Offset offset,
                             int64_t timeout_ms) const;

  // Deletes whole segments of the partition that hold only records below `offset`.
  Status DeleteSegmentsBefore(const std::string& topic, int32_t partition, Offset offset);
  // Kafka's DeleteRecords (PartitionLog::DeleteRecordsBefore): the partition's log start moves to
  // `offset` (PartitionLog::kLatest = the high watermark) durably, records below it are gone for
  // readers, whole segments below it are deleted. Returns the new log start. Past the HW:
  // kOutOfRange. Internal topics: kRefused.
  Result<Offset> DeleteRecords(const std::string& topic, int32_t partition, Offset offset);
  // The first record with the largest timestamp (ListOffsets -3); nullopt for an empty partition.
  Result<std::optional<TimestampOffset>> OffsetForMaxTimestamp(const std::string& topic,
                                                               int32_t partition) const;
  // The idempotent producers a partition remembers (DescribeProducers).
  Result<ProducerSnapshot> DescribeProducers(const std::string& topic, int32_t partition) const;

  // Committed consumer-group offsets (stored in the internal topic __consumer_offsets), loaded at
  // the first call. Fails (kOffline, ...) while __consumer_offsets cannot be read, without
  // affecting any other topic; a later call tries again. A read-only engine loads them as the
  // writer had made them durable by then, and refuses commits (kRefused).
  Result<GroupOffsetStore*> GroupOffsets();

  // A producer id never handed out before by this data directory (InitProducerId), unique across
  // restarts: ids are reserved in blocks in `<data>/producer-ids` (FORMAT.md) before any of them
  // is handed out. Fails on an I/O error or a damaged file, and with kClosed after Close.
  Result<int64_t> AllocateProducerId();

  // --- access control lists (engine/acl_store.h; decided in net/authorizer.h) ------------------
  // The current bindings: an immutable snapshot, cheap to take (every request takes one). Fails,
  // naming `<data>/acls`, when that file could not be read at Open: an authorizer must then deny.
  Result<std::shared_ptr<const AclSet>> Acls() const;
  // Adds bindings (validated; duplicates of stored ones are skipped), durably before returning;
  // returns how many were new. Refused while the ACL file is damaged (it is never overwritten).
  Result<size_t> CreateAcls(const std::vector<AclBinding>& bindings);
  // Removes the bindings any filter matches, durably; per filter, what it matched.
  Result<std::vector<std::vector<AclBinding>>> DeleteAcls(
      const std::vector<AclBindingFilter>& filters);

  // --- SCRAM users (engine/scram_users.h; <data>/scram-users) ----------------------------------
  // Loaded at Open. While the file is damaged (or of a newer version) each of these returns that
  // error (kCorruption naming the file, kUnsupportedVersion): logins are refused, the file is
  // kept as found and never overwritten. Changes are durable when they return.
  Status ScramUsersStatus() const;
  Result<std::optional<ScramCredential>> FindScramCredential(const std::string& user,
                                                             ScramMechanism mechanism) const;
  Result<ScramUserMap> ListScramUsers() const;
  Status UpsertScramCredential(const std::string& user, ScramMechanism mechanism,
                               const ScramCredential& credential);
  // kNotFound when the user has no credential for `mechanism`.
  Status DeleteScramCredential(const std::string& user, ScramMechanism mechanism);

  // --- maintenance ----------------------------------------------------------------------------
  Status Flush();     // every partition, now
  Status FlushDue();  // the partitions whose flush.ms or flush.bytes is due
  Status EnforceRetention();
  // One pass of the log cleaner over each partition of `topic` (PartitionLog::Clean): kNow cleans
  // whatever is cleanable (`sluice topic compact`), kIfDue only what the topic's
  // min.cleanable.dirty.ratio / max.compaction.lag.ms make due. A topic whose cleanup.policy has
  // no compact is kInvalidArgument. Returns each partition's outcome (offline ones are skipped).
  // Its caller waits for it: the passes are not paced (CleanerOptions::io_max_bytes_per_second).
  Result<std::vector<std::pair<int32_t, CleanStats>>> CompactTopic(
      const std::string& topic, CleanTrigger trigger = CleanTrigger::kNow);
  // The background cleaner's round: CompactTopic(kIfDue) for every compacted topic, its passes
  // paced by CleanerOptions::io_max_bytes_per_second.
  Status RunCleaner();

  // What recovery found when this engine opened (empty after a clean shutdown). After a clean
  // shutdown partitions are opened at their first use; after an unclean one, all of them at Open.
  std::vector<segment::RecoveryReport> recovery_reports() const;
  // Opens every partition not opened yet (a server does, at start); returns OfflinePartitions().
  std::vector<std::pair<std::string, Error>> OpenAllPartitions();
  // Partitions that could not be opened (kOffline and the like): "topic-p" and why. They refuse
  // reads and writes; everything else works. Covers the partitions opened so far.
  std::vector<std::pair<std::string, Error>> OfflinePartitions() const;
  // What Open did to the catalog: empty, or a sentence for each change (rebuilt, topics adopted
  // from their directories, deletions completed).
  const std::vector<std::string>& catalog_changes() const { return catalog_changes_; }
  bool opened_after_clean_shutdown() const { return clean_open_; }
  bool read_only() const { return options_.access == EngineAccess::kReadOnly; }
  const std::string& data_dir() const { return options_.data_dir; }
  io::FileSystem& file_system() const { return *fs_; }
  const base::Clock& clock() const { return *clock_; }

  // Stops as a killed process would: nothing is synced, trimmed or marked clean. The engine is
  // closed afterwards. For recovery tests.
  void SimulateCrashForTesting();

 private:
  // One partition of a topic, opened at its first use (or at Open after an unclean shutdown).
  struct Partition {
    int32_t index = 0;
    std::string dir;
    std::mutex mu;  // guards the fields below; held while the log opens
    bool opened = false;
    // The high watermark published for reader processes (read-write engines); declared before
    // `log`, whose hook borrows it, so that it outlives the log.
    std::unique_ptr<PublishedWatermark> watermark;
    std::unique_ptr<PartitionReader> reader;  // read-only engines: set when opened
    std::unique_ptr<PartitionLog> log;  // set when opened; owned until Close or topic deletion
    std::optional<Error> offline;       // set when opening failed: why
  };
  struct Topic {
    std::string name;
    std::string id;
    // Fixed for this object: CreatePartitions replaces the Topic in topics_ with a copy that shares
    // these partitions and adds the new ones (callers holding the old one keep a valid object).
    std::vector<std::shared_ptr<Partition>> partitions;
    mutable std::mutex mu;  // guards config
    TopicConfig config;
    TopicConfig Config() const {
      std::lock_guard lock(mu);
      return config;
    }
  };

  explicit Engine(const EngineOptions& options);
  Result<std::shared_ptr<Topic>> FindTopic(const std::string& name) const;
  // Stores `config` as the topic's (catalog, partition files, open logs). catalog_mu_ held.
  Status SetTopicConfigLocked(const std::string& name, const std::shared_ptr<Topic>& topic,
                              const TopicConfig& config);
  // The partition's log, opened now if it was not yet; its error if it is offline.
  Result<PartitionLog*> FindPartition(const std::shared_ptr<Topic>& topic, int32_t partition) const;
  Result<PartitionLog*> OpenPartition(const Topic& topic, Partition& part,
                                      PartitionOpen mode) const;
  // Read-only engines: the partition's reader, opened now if it was not yet.
  Result<PartitionReader*> FindReader(const std::shared_ptr<Topic>& topic, int32_t partition) const;
  // kRefused for a read-only engine.
  Status Writable() const;
  // CompactTopic with the cleaner's options as given (RunCleaner: paced).
  Result<std::vector<std::pair<int32_t, CleanStats>>> CompactTopicWith(const std::string& topic,
                                                                       CleanTrigger trigger,
                                                                       CleanerOptions options);
  // The partition's stats; one not opened yet is not opened for them when its files are those of a
  // clean close (closed_partition.h). An offline partition's say why.
  PartitionStats StatsWithoutOpening(const Topic& topic, Partition& part) const;
  std::shared_ptr<Topic> MakeTopic(const TopicInfo& info) const;
  // Reads the catalog and reconciles it with the partition directories (Open).
  Result<TopicMap> LoadAndReconcileCatalog();
  Status CreateTopicWithConfig(const std::string& name, int32_t partitions,
                               const TopicConfig& config);
  std::string PartitionDir(const std::string& topic, int32_t partition) const;
  // Calls `fn` for every open partition of every topic (outside the topics lock); with
  // OpenAll::kYes partitions not yet opened are opened first (offline ones are skipped).
  enum class OpenAll : bool { kNo, kYes };
  Status ForEachPartition(const std::function<Status(PartitionLog&)>& fn, OpenAll open_all);
  TopicMap CatalogLocked() const;
  void BackgroundLoop();
  void CleanerLoop();
  // Validates and prepares `batches` for the partition's log (AppendBatches). What preparing
  // made (timestamps filled in, compressed copies) is kept in `owned`, which the result's views
  // may point into.
  struct PreparedAppend {
    std::shared_ptr<Topic> topic;  // keeps `log` alive while the call uses it (DeleteTopic)
    PartitionLog* log = nullptr;
    std::vector<BatchToAppend> batches;
    std::vector<std::string> owned;
    // The dictionary the batches were compressed with: held until they have their offsets.
    PartitionDictionary::Use dictionary;
  };
  Result<PreparedAppend> PrepareAppend(const std::string& topic, int32_t partition,
                                       std::span<const Bytes> batches, int64_t log_append_time_ms);

  EngineOptions options_;
  std::unique_ptr<io::FileSystem> owned_fs_;
  io::FileSystem* fs_ = nullptr;
  std::unique_ptr<io::FileLock> lock_;  // <data>/.lock: one engine per data directory
  // Writes asynchronous appends; stopped by Close after the logs are closed. Declared before the
  // topics so that it outlives them.
  std::unique_ptr<WriterPool> writers_;
  const base::Clock* clock_ = nullptr;

  // Lock order: catalog_mu_, then topics_mu_, then a Topic's or a Partition's mu, then the
  // partition log's own locks (partition_log.h); bg_mu_, group_offsets_mu_ and reports_mu_ are
  // taken alone (reports_mu_ may be taken under a Partition's mu). Close holds topics_mu_ and
  // each Partition's mu while the log closes, which waits for its writer role: so appends'
  // callbacks (run in that role) must never take an engine lock.
  mutable std::shared_mutex topics_mu_;  // guards topics_ (the map; each Topic guards itself)
  std::map<std::string, std::shared_ptr<Topic>> topics_;
  std::mutex catalog_mu_;  // serialises catalog changes (create, delete, alter)

  std::mutex group_offsets_mu_;  // guards group_offsets_ (loaded at first use)
  std::unique_ptr<GroupOffsetStore> group_offsets_;
  std::unique_ptr<ProducerIdAllocator> producer_ids_;
  std::unique_ptr<AclStore> acls_;               // set by Open; thread-safe on its own
  std::unique_ptr<ScramUserStore> scram_users_;  // set by Open; internally locked
  mutable std::mutex reports_mu_;                // guards reports_ (partitions open on any thread)
  mutable std::vector<segment::RecoveryReport> reports_;
  std::vector<std::string> catalog_changes_;
  bool clean_open_ = false;
  bool publish_watermarks_ = false;  // set by Open (EngineOptions::publish_watermarks)
  std::atomic<bool> closed_{false};  // written under bg_mu_; partitions do not open once set

  std::mutex bg_mu_;  // guards bg_stop_ and writes of closed_; bg_cv_ wakes the background thread
  std::condition_variable bg_cv_;
  bool bg_stop_ = false;
  std::thread bg_thread_;
  std::thread cleaner_thread_;  // the log cleaner (kThreads); stopped with bg_stop_
  // Set by Close: a cleaning pass in progress stops (CleanerOptions::stop).
  std::atomic<bool> cleaner_stop_{false};
};

}  // namespace sluice::engine
