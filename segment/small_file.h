#pragma once

// The one envelope every small file of sluice is written in: catalog, partition metadata, recovery
// points, producer-id blocks, producer-state snapshots, ACLs (layout in FORMAT.md, "Small files";
// replay snapshots, which can be large, keep their own checksummed format). A file is a magic that
// names its kind, a version, flags, the payload's length, the payload, and an XXH3-64 over all of
// it, so that a torn, truncated, foreign or bit-flipped file is always detected, never half-read.
//
// Files are replaced atomically and durably (temporary file, fdatasync, rename, fsync of the
// directory): a reader sees the old file or the new one, whole.

#include <cstdint>
#include <string>

#include "segment/base/result.h"
#include "segment/format.h"
#include "segment/io/file_system.h"

namespace sluice::segment {

using base::Bytes;
using base::Result;
using base::Status;

// What a kind of small file accepts.
struct SmallFileKind {
  format::Magic magic;
  uint16_t min_readable_version;
  uint16_t current_version;
};

struct SmallFileContents {
  uint16_t version = 0;
  std::string payload;
};

// The file's bytes for `payload`, at the kind's current version.
std::string EncodeSmallFile(const SmallFileKind& kind, Bytes payload);

// Checks the envelope of `file` (named `path` in errors). A wrong magic, size, length or checksum
// is kCorruption; a version outside the kind's readable range or an unknown flag is
// kUnsupportedVersion. Files written before the envelope existed (version 1 of the recovery point
// and of producer-ids, whose length field was reserved and zero) are accepted when
// `legacy_payload_size` matches.
Result<SmallFileContents> DecodeSmallFile(const SmallFileKind& kind, Bytes file,
                                          const std::string& path, size_t legacy_payload_size = 0);

// Replaces `path` atomically and durably with the encoded payload.
Status WriteSmallFile(io::FileSystem& fs, const std::string& path, const SmallFileKind& kind,
                      Bytes payload);

// Reads and decodes `path`; kNotFound when it does not exist.
Result<SmallFileContents> ReadSmallFile(io::FileSystem& fs, const std::string& path,
                                        const SmallFileKind& kind, size_t legacy_payload_size = 0);

}  // namespace sluice::segment
