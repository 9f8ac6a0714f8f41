#include "engine/partition_dictionary.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "segment/base/log.h"
#include "segment/base/thread_priority.h"

namespace sluice::engine {

using base::ErrorCode;

namespace {

std::string Ratio(double r) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", r);
  return buf;
}

}  // namespace

PartitionDictionary::PartitionDictionary(io::FileSystem& fs, std::string dir,
                                         const base::Clock& clock, DictionaryOptions options)
    : fs_(fs),
      dir_(std::move(dir)),
      clock_(clock),
      options_(options),
      store_(std::make_shared<segment::DictionaryStore>(fs, dir_)) {}

PartitionDictionary::~PartitionDictionary() {
  if (trainer_.joinable()) trainer_.join();
}

Result<std::unique_ptr<PartitionDictionary>> PartitionDictionary::Open(io::FileSystem& fs,
                                                                       std::string dir,
                                                                       const base::Clock& clock,
                                                                       Offset log_end,
                                                                       DictionaryOptions options) {
  std::unique_ptr<PartitionDictionary> d(
      new PartitionDictionary(fs, std::move(dir), clock, options));
  ASSIGN_OR_RETURN(std::vector<uint32_t> ids, segment::ListDictionaryIds(fs, d->dir_));
  for (uint32_t id : ids) {
    // Written before this open: any record below the log's end may name it.
    if (log_end > Offset(0)) d->usage_[id].last_written = log_end - 1;
  }
  if (ids.empty()) return d;
  d->next_id_ = std::max(segment::kFirstDictionaryId, ids.back() + 1);
  // The newest is current, if it loads; if not, it stays on disk (the reads that need it say
  // so, and `sluice verify` names it) and a new one is trained.
  auto file = segment::ReadDictionaryFile(fs, d->dir_, ids.back());
  auto current = d->store_->Find(ids.back());
  if (!file || !current) {
    base::LogWarning(d->dir_ +
                     ": the newest zstd dictionary does not load; a new one is trained: " +
                     (current ? file.error() : current.error()).ToString());
    return d;
  }
  d->current_ = std::move(*current);
  d->sampling_ = false;
  return d;
}

PartitionDictionary::Use::Use(Use&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), dict_(std::move(other.dict_)) {}

PartitionDictionary::Use& PartitionDictionary::Use::operator=(Use&& other) noexcept {
  if (this != &other) {
    Use old(std::move(*this));
    owner_ = std::exchange(other.owner_, nullptr);
    dict_ = std::move(other.dict_);
  }
  return *this;
}

PartitionDictionary::Use::~Use() {
  if (owner_ == nullptr || dict_ == nullptr) return;
  std::lock_guard lock(owner_->mu_);
  auto it = owner_->usage_.find(dict_->id());
  if (it != owner_->usage_.end()) --it->second.in_flight;
}

PartitionDictionary::Use PartitionDictionary::Acquire(int level) {
  Use use;
  std::lock_guard lock(mu_);
  if (current_ == nullptr) return use;
  const int wanted = level == 0 ? 3 : level;
  if (current_->level() != wanted) {
    // compression.zstd.level changed: the same dictionary, prepared for the new level.
    auto reloaded = base::ZstdDictionary::Load(current_->content(), wanted);
    if (reloaded) current_ = std::move(*reloaded);
  }
  use.owner_ = this;
  use.dict_ = current_;
  ++usage_[current_->id()].in_flight;
  return use;
}

void PartitionDictionary::Observe(base::Bytes records, size_t compressed_bytes,
                                  const base::ZstdDictionary* used, Offset next_offset) {
  std::thread finished;
  std::vector<std::string> to_train;
  uint32_t id = 0;
  int level = 3;
  {
    std::lock_guard lock(mu_);
    if (used != nullptr) last_level_ = used->level();
    // Not while the next one trains: its drift is already known, and a second detection would
    // sample and train yet another one as soon as this training ends.
    if (used != nullptr && current_ != nullptr && used->id() == current_->id() && !sampling_ &&
        !training_) {
      window_in_ += records.size();
      window_out_ += compressed_bytes;
      if (window_in_ >= options_.window_bytes && window_out_ > 0) {
        const double ratio = static_cast<double>(window_in_) / static_cast<double>(window_out_);
        window_in_ = window_out_ = 0;
        if (baseline_ratio_ == 0) {
          baseline_ratio_ = ratio;  // the first window: what the dictionary does on new data
        } else if (ratio < options_.retrain_below * baseline_ratio_) {
          base::LogInfo(dir_ + ": zstd dictionary " + std::to_string(current_->id()) +
                        " compresses recent batches " + Ratio(ratio) + ":1, below " +
                        Ratio(options_.retrain_below) + " x its first " + Ratio(baseline_ratio_) +
                        ":1; sampling to train the next one");
          sampling_ = true;
        }
      }
    }
    if (!sampling_ || training_) return;
    const size_t n = std::min(records.size(), options_.max_sample_bytes);
    samples_.emplace_back(base::AsString(records.first(n)));
    sampled_bytes_ += n;
    if (sampled_bytes_ < options_.sample_bytes) return;
    training_ = true;
    sampling_ = false;
    to_train = std::move(samples_);
    samples_.clear();
    sampled_bytes_ = 0;
    id = next_id_++;
    level = used != nullptr ? used->level() : last_level_;
    if (options_.train_in_background) {
      finished = std::move(trainer_);
      trainer_ =
          std::thread([this, samples = std::move(to_train), id, level, next_offset]() mutable {
            base::LowerThisThreadPriority();  // background work: appends and reads go first
            Train(std::move(samples), id, level, next_offset);
          });
    }
  }
  if (finished.joinable()) finished.join();  // an earlier training, long done
  if (!options_.train_in_background) Train(std::move(to_train), id, level, next_offset);
}

