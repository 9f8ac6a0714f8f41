#pragma once

// Bodies of the libFuzzer targets for the parsers of sluice's data on disk, shared by the fuzz
// binaries (tests/fuzz/*_fuzz.cc, clang and -DSLUICE_FUZZ=ON only) and storage_corpus_test (every
// build, GCC included), which replays the checked-in corpora in tests/fuzz/corpus/<target>/.
//
// Each target decodes its input as the file (or file part) it models and checks what must hold
// whatever the bytes are: no crash, no read outside the input (ASan: the input is copied into an
// exactly sized heap buffer), no allocation beyond a small bound, errors of the documented codes
// only, and round trips where the format is canonical. A violation aborts (SLUICE_CHECK). Inputs
// guarded by a checksum are decoded twice: as given, and with their checksums (and lengths)
// recomputed, so that the fuzzer also reaches what lies behind the checksum.
//
// Each returns what it made of the bytes as given, for the corpus test's per-seed checks.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "segment/base/coding.h"
#include "segment/base/result.h"

namespace sluice::fuzz {

struct FuzzOutcome {
  // Why the input was rejected (for frames and segments: why the scan stopped early); nullopt if
  // all of it was accepted.
  std::optional<base::ErrorCode> error;
  // What was decoded before any error, one line per item, in a canonical text form.
  std::string summary;
};

// The targets' limit on a batch's decompressed records: above every seed, and small enough that no
// input makes a target allocate much (the engine's own limit is 1 GiB).
inline constexpr size_t kFuzzMaxDecompressedBytes = 8u << 20;

// A Kafka RecordBatch v2 as stored: header, CRC-32C, records (every codec, decompressed with the
// limit above); DecompressBatch and ComputeMaxTimestamp must agree with the record decoder.
FuzzOutcome FuzzRecordBatch(base::Bytes data);

// The frames of a segment file after its header (segment/frame.h), read from position 0 on with
// and without payload checksums.
FuzzOutcome FuzzFrames(base::Bytes data);

// A sparse index file (segment/segment_index.h) of the segment whose base offset the file names.
FuzzOutcome FuzzSegmentIndex(base::Bytes data);

// A segment on MemFs: input = u32 LE log length, the .log file's bytes, then the .index file's
// bytes (no index file when there are none). Opened as the active segment (recovery scan; then
// one frame appended and the segment reopened) and, on a fresh copy, as a sealed segment.
FuzzOutcome FuzzSegmentOpen(base::Bytes data);

// A replay snapshot file (engine/snapshot.h).
FuzzOutcome FuzzSnapshotFile(base::Bytes data);

// A record batch of __consumer_offsets, each record decoded as a committed offset or tombstone
// (engine/group_offsets.h).
FuzzOutcome FuzzOffsetsBatch(base::Bytes data);

// A producer-state snapshot (`<offset, 20 digits>.snapshot`, engine/producer_state.h), read as
// the file named after the offset it holds (a negative one as 0, which the file then does not
// match, as file names give no negative offsets). What it accepts must keep the decoder's promises
// (offset as named, ids once, 1 to 5 batches in offset order below the offset), re-encode to its
// file, and load into a ProducerStateTable that gives the same state back (SnapshotBelow, also
// below lower offsets and under a small cap) and judges retries of its batches as duplicates.
FuzzOutcome FuzzProducerSnapshot(base::Bytes data);

// The small files (segment/small_file.h; FORMAT.md "Small files"): input = one byte choosing the
// kind of file (its value modulo kSmallFileTypes, so that every byte chooses one), then the file's
// bytes. Each is loaded through the engine's own reader (on MemFs where it reads a file); what it
// accepts must satisfy the format's rules and save and load back to the same contents.
enum class SmallFileType : uint8_t {
  kCatalog = 0,        // <data>/catalog (SLUICECT, JSON payload)
  kLegacyCatalog = 1,  // <data>/catalog.json (format version 1, plain JSON)
  kPartitionMeta = 2,  // <topic>-<n>/partition (SLUICEPM, JSON payload)
  kRecoveryPoint = 3,  // <topic>-<n>/recovery-point (SLUICERP, versions 1 and 2)
  kProducerIds = 4,    // <data>/producer-ids (SLUICEPI, versions 1 and 2)
};
inline constexpr uint8_t kSmallFileTypes = 5;
FuzzOutcome FuzzSmallFile(base::Bytes data);

// Text of `s` for a summary: printable ASCII as is, other bytes as \xNN.
std::string Escape(std::string_view s);

// Builds the container FuzzSegmentOpen reads.
std::string SegmentOpenInput(std::string_view log, std::string_view index);

// Builds the input FuzzSmallFile reads.
std::string SmallFileInput(SmallFileType type, std::string_view file);

}  // namespace sluice::fuzz
