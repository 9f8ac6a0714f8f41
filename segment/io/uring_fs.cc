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

  // Submits a write and, linked behind it (IOSQE_IO_LINK), an fsync, in one submission, and
  // waits for both; returns their cqe->res. The kernel starts the fsync only once the write
  // completed in full: after a failed or short write it is cancelled (-ECANCELED).
  template <typename PrepWrite, typename PrepSync>
  std::pair<int, int> RunLinked(PrepWrite&& prep_write, PrepSync&& prep_sync) {
    if (io_uring_sq_space_left(&ring_) < 2) return {-EBUSY, -EBUSY};
    io_uring_sqe* write = io_uring_get_sqe(&ring_);
    prep_write(write);
    write->flags |= IOSQE_IO_LINK;
    io_uring_sqe_set_data64(write, kWriteTag);
    io_uring_sqe* sync = io_uring_get_sqe(&ring_);
    prep_sync(sync);
    io_uring_sqe_set_data64(sync, kSyncTag);
    int rc = io_uring_submit_and_wait(&ring_, 2);
    while (rc == -EINTR) rc = io_uring_submit_and_wait(&ring_, 2);
    std::pair<int, int> res{-ECANCELED, -ECANCELED};
    if (rc < 0) return {rc, rc};
    for (int seen = 0; seen < 2;) {
      io_uring_cqe* cqe = nullptr;
      rc = io_uring_wait_cqe(&ring_, &cqe);
      if (rc == -EINTR) continue;
      if (rc < 0) return {rc, rc};
      (io_uring_cqe_get_data64(cqe) == kWriteTag ? res.first : res.second) = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      ++seen;
    }
    return res;
  }

 private:
  static constexpr uint64_t kWriteTag = 1;
  static constexpr uint64_t kSyncTag = 2;
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
    std::vector<iovec> iov = Iovecs(pieces);
    return WriteIovecs(pos.value(), iov, 0);
  }

  Status WriteAtAndSync(FilePos pos, std::span<const Bytes> pieces, Status* synced) override {
    ThreadRing& ring = Ring();
    if (ring.init_error() != 0) return base::ErrnoError(ring.init_error(), "io_uring_setup", path_);
    std::vector<iovec> iov = Iovecs(pieces);
    uint64_t total = 0;
    for (const iovec& v : iov) total += v.iov_len;
    if (iov.empty() || iov.size() > IOV_MAX) {  // nothing to link: the two steps
      RETURN_IF_ERROR(WriteAt(pos, pieces));
      *synced = Sync();
      return {};
    }
    const auto [written, sync_res] = ring.RunLinked(
        [&](io_uring_sqe* sqe) {
          io_uring_prep_writev(sqe, fd_, iov.data(), static_cast<unsigned>(iov.size()),
                               pos.value());
        },
        [&](io_uring_sqe* sqe) { io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC); });
    if (written >= 0 && static_cast<uint64_t>(written) == total) {
      *synced = sync_res < 0 ? base::ErrnoError(-sync_res, "fdatasync", path_) : Status();
      return {};
    }
    if (written < 0 && written != -EINTR && written != -EAGAIN) {
      return base::ErrnoError(-written, "write", path_);
    }
    // A short (or interrupted) write cancelled the linked fsync: write the rest, then sync.
    const uint64_t done = written > 0 ? static_cast<uint64_t>(written) : 0;
    RETURN_IF_ERROR(WriteIovecs(pos.value() + done, iov, done));
    *synced = Sync();
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

 private:
  static std::vector<iovec> Iovecs(std::span<const Bytes> pieces) {
    std::vector<iovec> iov;
    iov.reserve(pieces.size());
    for (Bytes p : pieces) {
      if (!p.empty()) iov.push_back({const_cast<std::byte*>(p.data()), p.size()});
    }
    return iov;
  }

  // Writes what `iov` holds after its first `skip` bytes at `off`, resubmitting after short
  // writes.
  Status WriteIovecs(uint64_t off, std::vector<iovec>& iov, uint64_t skip) {
    ThreadRing& ring = Ring();
    if (ring.init_error() != 0) return base::ErrnoError(ring.init_error(), "io_uring_setup", path_);
    size_t first = 0;
    auto advance = [&](uint64_t left) {
      while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (left > 0) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    };
    advance(skip);
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
      advance(static_cast<uint64_t>(res));
    }
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
