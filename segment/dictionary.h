#pragma once

// Partition dictionaries: the zstd dictionaries a partition's batches were compressed with
// (topic config compression.zstd.dictionary=auto), one small file each beside the segments:
// `<partition dir>/<id, 10 digits>.zdict` (FORMAT.md, "Dictionaries"). A zstd frame names its
// dictionary by the id in its own header; that id is the file's name. The file holds the
// dictionary whole with a checksum, and is written atomically and durably before any batch
// compressed with it is written, so a batch never names a dictionary that was not durable first.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "segment/base/codec.h"
#include "segment/base/result.h"
#include "segment/base/strong_int.h"
#include "segment/io/file_system.h"

namespace sluice::segment {

using base::Bytes;
using base::Offset;
using base::Result;
using base::Status;

// The lowest id sluice gives a dictionary: zstd reserves [1, 32767] for registered dictionaries.
inline constexpr uint32_t kFirstDictionaryId = 32768;

// One dictionary file's contents.
struct DictionaryFile {
  uint32_t id = 0;                   // the zstd dictionary id; equals the id inside `content`
  Offset first_offset;               // the partition's next offset when it was trained
  int64_t created_ms = 0;            // when it was trained (ms since the epoch)
  uint32_t sample_bytes = 0;         // bytes of records it was trained on
  uint32_t trained_ratio_milli = 0;  // compression ratio with it on those samples, x1000
  std::string content;               // the zstd dictionary
};

// `<id, 10 digits>.zdict`.
std::string DictionaryFileName(uint32_t id);
// The id in a dictionary file name; nullopt for any other name.
std::optional<uint32_t> ParseDictionaryFileName(const std::string& name);

std::string EncodeDictionaryFile(const DictionaryFile& file);
// kCorruption naming `path` for a damaged file (envelope, payload, or an id that disagrees with the
// name or the content), kUnsupportedVersion for a newer one.
Result<DictionaryFile> DecodeDictionaryFile(Bytes file, const std::string& path);
// Writes `dir`'s file for `file.id` atomically and durably (FORMAT.md, "Small files").
Status WriteDictionaryFile(io::FileSystem& fs, const std::string& dir, const DictionaryFile& file);
// Reads and decodes `dir`'s file for `id`; kNotFound when it does not exist.
Result<DictionaryFile> ReadDictionaryFile(io::FileSystem& fs, const std::string& dir, uint32_t id);
// The ids of the dictionary files in `dir`, ascending.
Result<std::vector<uint32_t>> ListDictionaryIds(io::FileSystem& fs, const std::string& dir);

// The dictionaries of one partition directory, for readers: each is loaded from its file the first
// time a frame names it, then kept. A dictionary that cannot be loaded is an error naming its file
// and the repair (never a guess, never a deletion); it is tried again at the next read, so a
// restored file is picked up. A loaded dictionary stays loaded after its file is removed (readers
// may still hold the deleted segments that need it). Thread-safe. `fs` must outlive the store.
class DictionaryStore final : public base::ZstdDictionaries {
 public:
  DictionaryStore(io::FileSystem& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}

  Result<std::shared_ptr<const base::ZstdDictionary>> Find(uint32_t id) const override;
  // Adds a dictionary the writer just wrote (no read of its file).
  void Add(std::shared_ptr<const base::ZstdDictionary> dict) const;

  const std::string& dir() const { return dir_; }

 private:
  io::FileSystem& fs_;
  const std::string dir_;
  mutable std::mutex mu_;  // guards loaded_
  mutable std::map<uint32_t, std::shared_ptr<const base::ZstdDictionary>> loaded_;
};

}  // namespace sluice::segment
