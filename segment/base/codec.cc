#include "segment/base/codec.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>
#define ZDICT_STATIC_LINKING_ONLY  // the fastCover trainer's parameters
#include <zdict.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace sluice::base {

// The zstd handles of a ZstdDictionary, for this file only.
struct ZstdDictionaryAccess {
  static const ZSTD_DDict* DDict(const ZstdDictionary& d) {
    return static_cast<const ZSTD_DDict*>(d.ddict_);
  }
  static const ZSTD_CDict* CDict(const ZstdDictionary& d) {
    return static_cast<const ZSTD_CDict*>(d.cdict_);
  }
};

namespace {

Error Corrupt(std::string_view codec, std::string_view detail) {
  return MakeError(ErrorCode::kCorruption,
                   std::string(codec) + " data is malformed: " + std::string(detail));
}
Error TooBig(std::string_view codec, size_t max) {
  return MakeError(ErrorCode::kTooLarge, std::string(codec) + " data decompresses to more than " +
                                             std::to_string(max) + " bytes");
}

// --- zstd -------------------------------------------------------------------------------------

struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
};
ZstdContexts& Zstd() {
  thread_local ZstdContexts ctx;
  return ctx;
}

Status ZstdCompress(int level, Bytes in, std::string& out) {
  // Compressed into this thread's scratch and copied out at its size: growing `out` to the bound
  // would zero-fill (then keep) room for the whole input, where a frame is mostly a fraction of
  // it. Inputs beyond kMaxScratch (never a batch of the default max.message.bytes) go directly.
  constexpr size_t kMaxScratch = 4 << 20;
  thread_local std::unique_ptr<char[]> scratch;
  thread_local size_t scratch_bytes = 0;
  const size_t bound = ZSTD_compressBound(in.size());
  const size_t old = out.size();
  char* dst = nullptr;
  if (bound <= kMaxScratch) {
    if (scratch_bytes < bound) {
      scratch_bytes = std::max(bound, size_t{64} << 10);
      scratch = std::make_unique_for_overwrite<char[]>(scratch_bytes);
    }
    dst = scratch.get();
  } else {
    out.resize(old + bound);
    dst = out.data() + old;
  }
  const size_t n =
      ZSTD_compressCCtx(Zstd().c, dst, bound, in.data(), in.size(), level == 0 ? 1 : level);
  if (ZSTD_isError(n)) {
    out.resize(old);
    return MakeError(ErrorCode::kInternal, std::string("zstd compress: ") + ZSTD_getErrorName(n));
  }
  if (dst == scratch.get()) {
    out.append(dst, n);
  } else {
    out.resize(old + n);
  }
  return {};
}

// The most a zstd frame of `frame_bytes` bytes can decompress to. A block holds at most 128 KiB
// (ZSTD_BLOCKSIZE_MAX) and takes at least 4 bytes (3-byte header, 1 RLE byte), so a frame header
// declaring more than this is lying; trusting it would allocate up to the caller's limit (1 GiB on
// the produce path) for a few bytes of input.
uint64_t ZstdMaxContent(size_t frame_bytes) {
  return (uint64_t{frame_bytes} / 4 + 1) * (128 * 1024);
}

// The dictionary the frame at `in` names, if any: nullptr for none; an error when it names one
// that `dicts` cannot give (or there is no `dicts`).
Result<std::shared_ptr<const ZstdDictionary>> FrameDictionary(Bytes in,
                                                              const ZstdDictionaries* dicts) {
  const uint32_t id = ZstdFrameDictionaryId(in);
  if (id == 0) return std::shared_ptr<const ZstdDictionary>();
  if (dicts == nullptr) {
    return MakeError(ErrorCode::kCorruption,
                     "zstd frame needs dictionary " + std::to_string(id) +
                         ", and this reader has no dictionaries (only sluice's partition "
                         "dictionaries are valid)");
  }
  ASSIGN_OR_RETURN(auto dict, dicts->Find(id));
  if (dict == nullptr || dict->id() != id) {
    return MakeError(ErrorCode::kCorruption,
                     "zstd dictionary " + std::to_string(id) + " not found");
  }
  return dict;
}

