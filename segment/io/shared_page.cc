#include "segment/io/shared_page.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

namespace sluice::io {

using base::ErrorCode;
using base::MakeError;

Result<std::unique_ptr<SharedPage>> SharedPage::Open(const std::string& path, SharedPageOpen mode) {
  const int flags = O_RDWR | O_CLOEXEC | (mode == SharedPageOpen::kCreate ? O_CREAT : 0);
  const int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return MakeError(ErrorCode::kNotFound, path + " does not exist");
    return base::ErrnoError(err, "open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return base::ErrnoError(err, "fstat", path);
  }
  if (static_cast<uint64_t>(st.st_size) < kBytes) {
    if (mode == SharedPageOpen::kExisting) {
      ::close(fd);
      return MakeError(ErrorCode::kCorruption, path + " is shorter than a page");
    }
    // Extends with zeros; never shrinks a file another process may have mapped.
    if (::ftruncate(fd, static_cast<off_t>(kBytes)) != 0) {
      const int err = errno;
      ::close(fd);
      return base::ErrnoError(err, "ftruncate", path);
    }
  }
  void* addr = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps the file
  if (addr == MAP_FAILED) return base::ErrnoError(err, "mmap", path);
  return std::unique_ptr<SharedPage>(new SharedPage(path, static_cast<std::byte*>(addr)));
}

SharedPage::~SharedPage() { ::munmap(data_, kBytes); }

void SharedPage::Wait(uint32_t* word, uint32_t expected, int64_t timeout_ms) {
  if (timeout_ms <= 0) return;
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(timeout_ms / 1000);
  ts.tv_nsec = static_cast<long>((timeout_ms % 1000) * 1'000'000);
  // Not FUTEX_PRIVATE_FLAG: the waiters and wakers are in different processes. EAGAIN (the word
  // changed), ETIMEDOUT and EINTR all mean: look again.
  ::syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void SharedPage::WakeAll(uint32_t* word) {
  ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace sluice::io
