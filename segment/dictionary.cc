#include "segment/dictionary.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "segment/base/coding.h"
#include "segment/format.h"
#include "segment/small_file.h"

namespace sluice::segment {

using base::ErrorCode;
using base::MakeError;

namespace {

const SmallFileKind& DictionaryKind() {
  namespace f = format;
  static const SmallFileKind kind{f::kDictionaryMagic, f::kDictionaryMinReadableVersion,
                                  f::kDictionaryCurrentVersion};
  return kind;
}

constexpr char kSuffix[] = ".zdict";
constexpr size_t kIdDigits = 10;

std::string PathOf(const std::string& dir, uint32_t id) {
  return dir + "/" + DictionaryFileName(id);
}

}  // namespace

std::string DictionaryFileName(uint32_t id) {
  std::string digits = std::to_string(id);
  return std::string(kIdDigits - std::min(kIdDigits, digits.size()), '0') + digits + kSuffix;
}

std::optional<uint32_t> ParseDictionaryFileName(const std::string& name) {
  constexpr size_t kSuffixSize = sizeof(kSuffix) - 1;
  if (name.size() != kIdDigits + kSuffixSize ||
      name.compare(kIdDigits, kSuffixSize, kSuffix) != 0) {
    return std::nullopt;
  }
  uint32_t id = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + kIdDigits, id);
  if (ec != std::errc() || ptr != name.data() + kIdDigits || id == 0) return std::nullopt;
  return id;
}

std::string EncodeDictionaryFile(const DictionaryFile& file) {
  std::string payload(format::kDictionaryHeaderSize, '\0');
  auto* p = reinterpret_cast<std::byte*>(payload.data());
  base::StoreLE<uint32_t>(p, file.id);
  base::StoreLE<uint32_t>(p + 4, 0);
  base::StoreLE<int64_t>(p + 8, file.first_offset.value());
  base::StoreLE<int64_t>(p + 16, file.created_ms);
  base::StoreLE<uint32_t>(p + 24, file.sample_bytes);
  base::StoreLE<uint32_t>(p + 28, file.trained_ratio_milli);
  payload += file.content;
  return EncodeSmallFile(DictionaryKind(), base::AsBytes(payload));
}

Result<DictionaryFile> DecodeDictionaryFile(Bytes bytes, const std::string& path) {
  ASSIGN_OR_RETURN(SmallFileContents contents, DecodeSmallFile(DictionaryKind(), bytes, path));
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  const std::string& payload = contents.payload;
  if (payload.size() <= format::kDictionaryHeaderSize ||
      payload.size() - format::kDictionaryHeaderSize > format::kMaxDictionaryBytes) {
    return bad("dictionary payload of " + std::to_string(payload.size()) + " bytes");
  }
  const auto* p = reinterpret_cast<const std::byte*>(payload.data());
  DictionaryFile file;
  file.id = base::LoadLE<uint32_t>(p);
  if (base::LoadLE<uint32_t>(p + 4) != 0) return bad("reserved field is not 0");
  file.first_offset = Offset(base::LoadLE<int64_t>(p + 8));
  file.created_ms = base::LoadLE<int64_t>(p + 16);
  file.sample_bytes = base::LoadLE<uint32_t>(p + 24);
  file.trained_ratio_milli = base::LoadLE<uint32_t>(p + 28);
  file.content = payload.substr(format::kDictionaryHeaderSize);
  if (file.first_offset < Offset(0)) return bad("negative first offset");
  const size_t slash = path.find_last_of('/');
  const auto named =
      ParseDictionaryFileName(slash == std::string::npos ? path : path.substr(slash + 1));
  if (named && *named != file.id) {
    return bad("holds dictionary " + std::to_string(file.id) + ", not the one its name says");
  }
  return file;
}

Status WriteDictionaryFile(io::FileSystem& fs, const std::string& dir, const DictionaryFile& file) {
  const std::string image = EncodeDictionaryFile(file);
  return io::WriteFileAtomic(fs, PathOf(dir, file.id), base::AsBytes(image),
                             io::Durability::kDurable);
}

Result<DictionaryFile> ReadDictionaryFile(io::FileSystem& fs, const std::string& dir, uint32_t id) {
  const std::string path = PathOf(dir, id);
  ASSIGN_OR_RETURN(std::string bytes, fs.ReadFile(path));
  return DecodeDictionaryFile(base::AsBytes(bytes), path);
}

Result<std::vector<uint32_t>> ListDictionaryIds(io::FileSystem& fs, const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(dir));
  std::vector<uint32_t> ids;
  for (const std::string& n : names) {
    if (auto id = ParseDictionaryFileName(n)) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::shared_ptr<const base::ZstdDictionary>> DictionaryStore::Find(uint32_t id) const {
  {
    std::lock_guard lock(mu_);
    auto it = loaded_.find(id);
    if (it != loaded_.end()) return it->second;
  }
  // Loaded without the lock: a file read. Two readers racing load it twice; one copy is kept.
  const std::string path = PathOf(dir_, id);
  const std::string repair =
      " (the batches compressed with it cannot be read until the file is restored from a backup "
      "of this partition directory; `sluice verify` lists every dictionary a partition is missing)";
  auto file = ReadDictionaryFile(fs_, dir_, id);
  if (!file) {
    base::Error e = std::move(file).error();
    if (e.code == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kCorruption,
                       path + ": zstd dictionary " + std::to_string(id) + " is missing" + repair);
    }
    e.context = "zstd dictionary " + std::to_string(id) + ": " + e.context + repair;
    if (e.code != ErrorCode::kUnsupportedVersion) e.code = ErrorCode::kCorruption;
    return e;
  }
  auto dict = base::ZstdDictionary::Load(base::AsBytes(file->content), 0);
  if (!dict || (*dict)->id() != id) {
    return MakeError(ErrorCode::kCorruption,
                     path + ": does not hold zstd dictionary " + std::to_string(id) +
                         (dict ? "" : ": " + dict.error().context) + repair);
  }
  std::lock_guard lock(mu_);
  return loaded_.try_emplace(id, std::move(*dict)).first->second;
}

void DictionaryStore::Add(std::shared_ptr<const base::ZstdDictionary> dict) const {
  std::lock_guard lock(mu_);
  const uint32_t id = dict->id();
  loaded_[id] = std::move(dict);
}

}  // namespace sluice::segment