void PartitionDictionary::Train(std::vector<std::string> samples, uint32_t id, int level,
                                Offset first_offset) {
  size_t sample_bytes = 0;
  for (const auto& s : samples) sample_bytes += s.size();
  auto fail = [&](const base::Error& e) {
    base::LogWarning(dir_ + ": zstd dictionary " + std::to_string(id) +
                     " not trained; batches stay compressed as they were, and sampling starts "
                     "again: " +
                     e.ToString());
    std::lock_guard lock(mu_);
    training_ = false;
    sampling_ = true;
  };
  auto content = base::TrainZstdDictionary(samples, options_.dictionary_bytes, id, level);
  if (!content) return fail(content.error());
  auto dict = base::ZstdDictionary::Load(base::AsBytes(*content), level);
  if (!dict) return fail(dict.error());
  // Its ratio on what it learned from (recorded in the file; drift is measured against new data).
  uint64_t in = 0;
  uint64_t out = 0;
  std::string scratch;
  for (const auto& s : samples) {
    scratch.clear();
    if (Status st = (*dict)->Compress(base::AsBytes(s), scratch); !st) return fail(st.error());
    in += s.size();
    out += scratch.size();
  }
  const double ratio = out == 0 ? 0 : static_cast<double>(in) / static_cast<double>(out);
  segment::DictionaryFile file;
  file.id = id;
  file.first_offset = first_offset;
  file.created_ms = clock_.NowMs();
  file.sample_bytes = static_cast<uint32_t>(std::min<size_t>(sample_bytes, UINT32_MAX));
  file.trained_ratio_milli = static_cast<uint32_t>(std::min(ratio * 1000, 4e9));
  file.content = *content;
  // Durable before any batch can name it.
  if (Status st = segment::WriteDictionaryFile(fs_, dir_, file); !st) return fail(st.error());
  store_->Add(*dict);
  {
    std::lock_guard lock(mu_);
    current_ = *dict;
    baseline_ratio_ = 0;
    usage_.try_emplace(id);
    window_in_ = window_out_ = 0;
    training_ = false;
  }
  base::LogInfo(dir_ + ": zstd dictionary " + std::to_string(id) + " (" +
                std::to_string(content->size()) + " bytes) trained on " +
                std::to_string(samples.size()) + " batches (" + std::to_string(sample_bytes) +
                " bytes): ratio " + Ratio(ratio) + ":1 on them; new batches use it");
}

void PartitionDictionary::NoteWritten(uint32_t id, Offset last_offset) {
  std::lock_guard lock(mu_);
  auto& u = usage_[id];
  if (!u.last_written || *u.last_written < last_offset) u.last_written = last_offset;
}

Status PartitionDictionary::Collect(Offset log_start) {
  std::vector<uint32_t> doomed;
  {
    std::lock_guard lock(mu_);
    for (auto it = usage_.begin(); it != usage_.end();) {
      const bool current = current_ != nullptr && current_->id() == it->first;
      const Usage& u = it->second;
      if (current || u.in_flight > 0 || (u.last_written && *u.last_written >= log_start)) {
        ++it;
        continue;
      }
      doomed.push_back(it->first);
      it = usage_.erase(it);
    }
  }
  Status result;
  for (uint32_t id : doomed) {
    const std::string path = dir_ + "/" + segment::DictionaryFileName(id);
    base::LogInfo("deleting zstd dictionary " + path + ": no record from the log start " +
                  std::to_string(log_start.value()) + " on was compressed with it");
    Status s = fs_.Remove(path);
    if (!s && s.error().code != ErrorCode::kNotFound && result) result = s;
  }
  return result;
}

}  // namespace sluice::engine
