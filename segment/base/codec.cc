#include "segment/base/codec.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>

namespace sluice::base {
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
  size_t old = out.size();
  out.resize(old + ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compressCCtx(Zstd().c, out.data() + old, out.size() - old, in.data(), in.size(),
                               level == 0 ? 1 : level);
  if (ZSTD_isError(n)) {
    out.resize(old);
    return MakeError(ErrorCode::kInternal, std::string("zstd compress: ") + ZSTD_getErrorName(n));
  }
  out.resize(old + n);
  return {};
}

// The most a zstd frame of `frame_bytes` bytes can decompress to. A block holds at most 128 KiB
// (ZSTD_BLOCKSIZE_MAX) and takes at least 4 bytes (3-byte header, 1 RLE byte), so a frame header
// declaring more than this is lying; trusting it would allocate up to the caller's limit (1 GiB on
// the produce path) for a few bytes of input.
uint64_t ZstdMaxContent(size_t frame_bytes) {
  return (uint64_t{frame_bytes} / 4 + 1) * (128 * 1024);
}

Status ZstdDecompress(Bytes in, std::string& out, size_t max) {
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
    const size_t cur = out.size();
    out.resize(cur + known);
    size_t n = ZSTD_decompressDCtx(Zstd().d, out.data() + cur, known, in.data(), frame_size);
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
  ZSTD_DCtx_reset(Zstd().d, ZSTD_reset_session_only);
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

Status Decompress(Codec codec, Bytes input, std::string& out, size_t max_output_bytes) {
  switch (codec) {
    case Codec::kNone:
      if (input.size() > max_output_bytes) return TooBig("uncompressed", max_output_bytes);
      out.append(AsString(input));
      return {};
    case Codec::kZstd:
      return ZstdDecompress(input, out, max_output_bytes);
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
                                 size_t max_output_bytes) {
  if (codec == Codec::kZstd) {
    const unsigned long long known = ZSTD_getFrameContentSize(input.data(), input.size());
    const size_t frame = ZSTD_findFrameCompressedSize(input.data(), input.size());
    if (known != ZSTD_CONTENTSIZE_UNKNOWN && known != ZSTD_CONTENTSIZE_ERROR &&
        !ZSTD_isError(frame) && frame == input.size()) {
      if (known > max_output_bytes) return TooBig("zstd", max_output_bytes);
      if (known > ZstdMaxContent(frame)) {
        return Corrupt("zstd", "frame declares more content than its blocks can hold");
      }
      if (buf.size() < known) buf.resize(known);
      const size_t n = ZSTD_decompressDCtx(Zstd().d, buf.data(), known, input.data(), frame);
      if (ZSTD_isError(n) || n != known) {
        return Corrupt("zstd", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame");
      }
      return static_cast<size_t>(known);
    }
  }
  buf.clear();
  RETURN_IF_ERROR(Decompress(codec, input, buf, max_output_bytes));
  return buf.size();
}

}  // namespace sluice::base