Status ZstdDecompress(Bytes in, std::string& out, size_t max, const ZstdDictionaries* dicts) {
  const size_t old = out.size();
  // A batch may hold several concatenated frames: each with a recorded content size is decoded
  // alone (given all of them, ZSTD_decompressDCtx would decode every frame into room sized for the
  // first). A loop, not recursion: a batch of many tiny frames must not exhaust the stack.
  for (;;) {
    unsigned long long known = ZSTD_getFrameContentSize(in.data(), in.size());
    if (known == ZSTD_CONTENTSIZE_UNKNOWN || known == ZSTD_CONTENTSIZE_ERROR) break;
    if (known > max - (out.size() - old)) {
      out.resize(old);
      return TooBig("zstd", max);
    }
    size_t frame_size = ZSTD_findFrameCompressedSize(in.data(), in.size());
    if (ZSTD_isError(frame_size)) {
      out.resize(old);
      return Corrupt("zstd", ZSTD_getErrorName(frame_size));
    }
    if (known > ZstdMaxContent(frame_size)) {
      out.resize(old);
      return Corrupt("zstd", "frame declares more content than its blocks can hold");
    }
    auto dict = FrameDictionary(in, dicts);
    if (!dict) {
      out.resize(old);
      return std::move(dict).error();
    }
    const size_t cur = out.size();
    out.resize(cur + known);
    size_t n = *dict == nullptr
                   ? ZSTD_decompressDCtx(Zstd().d, out.data() + cur, known, in.data(), frame_size)
                   : ZSTD_decompress_usingDDict(Zstd().d, out.data() + cur, known, in.data(),
                                                frame_size, ZstdDictionaryAccess::DDict(**dict));
    if (ZSTD_isError(n) || n != known) {
      out.resize(old);
      return Corrupt("zstd", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame");
    }
    in = in.subspan(frame_size);
    if (in.empty()) return {};
  }
  max -= out.size() - old;
  // Streaming: producers that did not record the content size. The decoder allocates the window
  // the frame header asks for, up to zstd's own limit (ZSTD_d_windowLogMax, 128 MiB by default).
  // A dictionary referenced here is sticky on the thread's context: it is dropped again below, so
  // that no later frame is decoded with it.
  auto dict = FrameDictionary(in, dicts);
  if (!dict) {
    out.resize(old);
    return std::move(dict).error();
  }
  ZSTD_DCtx_reset(Zstd().d, ZSTD_reset_session_only);
  if (*dict != nullptr) ZSTD_DCtx_refDDict(Zstd().d, ZstdDictionaryAccess::DDict(**dict));
  struct DropDictionary {
    ~DropDictionary() { ZSTD_DCtx_refDDict(Zstd().d, nullptr); }
  } drop;
  const size_t stream_start = out.size();
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  size_t ret = 1;
  while (ib.pos < ib.size) {
    size_t chunk = ZSTD_DStreamOutSize();
    size_t cur = out.size();
    out.resize(cur + chunk);
    ZSTD_outBuffer ob{out.data() + cur, chunk, 0};
    ret = ZSTD_decompressStream(Zstd().d, &ob, &ib);
    out.resize(cur + ob.pos);
    if (ZSTD_isError(ret)) {
      out.resize(old);
      return Corrupt("zstd", ZSTD_getErrorName(ret));
    }
    if (out.size() - stream_start > max) {
      out.resize(old);
      return TooBig("zstd", max);
    }
    if (ret == 0 && ib.pos == ib.size) break;
    if (ob.pos == 0 && ib.pos == ib.size) break;
  }
  if (ret != 0) {
    out.resize(old);
    return Corrupt("zstd", "truncated frame");
  }
  return {};
}

// --- lz4 (LZ4F frames, as Kafka's magic-2 batches use) ------------------------------------------

Status Lz4Compress(Bytes in, std::string& out) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentSize = in.size();
  size_t old = out.size();
  out.resize(old + LZ4F_compressFrameBound(in.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data() + old, out.size() - old, in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) {
    out.resize(old);
    return MakeError(ErrorCode::kInternal, std::string("lz4 compress: ") + LZ4F_getErrorName(n));
  }
  out.resize(old + n);
  return {};
}

struct Lz4DCtx {
  LZ4F_dctx* ctx = nullptr;
  Lz4DCtx() { LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION); }
  ~Lz4DCtx() { LZ4F_freeDecompressionContext(ctx); }
};

