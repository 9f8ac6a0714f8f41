#pragma once

// FileSystem whose file writes and syncs go through io_uring. Each thread that writes gets its own
// small ring (created on first use, freed when the thread exits), so writers never contend on a
// ring. A gathered write is one writev SQE; a short write is resubmitted for the rest.
// Everything except the data path (open, map, rename, directories) is PosixFs's.

#include "segment/io/posix_fs.h"

namespace sluice::io {

class UringFs final : public PosixFs {
 public:
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     OpenMode mode) override;
  // True if this kernel and sandbox allow io_uring (checked once).
  static bool Available();
};

}  // namespace sluice::io
