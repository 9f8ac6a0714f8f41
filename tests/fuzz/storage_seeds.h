#pragma once

// The seed corpora of the storage fuzz targets (storage_targets.h), built by code from real
// writers (BatchBuilder, Segment, SegmentIndex, the snapshot and offsets encoders) plus damaged
// copies of them (truncations, bit flips, fields changed with checksums fixed), each with what
// its target must make of it. write_storage_seeds saves them under tests/fuzz/corpus/<target>/;
// storage_corpus_test replays the saved files against these expectations.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tests/fuzz/storage_targets.h"

namespace sluice::fuzz {

struct StorageSeed {
  std::string name;  // the file name in the target's corpus directory
  std::string
      bytes;  // as built now (compressed seeds may differ byte-wise across library versions)
  // What the target must return for the saved file: the error (nullopt = accepted) and, when set,
  // the summary exactly.
  std::optional<base::ErrorCode> error;
  std::optional<std::string> summary;
  bool valid() const { return !error.has_value(); }
};

struct StorageTarget {
  const char* name;  // the corpus directory and the fuzz binary's stem
  FuzzOutcome (*run)(base::Bytes data);
  std::vector<StorageSeed> (*seeds)();
};

// Every storage target, with its seeds.
std::span<const StorageTarget> StorageTargets();

}  // namespace sluice::fuzz
