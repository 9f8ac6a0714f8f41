#pragma once

// OutBuffer: a response under construction, as owned bytes interleaved with borrowed views, so a
// Fetch response sends stored batches straight from the segment mappings with one writev and no
// copy. Owned bytes are appended through writer(); a view is added with AppendView and kept alive
// by the pins the buffer holds. Not thread-safe; moved between threads whole.

#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "net/wire.h"

namespace sluice::net {

class OutBuffer {
 public:
  OutBuffer() { chunks_.emplace_back(); }

  // A writer appending to the owned bytes after everything added so far. Take a new writer after
  // AppendView: an older one appends to the chunk before the view.
  WireWriter writer() { return WireWriter(Current()); }
  // Appends `view` by reference; it must stay valid while the buffer lives (see AddPin).
  void AppendView(Bytes view);
  // Keeps `pin` alive as long as the buffer (the segments that views point into).
  void AddPin(std::shared_ptr<const void> pin) { pins_.push_back(std::move(pin)); }

  // Total bytes added.
  size_t size() const { return size_ + chunks_.back().size(); }
  // Overwrites an int32 at absolute position `pos`, which must lie in an owned chunk.
  void PatchInt32(size_t pos, int32_t v);

  // The buffer as iovecs, skipping the first `skip` bytes (a partly sent response).
  void Iovecs(size_t skip, std::vector<iovec>& out) const;

 private:
  struct Piece {
    size_t chunk = 0;  // index in chunks_ (owned) or SIZE_MAX (a view)
    Bytes view;
  };
  std::string& Current() { return chunks_.back(); }
  void SealCurrent();

  // Owned bytes; the last one is open for appends. A deque, so a WireWriter taken before an
  // AppendView keeps a valid reference.
  std::deque<std::string> chunks_;
  std::vector<Piece> sealed_;  // pieces before the open chunk, in order
  size_t size_ = 0;            // bytes in sealed_
  std::vector<std::shared_ptr<const void>> pins_;
};

}  // namespace sluice::net
