#pragma once

// The file-system seam. segment/ and engine/ touch files only through these interfaces, handed in
// by the caller. Implementations: PosixFs (pwrite/fdatasync), UringFs (io_uring), and for tests
// MemFs (models power loss) and FaultFs (injects failures). tests/segment/io/file_system_test.cc
// checks the contract below against every implementation.
//
// Paths are plain strings; directories are separated by '/'.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "segment/base/coding.h"
#include "segment/base/result.h"
#include "segment/base/strong_int.h"

namespace sluice::io {

using base::Bytes;
using base::FilePos;
using base::Result;
using base::Status;

// A file open for positional writes. Writes and Sync may be called from different threads, but
// two concurrent WriteAt calls must not overlap. Close() must be called before destruction.
class WritableFile {
 public:
  virtual ~WritableFile() = default;

  // Writes the concatenation of `pieces` at `pos`. Returns once every byte reached the file (the
  // page cache) or with the first error; short writes are continued internally. ENOSPC is
  // reported as kNoSpace. A failed write may have written any prefix of the data.
  virtual Status WriteAt(FilePos pos, std::span<const Bytes> pieces) = 0;

  // fdatasync: every WriteAt that returned before this call began is durable when it returns.
  virtual Status Sync() = 0;

  // WriteAt, then (if the write succeeded) Sync, in one call, so that an implementation can hand
  // both to the kernel at once (UringFs links the fdatasync behind the write in one submission).
  // Returns the write's status; `*synced` gets the sync's (left alone when the write failed).
  virtual Status WriteAtAndSync(FilePos pos, std::span<const Bytes> pieces, Status* synced) {
    RETURN_IF_ERROR(WriteAt(pos, pieces));
    *synced = Sync();
    return {};
  }

  // For a file written in a long sequential stream that nobody waits for (the log cleaner's
  // output): waits until the disk has what earlier calls started, then starts writing
  // [pos, pos + len) to it (sync_file_range), so that the stream never holds more than one step of
  // dirty pages. No durability promise (Sync() gives that); it keeps a later fdatasync of another
  // file from having to write this one's pages first (ext4's ordered journal commits do), and
  // paces the writer to the disk. Default: nothing.
  virtual Status StartWriteback(FilePos /*pos*/, uint64_t /*len*/) { return {}; }

  // Reserves disk blocks so the file is at least `size_bytes` long (fallocate); new bytes read
  // as zero.
  virtual Status Allocate(uint64_t size_bytes) = 0;

  // Sets the file's length to exactly `size_bytes`.
  virtual Status Truncate(uint64_t size_bytes) = 0;

  virtual Status Close() = 0;
  virtual const std::string& path() const = 0;
};

// A read-only view of the first `data().size()` bytes of a file. The bytes stay readable until the
// MappedFile is destroyed, even if the file is renamed or removed meanwhile. Reading bytes beyond
// the file's current length is not allowed (it raises SIGBUS on a real mapping).
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual Bytes data() const = 0;
  // Hints for the kernel; no-ops where meaningless.
  virtual void AdviseSequential() {}
  virtual void AdviseWillNeed(uint64_t /*pos*/, uint64_t /*len*/) {}
};

// An exclusive lock on a file, held until destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class OpenMode : uint8_t {
  kCreateNew,     // fails with kAlreadyExists if the file exists
  kOpenExisting,  // fails with kNotFound if it does not
  kCreateOrTruncate,
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path,
                                                             OpenMode mode) = 0;
  // Maps `length_bytes` of the file read-only. The length may exceed the file's: bytes past the
  // file's current end must not be read until they have been written.
  virtual Result<std::unique_ptr<MappedFile>> Map(const std::string& path,
                                                  uint64_t length_bytes) = 0;
  // Reads a whole (small) file.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual Result<bool> Exists(const std::string& path) = 0;

  // Atomic replace of `to` by `from`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Creates the directory (and missing parents); succeeds if it exists.
  virtual Status CreateDir(const std::string& path) = 0;
  // Removes a directory and everything in it.
  virtual Status RemoveAll(const std::string& path) = 0;
  // Makes creations, renames and removals of entries in `path` durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Names (not paths) of the entries in `path`, sorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;

  // Takes an exclusive lock on `path` (created if missing) that other processes see; kBusy if one
  // of them holds it. File systems that no other process can reach (MemFs) keep no lock.
  virtual Result<std::unique_ptr<FileLock>> Lock(const std::string& path);
};

enum class Durability : uint8_t {
  kVolatile,  // no fsync: for derived data that is rebuilt when lost (indexes)
  kDurable,   // fsync the file before the rename and the directory after it
};

// Replacement of a small file: writes `path`.tmp, renames it over `path`. With kDurable, after a
// crash the file holds either the old or the new contents; with kVolatile it may hold neither.
Status WriteFileAtomic(FileSystem& fs, const std::string& path, Bytes contents,
                       Durability durability = Durability::kDurable);

// "a/b/c" -> "a/b"; "c" -> ".".
std::string DirName(const std::string& path);
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace sluice::io