Status Lz4Decompress(Bytes in, std::string& out, size_t max) {
  thread_local Lz4DCtx d;
  LZ4F_resetDecompressionContext(d.ctx);
  size_t old = out.size();
  const auto* src = reinterpret_cast<const char*>(in.data());
  size_t src_left = in.size();
  size_t hint = 1;
  while (src_left > 0 && hint != 0) {
    size_t cur = out.size();
    size_t chunk = 64 * 1024;
    out.resize(cur + chunk);
    size_t dst_n = chunk;
    size_t src_n = src_left;
    hint = LZ4F_decompress(d.ctx, out.data() + cur, &dst_n, src, &src_n, nullptr);
    out.resize(cur + dst_n);
    if (LZ4F_isError(hint)) {
      out.resize(old);
      return Corrupt("lz4", LZ4F_getErrorName(hint));
    }
    if (out.size() - old > max) {
      out.resize(old);
      return TooBig("lz4", max);
    }
    src += src_n;
    src_left -= src_n;
    if (src_n == 0 && dst_n == 0) break;
  }
  if (hint != 0) {
    out.resize(old);
    return Corrupt("lz4", "truncated frame");
  }
  return {};
}

// --- gzip -------------------------------------------------------------------------------------

Status GzipCompress(int level, Bytes in, std::string& out) {
  z_stream zs{};
  if (deflateInit2(&zs, level == 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, 15 + 16, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return MakeError(ErrorCode::kInternal, "gzip: deflateInit2 failed");
  }
  size_t old = out.size();
  out.resize(old + deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
  zs.avail_out = static_cast<uInt>(out.size() - old);
  int rc = deflate(&zs, Z_FINISH);
  size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    out.resize(old);
    return MakeError(ErrorCode::kInternal, "gzip: deflate did not finish");
  }
  out.resize(old + produced);
  return {};
}

Status GzipDecompress(Bytes in, std::string& out, size_t max) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return MakeError(ErrorCode::kInternal, "gzip: init");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  size_t old = out.size();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    size_t cur = out.size();
    size_t chunk = 64 * 1024;
    out.resize(cur + chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + cur);
    zs.avail_out = static_cast<uInt>(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(cur + chunk - zs.avail_out);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      out.resize(old);
      return Corrupt("gzip", zs.msg != nullptr ? zs.msg : "inflate failed");
    }
    if (out.size() - old > max) {
      out.resize(old);
      return TooBig("gzip", max);
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      out.resize(old);
      return Corrupt("gzip", "truncated stream");
    }
  }
  return {};
}

// --- snappy -----------------------------------------------------------------------------------

constexpr unsigned char kXerialMagic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

// A snappy element yields at most 64 bytes from at least 3 (a copy with a 2-byte offset), so a
// block declaring more than 22 times its size is lying; trusting it would allocate up to the
// caller's limit for a few bytes of input.
constexpr size_t kSnappyMaxRatio = 22;

Status SnappyBlock(const char* p, size_t n, std::string& out, size_t old, size_t max) {
  size_t len = 0;
  if (!snappy::GetUncompressedLength(p, n, &len)) return Corrupt("snappy", "bad block header");
  if (len / kSnappyMaxRatio > n) {
    return Corrupt("snappy", "block declares more data than its bytes can hold");
  }
  if (out.size() - old + len > max) return TooBig("snappy", max);
  size_t cur = out.size();
  out.resize(cur + len);
  if (!snappy::RawUncompress(p, n, out.data() + cur)) {
    out.resize(old);
    return Corrupt("snappy", "bad block");
  }
  return {};
}

