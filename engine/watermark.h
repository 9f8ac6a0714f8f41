#pragma once

// The published high watermark of a partition (`<partition dir>/watermark`, FORMAT.md): how a
// process writing a data directory tells reader processes (sluice consume --follow, replay) how far
// they may read, and wakes them when that moves. One page, shared-mapped by the writer and every
// reader (io::SharedPage); the high watermark is an aligned 64-bit atomic, and readers sleep on a
// 32-bit sequence word with a shared futex.
//
// It is derived state: the writer rebuilds it each time it opens the partition (a new generation),
// recovery never reads it, and nothing is ever deleted or truncated because of it. A damaged or
// foreign file is overwritten by the writer; readers then ignore it until it is valid.
//
// Cost for the writer: one compare-and-swap, one increment and one load per written group of
// batches; the futex wake (a syscall) only while some reader is waiting.
//
// Thread-safety: every method may be called from any thread; the words are atomics in shared
// memory. A reader increments and decrements the waiters count around a wait, so readers, too,
// write into this file (and only there).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "segment/base/result.h"
#include "segment/base/strong_int.h"
#include "segment/io/shared_page.h"

namespace sluice::engine {

using base::Offset;
using base::Result;

inline constexpr char kWatermarkFile[] = "watermark";

class PublishedWatermark {
 public:
  // The writer's side: opens (or creates) the partition's file, starts a new generation with the
  // high watermark unknown (readers read nothing new until Publish) and marks a writer present.
  static Result<std::unique_ptr<PublishedWatermark>> OpenForWriter(const std::string& dir);
  // A reader's side: kNotFound when no writer ever published one, kCorruption for a file that is
  // not (yet) a valid one, kUnsupportedVersion for a newer one.
  static Result<std::unique_ptr<PublishedWatermark>> OpenForReader(const std::string& dir);

  // Writer: moves the published high watermark up to `hw` (never down) and wakes the waiting
  // readers, if any.
  void Publish(Offset hw);
  // Writer: the partition is closed (cleanly); readers may read up to the last published value.
  void MarkClosed();

  // The published high watermark; nullopt while the writer is opening the partition.
  std::optional<Offset> high_watermark() const;
  // Bumped each time a writer opens the partition.
  uint64_t generation() const;
  // Whether a writer has the partition open (or died with it open).
  bool writer_present() const;
  // Reader: waits until the published high watermark is above `offset`, or `timeout_ms` passes,
  // or any publish happens (a spurious wake is allowed: callers look again).
  void Wait(Offset offset, int64_t timeout_ms) const;
  // How many readers are waiting now (tests).
  uint32_t waiters() const;

 private:
  explicit PublishedWatermark(std::unique_ptr<io::SharedPage> page) : page_(std::move(page)) {}
  template <typename T>
  std::atomic_ref<T> Field(size_t offset) const;
  void Bump();
  std::unique_ptr<io::SharedPage> page_;
};

}  // namespace sluice::engine
