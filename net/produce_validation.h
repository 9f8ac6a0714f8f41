#pragma once

// The checks a produced records field passes before the engine sees it, as Kafka's LogValidator
// does: split into whole RecordBatch v2 batches, each with a good CRC, exactly record_count
// records with offset deltas 0, 1, ..., decompressed (when compressed) to at most the decoder's
// limit (the topic's max.message.bytes; past it, kTooLarge). The engine stores compressed batches
// opaquely, so without this a batch of garbage labelled gzip, or a malformed record, would be
// stored and then fail every reader of the partition. Shared by the Produce handler and the
// request decoder's fuzz target.

#include <vector>

#include "net/wire.h"
#include "segment/base/result.h"
#include "segment/record_batch.h"

namespace sluice::net {

// Checks one batch (see above).
base::Status ValidateProducedBatch(Bytes batch, segment::RecordDecoder& decoder);

// Splits a Produce records field into whole batches, every one of which ValidateProducedBatch
// accepts; all or none.
base::Result<std::vector<Bytes>> SplitBatches(Bytes records, segment::RecordDecoder& decoder);

}  // namespace sluice::net
