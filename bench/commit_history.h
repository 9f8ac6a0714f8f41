#pragma once

// A `__consumer_offsets` history written through the group-offsets path (GroupOffsetStore::
// Commit, what a Kafka OffsetCommit does), for the benchmarks of opening an engine with it
// (sluice_replay_bench, sluice_cleaner_bench).

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/group_offsets.h"

namespace sluice::bench {

// Creates topic `topic` with `partitions` partitions in `engine` and commits `commits` offsets to
// it: each call commits every partition of one group (one batch of `partitions` records), the
// `groups` groups taking turns, so the history holds groups x partitions distinct keys.
// For setup speed the history is written without an fsync per commit (flush=none); open time,
// which is what the benchmarks measure, does not depend on it.
inline base::Status WriteCommitHistory(engine::Engine& engine, const std::string& topic,
                                       int32_t partitions, int64_t commits, int64_t groups) {
  RETURN_IF_ERROR(engine.CreateTopic(topic, partitions, {}));
  ASSIGN_OR_RETURN(engine::GroupOffsetStore * store, engine.GroupOffsets());
  RETURN_IF_ERROR(
      engine.AlterInternalTopicConfig(engine::kConsumerOffsetsTopic, {{"flush", "none"}}));
  std::vector<engine::OffsetCommit> batch(static_cast<size_t>(partitions));
  for (int64_t call = 0; call < commits / partitions; ++call) {
    for (int32_t p = 0; p < partitions; ++p) {
      batch[static_cast<size_t>(p)] = {topic, p, base::Offset(call), ""};
    }
    RETURN_IF_ERROR(store->Commit("group-" + std::to_string(call % groups), batch));
  }
  return {};
}

}  // namespace sluice::bench
