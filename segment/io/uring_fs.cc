#include "segment/io/uring_fs.h"

#include <liburing.h>
#include <pthread.h>
#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <vector>

namespace sluice::io {
namespace {

// Bumped in a forked child. A ring's memory is shared with the parent after fork(), so a child
// must never submit to a ring it inherited: it makes its own.
std::atomic<uint64_t> g_fork_generation{0};
const bool kAtForkInstalled = [] {
  pthread_atfork(nullptr, nullptr, [] { g_fork_generation.fetch_add(1); });
  return true;
}();

// One ring per writing thread. Depth 8 is plenty: each call submits one write or one fsync and
// waits for it.
class ThreadRing {
 public:
  ThreadRing() { Init(); }
  ~ThreadRing() {
    if (init_error_ == 0 && generation_ == g_fork_generation.load()) io_uring_queue_exit(&ring_);
  }

  // Replaces a ring inherited across fork() (left to the parent, untouched) with a new one.
  void RenewAfterFork() {
    if (generation_ == g_fork_generation.load(std::memory_order_relaxed)) return;
    Init();
  }
  ThreadRing(const ThreadRing&) = delete;
  ThreadRing& operator=(const ThreadRing&) = delete;

  int init_error() const { return init_error_; }

 private:
  void Init() {
    generation_ = g_fork_generation.load();
    ring_ = io_uring{};
    init_error_ = -io_uring_queue_init(8, &ring_, 0);
  }

 public:
  // Submits the SQE prepared by `prep` and waits for its completion; returns cqe->res.
  template <typename Prep>
  int Run(Prep&& prep) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return -EBUSY;
    prep(sqe);
    int rc = io_uring_submit_and_wait(&ring_, 1);
    while (rc == -EINTR) rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0) return rc;
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_wait_cqe(&ring_, &cqe);
    while (rc == -EINTR) rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc < 0) return rc;
    int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    return res;
  }

 private:
  io_uring ring_{};
  int init_error_ = 0;
  uint64_t generation_ = 0;
};

ThreadRing& Ring() {
  thread_local ThreadRing ring;
  ring.RenewAfterFork();
  return ring;
}

class UringWritableFile final : public PosixWritableFile {
 public:
  using PosixWritableFile::PosixWritableFile;

  Status WriteAt(FilePos pos, std::span<const Bytes> pieces) override {
    ThreadRing& ring = Ring();
    if (ring.init_error() != 0) return base::ErrnoError(ring.init_error(), "io_uring_setup", path_);
    std::vector<iovec> iov;
    iov.reserve(pieces.size());
    for (Bytes p : pieces) {
      if (!p.empty()) iov.push_back({const_cast<std::byte*>(p.data()), p.size()});
    }
    uint64_t off = pos.value();
    size_t first = 0;
    while (first < iov.size()) {
      auto count = static_cast<unsigned>(std::min<size_t>(iov.size() - first, IOV_MAX));
      int res = ring.Run([&](io_uring_sqe* sqe) {
        io_uring_prep_writev(sqe, fd_, iov.data() + first, count, off);
      });
      if (res == -EINTR || res == -EAGAIN) continue;
      if (res < 0) return base::ErrnoError(-res, "write", path_);
      if (res == 0) return base::MakeError(base::ErrorCode::kIoError, "write " + path_ + ": 0");
      // A short write: advance past what was written and submit the rest.
      off += static_cast<uint64_t>(res);
      auto left = static_cast<size_t>(res);
      while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (left > 0) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
    return {};
  }

  Status Sync() override {
    ThreadRing& ring = Ring();
    if (ring.init_error() != 0) return base::ErrnoError(ring.init_error(), "io_uring_setup", path_);
    int res =
        ring.Run([&](io_uring_sqe* sqe) { io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC); });
    if (res < 0) return base::ErrnoError(-res, "fdatasync", path_);
    return {};
  }
};

}  // namespace

Result<std::unique_ptr<WritableFile>> UringFs::OpenWritable(const std::string& path,
                                                            OpenMode mode) {
  ASSIGN_OR_RETURN(int fd, OpenFd(path, mode));
  return std::unique_ptr<WritableFile>(std::make_unique<UringWritableFile>(fd, path));
}

bool UringFs::Available() {
  static const bool available = Ring().init_error() == 0;
  return available;
}

}  // namespace sluice::io
