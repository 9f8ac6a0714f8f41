#pragma once

// FileSystem on POSIX calls: pwritev, fdatasync, fallocate, mmap. Thread-safe.

#include "segment/io/file_system.h"

namespace sluice::io {

class PosixFs : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                     OpenMode mode) override;
  Result<std::unique_ptr<MappedFile>> Map(const std::string& path, uint64_t length_bytes) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Result<bool> Exists(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status CreateDir(const std::string& path) override;
  Status RemoveAll(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  // flock(2): held by this process until the FileLock is destroyed (or the process dies).
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override;

 protected:
  // Opens the descriptor for OpenWritable; subclasses wrap it in their own WritableFile.
  static Result<int> OpenFd(const std::string& path, OpenMode mode);
};

// A WritableFile over a descriptor it owns, with POSIX calls for everything. UringFs derives from
// it and replaces the data path.
class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override;
  PosixWritableFile(const PosixWritableFile&) = delete;
  PosixWritableFile& operator=(const PosixWritableFile&) = delete;

  Status WriteAt(FilePos pos, std::span<const Bytes> pieces) override;
  Status Sync() override;
  Status StartWriteback(FilePos pos, uint64_t len) override;
  Status Allocate(uint64_t size_bytes) override;
  Status Truncate(uint64_t size_bytes) override;
  Status Close() override;
  const std::string& path() const override { return path_; }

 protected:
  int fd_;
  std::string path_;
};

}  // namespace sluice::io
