#include "segment/io/posix_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>

namespace sluice::io {
namespace {

class PosixMappedFile final : public MappedFile {
 public:
  PosixMappedFile(void* addr, uint64_t len) : addr_(addr), len_(len) {}
  ~PosixMappedFile() override {
    if (addr_ != nullptr) munmap(addr_, len_);
  }
  Bytes data() const override { return {static_cast<const std::byte*>(addr_), len_}; }
  void AdviseSequential() override {
    if (addr_ != nullptr) madvise(addr_, len_, MADV_SEQUENTIAL);
  }
  void AdviseWillNeed(uint64_t pos, uint64_t len) override {
    if (addr_ == nullptr || pos >= len_) return;
    // madvise needs a page-aligned start.
    uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    uint64_t start = pos & ~(page - 1);
    uint64_t end = std::min(len_, pos + len);
    madvise(static_cast<char*>(addr_) + start, end - start, MADV_WILLNEED);
  }

 private:
  void* addr_;
  uint64_t len_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // releases the flock
  PosixFileLock(const PosixFileLock&) = delete;
  PosixFileLock& operator=(const PosixFileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

PosixWritableFile::~PosixWritableFile() {
  SLUICE_DCHECK(fd_ < 0, "WritableFile destroyed without Close(): " + path_);
  if (fd_ >= 0) ::close(fd_);
}

Status PosixWritableFile::WriteAt(FilePos pos, std::span<const Bytes> pieces) {
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  for (Bytes p : pieces) {
    if (!p.empty()) iov.push_back({const_cast<std::byte*>(p.data()), p.size()});
  }
  auto off = static_cast<off_t>(pos.value());
  size_t first = 0;
  while (first < iov.size()) {
    int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = ::pwritev(fd_, iov.data() + first, count, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return base::ErrnoError(errno, "write", path_);
    }
    if (n == 0) return base::MakeError(base::ErrorCode::kIoError, "write " + path_ + ": wrote 0");
    off += n;
    auto left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return {};
}

Status PosixWritableFile::Sync() {
  if (::fdatasync(fd_) != 0) return base::ErrnoError(errno, "fdatasync", path_);
  return {};
}

Status PosixWritableFile::StartWriteback(FilePos pos, uint64_t len) {
  // Wait for the writeback earlier calls started (everything before pos), then start this range's.
  if (pos.value() > 0 && ::sync_file_range(fd_, 0, static_cast<off_t>(pos.value()),
                                           SYNC_FILE_RANGE_WAIT_BEFORE) != 0) {
    return base::ErrnoError(errno, "sync_file_range", path_);
  }
  if (len > 0 && ::sync_file_range(fd_, static_cast<off_t>(pos.value()), static_cast<off_t>(len),
                                   SYNC_FILE_RANGE_WRITE) != 0) {
    return base::ErrnoError(errno, "sync_file_range", path_);
  }
  return {};
}

Status PosixWritableFile::Allocate(uint64_t size_bytes) {
  if (size_bytes == 0) return {};  // nothing to reserve, and posix_fallocate rejects len 0 (EINVAL)
  int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(size_bytes));
  if (rc != 0) return base::ErrnoError(rc, "fallocate", path_);
  return {};
}

Status PosixWritableFile::Truncate(uint64_t size_bytes) {
  if (::ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0) {
    return base::ErrnoError(errno, "truncate", path_);
  }
  return {};
}

Status PosixWritableFile::Close() {
  if (fd_ < 0) return {};
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return base::ErrnoError(errno, "close", path_);
  return {};
}

Result<int> PosixFs::OpenFd(const std::string& path, OpenMode mode) {
  int flags = O_WRONLY | O_CLOEXEC;
  switch (mode) {
    case OpenMode::kCreateNew:
      flags |= O_CREAT | O_EXCL;
      break;
    case OpenMode::kOpenExisting:
      break;
    case OpenMode::kCreateOrTruncate:
      flags |= O_CREAT | O_TRUNC;
      break;
  }
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return base::ErrnoError(errno, "open", path);
  return fd;
}

Result<std::unique_ptr<WritableFile>> PosixFs::OpenWritable(const std::string& path,
                                                            OpenMode mode) {
  ASSIGN_OR_RETURN(int fd, OpenFd(path, mode));
  return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(fd, path));
}

Result<std::unique_ptr<MappedFile>> PosixFs::Map(const std::string& path, uint64_t length_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::ErrnoError(errno, "open", path);
  if (length_bytes == 0) {  // mmap rejects a zero length; the file must still exist
    ::close(fd);
    return std::unique_ptr<MappedFile>(new PosixMappedFile(nullptr, 0));
  }
  void* addr = ::mmap(nullptr, length_bytes, PROT_READ, MAP_SHARED, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (addr == MAP_FAILED) return base::ErrnoError(err, "mmap", path);
  return std::unique_ptr<MappedFile>(new PosixMappedFile(addr, length_bytes));
}

Result<std::string> PosixFs::ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::ErrnoError(errno, "open", path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return base::ErrnoError(err, "read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<uint64_t> PosixFs::FileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return base::ErrnoError(errno, "stat", path);
  return static_cast<uint64_t>(st.st_size);
}

Result<bool> PosixFs::Exists(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return base::ErrnoError(errno, "stat", path);
}

Status PosixFs::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return base::ErrnoError(errno, "rename", from + " -> " + to);
  }
  return {};
}

Status PosixFs::Remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return base::ErrnoError(errno, "remove", path);
  return {};
}

Status PosixFs::CreateDir(const std::string& path) {
  if (path.empty() || path == "/" || path == ".") return {};
  if (::mkdir(path.c_str(), 0755) == 0) return {};
  if (errno == ENOENT) {
    RETURN_IF_ERROR(CreateDir(DirName(path)));
    if (::mkdir(path.c_str(), 0755) == 0) return {};
  }
  if (errno != EEXIST) return base::ErrnoError(errno, "mkdir", path);
  // EEXIST means some entry has the name; only a directory will do.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return base::ErrnoError(errno, "stat", path);
  if (!S_ISDIR(st.st_mode)) return base::ErrnoError(EEXIST, "mkdir", path);
  return {};
}

Status PosixFs::RemoveAll(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return base::ErrnoError(errno, "stat", path);
  }
  if (S_ISDIR(st.st_mode)) {
    ASSIGN_OR_RETURN(auto names, ListDir(path));
    for (const auto& name : names) RETURN_IF_ERROR(RemoveAll(JoinPath(path, name)));
    if (::rmdir(path.c_str()) != 0) return base::ErrnoError(errno, "rmdir", path);
    return {};
  }
  return Remove(path);
}

Status PosixFs::SyncDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return base::ErrnoError(errno, "open directory", path);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return base::ErrnoError(err, "fsync directory", path);
  return {};
}

Result<std::vector<std::string>> PosixFs::ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return base::ErrnoError(errno, "list", path);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::unique_ptr<FileLock>> PosixFs::Lock(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return base::ErrnoError(errno, "open", path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return base::MakeError(base::ErrorCode::kBusy,
                             path + " is locked by another process using the same data directory");
    }
    return base::ErrnoError(err, "lock", path);
  }
  return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
}

}  // namespace sluice::io