Status SnappyDecompress(Bytes in, std::string& out, size_t max) {
  const auto* p = reinterpret_cast<const char*>(in.data());
  size_t old = out.size();
  if (in.size() >= 16 && std::memcmp(p, kXerialMagic, 8) == 0) {
    size_t pos = 16;  // magic, version, compatible version
    while (pos < in.size()) {
      // Errors leave `out` as it was, like every other path (earlier chunks were appended).
      if (in.size() - pos < 4) {
        out.resize(old);
        return Corrupt("snappy", "truncated xerial block length");
      }
      auto n = LoadBE<uint32_t>(in.data() + pos);
      pos += 4;
      if (n > in.size() - pos) {
        out.resize(old);
        return Corrupt("snappy", "xerial block past the end");
      }
      Status s = SnappyBlock(p + pos, n, out, old, max);
      if (!s) {
        out.resize(old);
        return s;
      }
      pos += n;
    }
    return {};
  }
  return SnappyBlock(p, in.size(), out, old, max);
}

}  // namespace

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kGzip:
      return "gzip";
    case Codec::kSnappy:
      return "snappy";
    case Codec::kLz4:
      return "lz4";
    case Codec::kZstd:
      return "zstd";
  }
  return "unknown";
}

std::optional<Codec> ParseCodec(std::string_view name) {
  for (Codec c : {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd}) {
    if (CodecName(c) == name) return c;
  }
  return std::nullopt;
}

Status Compress(Codec codec, int level, Bytes input, std::string& out) {
  switch (codec) {
    case Codec::kNone:
      out.append(AsString(input));
      return {};
    case Codec::kZstd:
      return ZstdCompress(level, input, out);
    case Codec::kLz4:
      return Lz4Compress(input, out);
    case Codec::kGzip:
      return GzipCompress(level, input, out);
    case Codec::kSnappy: {
      std::string tmp;
      snappy::Compress(reinterpret_cast<const char*>(input.data()), input.size(), &tmp);
      out += tmp;
      return {};
    }
  }
  return MakeError(ErrorCode::kInvalidArgument, "unknown codec");
}

Status Decompress(Codec codec, Bytes input, std::string& out, size_t max_output_bytes,
                  const ZstdDictionaries* dictionaries) {
  switch (codec) {
    case Codec::kNone:
      if (input.size() > max_output_bytes) return TooBig("uncompressed", max_output_bytes);
      out.append(AsString(input));
      return {};
    case Codec::kZstd:
      return ZstdDecompress(input, out, max_output_bytes, dictionaries);
    case Codec::kLz4:
      return Lz4Decompress(input, out, max_output_bytes);
    case Codec::kGzip:
      return GzipDecompress(input, out, max_output_bytes);
    case Codec::kSnappy:
      return SnappyDecompress(input, out, max_output_bytes);
  }
  return MakeError(ErrorCode::kInvalidArgument, "unknown codec");
}

