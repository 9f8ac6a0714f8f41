#pragma once

// PartitionDictionary: the write side of a partition's zstd dictionaries
// (compression.zstd.dictionary=auto; files and their format: segment/dictionary.h, FORMAT.md
// "Dictionaries").
//
// Life of a dictionary:
// - Sampling: while the partition has no dictionary (or its ratio drifted, below), the records
//   sections of the uncompressed batches the broker compresses are kept as samples (copies), up to
//   `sample_bytes`.
// - Training: the append that fills the sample starts a training thread (ZDICT, off the append's
//   path); appends go on meanwhile with the dictionary they had. The new dictionary gets the next
//   id (the largest on disk + 1), is written to its file atomically and durably, and only then
//   becomes current: no batch ever names a dictionary that is not durable.
// - Use: batches are compressed with the current dictionary. The ratio of the batches compressed
//   with it is measured over windows of `window_bytes` (uncompressed); the first window after it
//   became current (or after the partition opened) is its baseline (not the ratio on its own
//   samples, which flatters it), and a later window whose ratio falls below `retrain_below` times
//   the baseline starts sampling again; the next dictionary replaces it (the old one stays:
//   segments need it).
// - Removal: a dictionary that is not current is removed once no retained record can have been
//   compressed with it: no append holding it is in flight, and the last offset written with it
//   (as seen by this process; for a dictionary superseded before the partition was opened, the
//   log's end at open, conservatively) is below the log start. Retention and DeleteRecords call
//   Collect after deleting segments; each removal is logged. A topic deletion removes them with the
//   directory. The log cleaner (log_cleaner.h) compresses a batch it rewrites with the dictionary
//   the batch named, and keeps its offsets, so cleaned segments name no dictionary at an offset
//   where none was named before: this rule covers them with no bookkeeping of their own (and
//   Collect runs under the cleaner's lock, never during a pass).
//
// Thread-safety: every method is thread-safe; mu_ is a leaf lock (PartitionLog calls NoteWritten
// under its own mu_). The training thread holds no lock while it trains or writes the file.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "segment/base/clock.h"
#include "segment/base/codec.h"
#include "segment/dictionary.h"
#include "segment/io/file_system.h"

namespace sluice::engine {

using base::Offset;
using base::Result;
using base::Status;

struct DictionaryOptions {
  size_t dictionary_bytes = 64 << 10;  // capacity of a trained dictionary
  size_t sample_bytes = 2 << 20;       // records sampled before training
  size_t max_sample_bytes = 64 << 10;  // a larger records section is sampled cut to this
  size_t window_bytes = 4 << 20;       // uncompressed bytes per ratio measurement
  double retrain_below = 0.8;          // retrain when a window's ratio < this x trained ratio
  // Train on a thread of its own (false: on the append that fills the sample, which then waits
  // for it; for tests, which must know when a dictionary is in use).
  bool train_in_background = true;
};

class PartitionDictionary {
 public:
  // Reads the dictionary files of `dir` (the highest id is current, if it loads; a damaged one is
  // reported and kept, and a new one is trained). `log_end` is the log's next offset at open.
  // `fs` and `clock` must outlive this object.
  static Result<std::unique_ptr<PartitionDictionary>> Open(io::FileSystem& fs, std::string dir,
                                                           const base::Clock& clock, Offset log_end,
                                                           DictionaryOptions options = {});
  ~PartitionDictionary();  // waits for a training thread
  PartitionDictionary(const PartitionDictionary&) = delete;
  PartitionDictionary& operator=(const PartitionDictionary&) = delete;

  // What an append compresses with. While it is held, the dictionary is not removed; hold it until
  // the batches are given their offsets (PartitionLog::AppendBatches/Async returned).
  class Use {
   public:
    Use() = default;
    Use(Use&& other) noexcept;
    Use& operator=(Use&& other) noexcept;
    ~Use();
    const base::ZstdDictionary* get() const { return dict_.get(); }

   private:
    friend class PartitionDictionary;
    PartitionDictionary* owner_ = nullptr;
    std::shared_ptr<const base::ZstdDictionary> dict_;
  };
  // The current dictionary at `level` (empty when there is none yet).
  Use Acquire(int level);

  // Records one uncompressed records section the broker compressed into `compressed_bytes` with
  // `used` (nullptr: without a dictionary): a sample while sampling, a ratio measurement
  // otherwise. `next_offset` is the log's next offset (the new dictionary's first offset). May
  // start the training thread.
  void Observe(base::Bytes records, size_t compressed_bytes, const base::ZstdDictionary* used,
               Offset next_offset);

  // The writer gave batches compressed with dictionary `id` offsets up to `last_offset`.
  void NoteWritten(uint32_t id, Offset last_offset);

  // Removes the files of the dictionaries no record at or above `log_start` can need.
  Status Collect(Offset log_start);

  // The readers' view of the directory's dictionaries (also those written from now on).
  std::shared_ptr<const segment::DictionaryStore> store() const { return store_; }

 private:
  PartitionDictionary(io::FileSystem& fs, std::string dir, const base::Clock& clock,
                      DictionaryOptions options);
  // The training thread's work: trains on `samples`, writes the file, installs it.
  void Train(std::vector<std::string> samples, uint32_t id, int level, Offset first_offset);

  io::FileSystem& fs_;
  const std::string dir_;
  const base::Clock& clock_;
  const DictionaryOptions options_;
  std::shared_ptr<segment::DictionaryStore> store_;

  mutable std::mutex mu_;  // guards the fields below
  std::shared_ptr<const base::ZstdDictionary> current_;
  double baseline_ratio_ = 0;  // current_'s ratio over its first window (0: not measured yet)
  uint32_t next_id_ = segment::kFirstDictionaryId;
  bool sampling_ = true;
  bool training_ = false;
  std::vector<std::string> samples_;
  size_t sampled_bytes_ = 0;
  uint64_t window_in_ = 0;   // uncompressed bytes of the current window
  uint64_t window_out_ = 0;  // their compressed bytes
  int last_level_ = 3;
  // Per dictionary id on disk: the last offset written with it (nullopt: none yet seen) and the
  // appends holding it now.
  struct Usage {
    std::optional<Offset> last_written;
    int in_flight = 0;
  };
  std::map<uint32_t, Usage> usage_;
  std::thread trainer_;
};

}  // namespace sluice::engine
