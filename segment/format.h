#pragma once

// Constants of sluice's on-disk formats. segment/FORMAT.md is the specification; every change here
// changes it in the same commit (and adds a row to its history table).

#include <array>
#include <cstddef>
#include <cstdint>

namespace sluice::segment::format {

using Magic = std::array<std::byte, 8>;

constexpr Magic MakeMagic(const char (&s)[9]) {
  Magic m{};
  for (size_t i = 0; i < 8; ++i) m[i] = static_cast<std::byte>(s[i]);
  return m;
}

// --- Segment data file: <base offset, 20 digits>.log ------------------------------------------
inline constexpr Magic kSegmentMagic = MakeMagic("SLUICELG");
inline constexpr uint16_t kSegmentVersion1 = 1;  // frames of Kafka RecordBatch v2
inline constexpr uint16_t kSegmentCurrentVersion = kSegmentVersion1;
inline constexpr uint16_t kSegmentMinReadableVersion = kSegmentVersion1;
inline constexpr size_t kSegmentHeaderSize = 32;
// Header flags. A compacted segment was written by the log cleaner (engine/log_cleaner.h): its
// frames' offsets increase but may have gaps, and its first frame may start above its base.
inline constexpr uint16_t kSegmentFlagCompacted = 0x0001;
inline constexpr uint16_t kSegmentKnownFlags = kSegmentFlagCompacted;

// --- Frame: prefix + payload --------------------------------------------------------------------
inline constexpr size_t kFramePrefixSize = 16;
// Frame types. 0 is never written: it is what preallocated, zeroed space reads as.
inline constexpr uint16_t kFrameTypeUnused = 0;
inline constexpr uint16_t kFrameTypeRecordBatchV2 = 1;
// Types with this bit set may be skipped by a reader that does not know them.
inline constexpr uint16_t kFrameTypeSkippableBit = 0x8000;
// Largest payload accepted; anything longer is corruption.
inline constexpr uint32_t kMaxFramePayload = 256u << 20;

// --- Sparse index: <base offset>.index ----------------------------------------------------------
inline constexpr Magic kIndexMagic = MakeMagic("SLUICEIX");
inline constexpr uint16_t kIndexVersion1 = 1;
inline constexpr uint16_t kIndexCurrentVersion = kIndexVersion1;
inline constexpr uint16_t kIndexMinReadableVersion = kIndexVersion1;
inline constexpr size_t kIndexHeaderSize = 56;
inline constexpr size_t kIndexEntrySize = 16;

// --- Small files (segment/small_file.h): magic, u16 version, u16 flags, u32 payload length,
// payload, XXH3-64 of everything before it. ------------------------------------------------------
inline constexpr size_t kSmallFileOverhead = 24;

// Recovery point: <topic>-<partition>/recovery-point. Version 1 predates the small-file envelope:
// the same bytes with the length field zero (readers take its payload size from this constant).
inline constexpr Magic kRecoveryPointMagic = MakeMagic("SLUICERP");
inline constexpr uint16_t kRecoveryPointVersion1 = 1;
inline constexpr uint16_t kRecoveryPointVersion2 = 2;  // the small-file envelope (length set)
inline constexpr uint16_t kRecoveryPointCurrentVersion = kRecoveryPointVersion2;
inline constexpr uint16_t kRecoveryPointMinReadableVersion = kRecoveryPointVersion1;
inline constexpr size_t kRecoveryPointPayloadSize = 32;

// Producer ids: <data>/producer-ids (version 1 predates the envelope, as above).
inline constexpr Magic kProducerIdsMagic = MakeMagic("SLUICEPI");
inline constexpr uint16_t kProducerIdsVersion1 = 1;
inline constexpr uint16_t kProducerIdsVersion2 = 2;  // the small-file envelope (length set)
inline constexpr uint16_t kProducerIdsCurrentVersion = kProducerIdsVersion2;
inline constexpr uint16_t kProducerIdsMinReadableVersion = kProducerIdsVersion1;
inline constexpr size_t kProducerIdsPayloadSize = 8;

// Catalog: <data>/catalog (JSON payload). <data>/catalog.json, plain JSON, is version 1.
inline constexpr Magic kCatalogMagic = MakeMagic("SLUICECT");
inline constexpr uint16_t kCatalogVersion2 = 2;
inline constexpr uint16_t kCatalogCurrentVersion = kCatalogVersion2;

// Partition metadata: <topic>-<partition>/partition (JSON payload): which topic the directory
// belongs to, so that the catalog can be rebuilt from the directories.
inline constexpr Magic kPartitionMetaMagic = MakeMagic("SLUICEPM");
inline constexpr uint16_t kPartitionMetaVersion1 = 1;
// Adds "partitions": the topic's partition count, so that a topic adopted from its directories
// (an interrupted creation, a lost catalog) gets the count it was created with.
inline constexpr uint16_t kPartitionMetaVersion2 = 2;
inline constexpr uint16_t kPartitionMetaCurrentVersion = kPartitionMetaVersion2;
inline constexpr uint16_t kPartitionMetaMinReadableVersion = kPartitionMetaVersion1;

// Producer-state snapshot: <topic>-<partition>/<offset, 20 digits>.snapshot (FORMAT.md).
inline constexpr Magic kProducerSnapshotMagic = MakeMagic("SLUICEPS");
inline constexpr uint16_t kProducerSnapshotVersion1 = 1;
inline constexpr uint16_t kProducerSnapshotCurrentVersion = kProducerSnapshotVersion1;
inline constexpr uint16_t kProducerSnapshotMinReadableVersion = kProducerSnapshotVersion1;
inline constexpr size_t kProducerSnapshotHeaderSize = 12;  // offset, producer count
inline constexpr size_t kProducerSnapshotEntrySize = 24;   // id, epoch, count, reserved, last seen
inline constexpr size_t kProducerSnapshotBatchSize = 24;   // first/last sequence, first/last offset

// Log start: <topic>-<partition>/log-start (FORMAT.md): the log start offset DeleteRecords set.
inline constexpr Magic kLogStartMagic = MakeMagic("SLUICELS");
inline constexpr uint16_t kLogStartVersion1 = 1;
inline constexpr uint16_t kLogStartCurrentVersion = kLogStartVersion1;
inline constexpr uint16_t kLogStartMinReadableVersion = kLogStartVersion1;
inline constexpr size_t kLogStartPayloadSize = 8;

// ACLs: <data>/acls (JSON payload; FORMAT.md "ACLs"): the authorizer's bindings.
inline constexpr Magic kAclMagic = MakeMagic("SLUICEAC");
inline constexpr uint16_t kAclVersion1 = 1;
inline constexpr uint16_t kAclCurrentVersion = kAclVersion1;
inline constexpr uint16_t kAclMinReadableVersion = kAclVersion1;
// SCRAM users: <data>/scram-users (JSON payload; engine/scram_users.h).
inline constexpr Magic kScramUsersMagic = MakeMagic("SLUICESU");
inline constexpr uint16_t kScramUsersVersion1 = 1;
inline constexpr uint16_t kScramUsersCurrentVersion = kScramUsersVersion1;
inline constexpr uint16_t kScramUsersMinReadableVersion = kScramUsersVersion1;

// Cleaner swap manifest: <topic>-<partition>/cleaner-swap (FORMAT.md, "Log compaction").
inline constexpr Magic kCleanerSwapMagic = MakeMagic("SLUICECS");
inline constexpr uint16_t kCleanerSwapVersion1 = 1;
inline constexpr uint16_t kCleanerSwapCurrentVersion = kCleanerSwapVersion1;
inline constexpr uint16_t kCleanerSwapMinReadableVersion = kCleanerSwapVersion1;
// Dictionary: <topic>-<partition>/<id, 10 digits>.zdict (FORMAT.md "Dictionaries"): a zstd
// dictionary that batches of the partition were compressed with (compression.zstd.dictionary).
inline constexpr Magic kDictionaryMagic = MakeMagic("SLUICEZD");
inline constexpr uint16_t kDictionaryVersion1 = 1;
inline constexpr uint16_t kDictionaryCurrentVersion = kDictionaryVersion1;
inline constexpr uint16_t kDictionaryMinReadableVersion = kDictionaryVersion1;
inline constexpr size_t kDictionaryHeaderSize = 32;  // id, reserved, first offset, time, stats
inline constexpr size_t kMaxDictionaryBytes = 1u << 20;

// Segments are addressed with 32-bit positions in the index.
inline constexpr uint64_t kMaxSegmentBytes = 1ull << 31;

}  // namespace sluice::segment::format