Result<size_t> DecompressReusing(Codec codec, Bytes input, std::string& buf,
                                 size_t max_output_bytes, const ZstdDictionaries* dictionaries) {
  if (codec == Codec::kZstd) {
    const unsigned long long known = ZSTD_getFrameContentSize(input.data(), input.size());
    const size_t frame = ZSTD_findFrameCompressedSize(input.data(), input.size());
    if (known != ZSTD_CONTENTSIZE_UNKNOWN && known != ZSTD_CONTENTSIZE_ERROR &&
        !ZSTD_isError(frame) && frame == input.size()) {
      if (known > max_output_bytes) return TooBig("zstd", max_output_bytes);
      if (known > ZstdMaxContent(frame)) {
        return Corrupt("zstd", "frame declares more content than its blocks can hold");
      }
      ASSIGN_OR_RETURN(auto dict, FrameDictionary(input, dictionaries));
      if (buf.size() < known) buf.resize(known);
      const size_t n = dict == nullptr
                           ? ZSTD_decompressDCtx(Zstd().d, buf.data(), known, input.data(), frame)
                           : ZSTD_decompress_usingDDict(Zstd().d, buf.data(), known, input.data(),
                                                        frame, ZstdDictionaryAccess::DDict(*dict));
      if (ZSTD_isError(n) || n != known) {
        return Corrupt("zstd", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame");
      }
      return static_cast<size_t>(known);
    }
  }
  buf.clear();
  RETURN_IF_ERROR(Decompress(codec, input, buf, max_output_bytes, dictionaries));
  return buf.size();
}

// --- zstd dictionaries
// ----------------------------------------------------------------------------

Result<std::shared_ptr<const ZstdDictionary>> ZstdDictionary::Load(Bytes content, int level) {
  const unsigned id = ZSTD_getDictID_fromDict(content.data(), content.size());
  if (id == 0) {
    return MakeError(ErrorCode::kCorruption,
                     "not a zstd dictionary (no dictionary header, or dictionary id 0)");
  }
  std::shared_ptr<ZstdDictionary> d(new ZstdDictionary());
  d->content_.assign(AsString(content));
  d->id_ = id;
  d->level_ = level == 0 ? 3 : level;
  d->ddict_ = ZSTD_createDDict(d->content_.data(), d->content_.size());
  d->cdict_ = ZSTD_createCDict(d->content_.data(), d->content_.size(), d->level_);
  if (d->ddict_ == nullptr || d->cdict_ == nullptr) {
    return MakeError(ErrorCode::kCorruption, "zstd dictionary " + std::to_string(id) +
                                                 " is malformed (its tables do not load)");
  }
  return std::shared_ptr<const ZstdDictionary>(std::move(d));
}

ZstdDictionary::~ZstdDictionary() {
  ZSTD_freeCDict(static_cast<ZSTD_CDict*>(cdict_));
  ZSTD_freeDDict(static_cast<ZSTD_DDict*>(ddict_));
}

Status ZstdDictionary::Compress(Bytes input, std::string& out) const {
  const size_t old = out.size();
  out.resize(old + ZSTD_compressBound(input.size()));
  const size_t n =
      ZSTD_compress_usingCDict(Zstd().c, out.data() + old, out.size() - old, input.data(),
                               input.size(), ZstdDictionaryAccess::CDict(*this));
  if (ZSTD_isError(n)) {
    out.resize(old);
    return MakeError(ErrorCode::kInternal,
                     std::string("zstd compress with a dictionary: ") + ZSTD_getErrorName(n));
  }
  out.resize(old + n);
  return {};
}

uint32_t ZstdFrameDictionaryId(Bytes input) {
  return ZSTD_getDictID_fromFrame(input.data(), input.size());
}

Result<std::string> TrainZstdDictionary(std::span<const std::string> samples, size_t capacity_bytes,
                                        uint32_t id, int level) {
  if (id == 0) return MakeError(ErrorCode::kInvalidArgument, "dictionary id 0 names no dictionary");
  std::string flat;
  std::vector<size_t> sizes;
  sizes.reserve(samples.size());
  for (const std::string& s : samples) {
    if (s.empty()) continue;
    flat += s;
    sizes.push_back(s.size());
  }
  std::string dict(capacity_bytes, '\0');
  ZDICT_fastCover_params_t params{};
  params.d = 8;
  params.steps = 4;
  params.nbThreads = 1;
  params.splitPoint = 1.0;
  params.zParams.compressionLevel = level == 0 ? 3 : level;
  params.zParams.dictID = id;
  const size_t n =
      ZDICT_optimizeTrainFromBuffer_fastCover(dict.data(), dict.size(), flat.data(), sizes.data(),
                                              static_cast<unsigned>(sizes.size()), &params);
  if (ZDICT_isError(n)) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("zstd dictionary training: ") +
                                                      ZDICT_getErrorName(n) + " (" +
                                                      std::to_string(sizes.size()) + " samples, " +
                                                      std::to_string(flat.size()) + " bytes)");
  }
  dict.resize(n);
  return dict;
}

}  // namespace sluice::base
