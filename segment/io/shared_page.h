#pragma once

// SharedPage: one page of a file mapped read-write and shared between processes, for small derived
// state that other processes read while one writes it (engine/watermark.h), and a futex wait/wake
// on a 32-bit word in it. The file is never truncated below a page or rewritten: writers and
// readers all map the same inode, so a word stored by one process is seen by the others at once.
// Only real files (the kernel's page cache) can be shared like this; it is not part of
// io::FileSystem, whose MemFs no other process can see.
//
// Thread-safety: the object is immutable after Open; the bytes are shared memory, accessed only
// through std::atomic_ref by the code that defines their layout.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "segment/base/result.h"

namespace sluice::io {

using base::Result;

enum class SharedPageOpen : uint8_t {
  kCreate,    // created (zero-filled to a page) if missing
  kExisting,  // kNotFound if missing
};

class SharedPage {
 public:
  static constexpr size_t kBytes = 4096;

  // Maps the first page of `path` read-write, shared. With kCreate a missing or shorter file is
  // extended to a page (new bytes read as zero); with kExisting a file shorter than a page is
  // kCorruption (it is not one of ours, or is being created: the caller tries later).
  static Result<std::unique_ptr<SharedPage>> Open(const std::string& path, SharedPageOpen mode);
  ~SharedPage();
  SharedPage(const SharedPage&) = delete;
  SharedPage& operator=(const SharedPage&) = delete;

  std::byte* data() const { return data_; }
  const std::string& path() const { return path_; }

  // FUTEX_WAIT (shared, not private) on the word: sleeps while `*word == expected`, until a Wake,
  // `timeout_ms`, or a signal. `word` (4-byte aligned) must lie in a SharedPage and is
  // otherwise accessed only through std::atomic_ref.
  static void Wait(uint32_t* word, uint32_t expected, int64_t timeout_ms);
  // FUTEX_WAKE of every process and thread waiting on the word.
  static void WakeAll(uint32_t* word);

 private:
  SharedPage(std::string path, std::byte* data) : path_(std::move(path)), data_(data) {}
  const std::string path_;
  std::byte* const data_;
};

}  // namespace sluice::io
