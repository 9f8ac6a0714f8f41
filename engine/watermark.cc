#include "engine/watermark.h"

#include <unistd.h>

#include <cstring>

#include "segment/base/coding.h"
#include "segment/io/file_system.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;

// Layout: FORMAT.md, "Published high watermark".
constexpr char kMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', 'W', 'M'};
constexpr uint16_t kVersion = 1;
constexpr size_t kVersionAt = 8;
constexpr size_t kSequenceAt = 12;
constexpr size_t kGenerationAt = 16;
constexpr size_t kHighWatermarkAt = 24;
constexpr size_t kWaitersAt = 32;
constexpr size_t kWriterAt = 36;
constexpr size_t kPidAt = 40;
constexpr int64_t kUnknown = -1;

static_assert(std::atomic_ref<uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<int64_t>::is_always_lock_free);
static_assert(std::atomic_ref<uint32_t>::is_always_lock_free);

}  // namespace

template <typename T>
std::atomic_ref<T> PublishedWatermark::Field(size_t offset) const {
  return std::atomic_ref<T>(*reinterpret_cast<T*>(page_->data() + offset));
}

Result<std::unique_ptr<PublishedWatermark>> PublishedWatermark::OpenForWriter(
    const std::string& dir) {
  ASSIGN_OR_RETURN(auto page, io::SharedPage::Open(io::JoinPath(dir, kWatermarkFile),
                                                   io::SharedPageOpen::kCreate));
  std::unique_ptr<PublishedWatermark> w(new PublishedWatermark(std::move(page)));
  w->Field<int64_t>(kHighWatermarkAt).store(kUnknown);
  w->Field<uint32_t>(kWriterAt).store(1);
  w->Field<int64_t>(kPidAt).store(::getpid());
  std::byte* p = w->page_->data();
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0 ||
      base::LoadLE<uint16_t>(p + kVersionAt) != kVersion) {
    // New, or not ours: a fresh page (the waiters count too: nobody can be waiting on it).
    w->Field<uint32_t>(kWaitersAt).store(0);
    w->Field<uint64_t>(kGenerationAt).store(0);
    base::StoreLE<uint16_t>(p + kVersionAt, kVersion);
    base::StoreLE<uint16_t>(p + kVersionAt + 2, 0);
    std::memcpy(p, kMagic, sizeof(kMagic));
  }
  w->Field<uint64_t>(kGenerationAt).fetch_add(1);
  w->Bump();
  return w;
}

Result<std::unique_ptr<PublishedWatermark>> PublishedWatermark::OpenForReader(
    const std::string& dir) {
  const std::string path = io::JoinPath(dir, kWatermarkFile);
  ASSIGN_OR_RETURN(auto page, io::SharedPage::Open(path, io::SharedPageOpen::kExisting));
  const std::byte* p = page->data();
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) {
    return MakeError(ErrorCode::kCorruption, path + ": bad magic");
  }
  const auto version = base::LoadLE<uint16_t>(p + kVersionAt);
  if (version != kVersion) {
    return MakeError(ErrorCode::kUnsupportedVersion, path + ": version " + std::to_string(version) +
                                                         " is not " + std::to_string(kVersion));
  }
  return std::unique_ptr<PublishedWatermark>(new PublishedWatermark(std::move(page)));
}

void PublishedWatermark::Bump() {
  Field<uint32_t>(kSequenceAt).fetch_add(1);
  // seq_cst on both sides: either a waiter's increment is seen here, or its check after the
  // increment sees the new sequence (and the futex refuses to sleep on the old one).
  if (Field<uint32_t>(kWaitersAt).load() != 0) {
    io::SharedPage::WakeAll(reinterpret_cast<uint32_t*>(page_->data() + kSequenceAt));
  }
}

void PublishedWatermark::Publish(Offset hw) {
  auto word = Field<int64_t>(kHighWatermarkAt);
  int64_t current = word.load();
  while (current < hw.value() && !word.compare_exchange_weak(current, hw.value())) {
  }
  Bump();
}

void PublishedWatermark::MarkClosed() {
  Field<uint32_t>(kWriterAt).store(0);
  Bump();
}

std::optional<Offset> PublishedWatermark::high_watermark() const {
  const int64_t hw = Field<int64_t>(kHighWatermarkAt).load();
  if (hw < 0) return std::nullopt;
  return Offset(hw);
}

uint64_t PublishedWatermark::generation() const { return Field<uint64_t>(kGenerationAt).load(); }

bool PublishedWatermark::writer_present() const { return Field<uint32_t>(kWriterAt).load() != 0; }

uint32_t PublishedWatermark::waiters() const { return Field<uint32_t>(kWaitersAt).load(); }

void PublishedWatermark::Wait(Offset offset, int64_t timeout_ms) const {
  auto waiters = Field<uint32_t>(kWaitersAt);
  waiters.fetch_add(1);
  const uint32_t seq = Field<uint32_t>(kSequenceAt).load();
  const auto hw = high_watermark();
  if (!hw || *hw <= offset) {
    io::SharedPage::Wait(reinterpret_cast<uint32_t*>(page_->data() + kSequenceAt), seq, timeout_ms);
  }
  waiters.fetch_sub(1);
}

}  // namespace sluice::engine
