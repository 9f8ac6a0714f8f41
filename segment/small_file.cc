#include "segment/small_file.h"

#include <cstring>

#include "segment/base/checksum.h"
#include "segment/base/coding.h"

namespace sluice::segment {

using base::ErrorCode;
using base::MakeError;

namespace {

constexpr size_t kHeaderSize = 16;  // magic, version, flags, payload length
constexpr size_t kChecksumSize = 8;
// Small files are small: anything larger is not one of ours.
constexpr size_t kMaxPayload = 64u << 20;

}  // namespace

std::string EncodeSmallFile(const SmallFileKind& kind, Bytes payload) {
  SLUICE_CHECK(payload.size() <= kMaxPayload, "small file payload too large");
  std::string out(kHeaderSize + payload.size() + kChecksumSize, '\0');
  auto* p = reinterpret_cast<std::byte*>(out.data());
  std::memcpy(p, kind.magic.data(), kind.magic.size());
  base::StoreLE<uint16_t>(p + 8, kind.current_version);
  base::StoreLE<uint16_t>(p + 10, 0);
  base::StoreLE<uint32_t>(p + 12, static_cast<uint32_t>(payload.size()));
  if (!payload.empty()) std::memcpy(p + kHeaderSize, payload.data(), payload.size());
  const size_t body = kHeaderSize + payload.size();
  base::StoreLE<uint64_t>(p + body, base::Xxh3(Bytes(p, body)));
  return out;
}

Result<SmallFileContents> DecodeSmallFile(const SmallFileKind& kind, Bytes file,
                                          const std::string& path, size_t legacy_payload_size) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  if (file.size() < kHeaderSize + kChecksumSize) {
    return bad("only " + std::to_string(file.size()) + " bytes");
  }
  if (std::memcmp(file.data(), kind.magic.data(), kind.magic.size()) != 0) {
    return bad("not a file of this kind (bad magic)");
  }
  const auto version = base::LoadLE<uint16_t>(file.data() + 8);
  const auto flags = base::LoadLE<uint16_t>(file.data() + 10);
  size_t length = base::LoadLE<uint32_t>(file.data() + 12);
  if (length == 0 && legacy_payload_size != 0 && version == 1) length = legacy_payload_size;
  if (length > kMaxPayload || file.size() != kHeaderSize + length + kChecksumSize) {
    return bad("length " + std::to_string(length) + " does not match the file's " +
               std::to_string(file.size()) + " bytes");
  }
  const size_t body = kHeaderSize + length;
  if (base::Xxh3(file.first(body)) != base::LoadLE<uint64_t>(file.data() + body)) {
    return bad("checksum mismatch");
  }
  // Checked after the checksum: a damaged version field is damage, not a newer format.
  if (version < kind.min_readable_version || version > kind.current_version) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     path + ": version " + std::to_string(version) + " (this sluice reads " +
                         std::to_string(kind.min_readable_version) + ".." +
                         std::to_string(kind.current_version) + ")");
  }
  if (flags != 0) {
    return MakeError(ErrorCode::kUnsupportedVersion,
                     path + ": unknown flags " + std::to_string(flags));
  }
  return SmallFileContents{version, std::string(base::AsString(file.subspan(kHeaderSize, length)))};
}

Status WriteSmallFile(io::FileSystem& fs, const std::string& path, const SmallFileKind& kind,
                      Bytes payload) {
  const std::string image = EncodeSmallFile(kind, payload);
  return io::WriteFileAtomic(fs, path, base::AsBytes(image), io::Durability::kDurable);
}

Result<SmallFileContents> ReadSmallFile(io::FileSystem& fs, const std::string& path,
                                        const SmallFileKind& kind, size_t legacy_payload_size) {
  ASSIGN_OR_RETURN(std::string file, fs.ReadFile(path));
  return DecodeSmallFile(kind, base::AsBytes(file), path, legacy_payload_size);
}

}  // namespace sluice::segment
