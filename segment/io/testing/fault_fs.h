#pragma once

// FaultFs: a FileSystem decorator for tests that counts operations and injects failures into
// chosen ones: fail the nth (or every) operation of a kind, optionally only on paths containing a
// substring, with a chosen errno (EIO -> kIoError, ENOSPC -> kNoSpace, via base::ErrnoError); tear
// a write (write a prefix, then fail); or flip one bit of a write and report success.
//
//   MemFs mem;
//   FaultFs fs(mem, /*seed=*/42);
//   fs.Arm(Fault::Nth(OpKind::kWrite, 3).WithErrno(ENOSPC));    // the 3rd write: kNoSpace
//   fs.Arm(Fault::FromNth(OpKind::kSync, 1).OnPath(".log"));   // every sync of a .log file fails
//   fs.Arm(Fault::Nth(OpKind::kWrite, 1).Torn());              // next write: a prefix, then EIO
//
// A failed operation (action kFail) does nothing: it does not reach the wrapped FileSystem. So a
// failed Sync over a MemFs leaves the data unsynced, and MemFs::DropUnsynced() then loses it.
//
// Crash sweeps (LevelDB's fault-injection test) use CrashAfterOps: the "machine" stops after the
// kth operation of any kind, every later one fails, and the test then drops what was not synced
// (MemFs::DropUnsynced) and reopens on what survived:
//
//   fs.CrashAfterOps(k);        // operations 1..k run, k+1 on fail with EIO and do nothing
//   RunWorkload(fs);            // stops at its first error
//   if (fs.LastWrite() && fs.LastWrite()->op_number == k) mem.WriteBack(...);  // torn last write
//   mem.DropUnsynced();
// The random choices (torn prefix lengths, flipped bits) come from a generator seeded in the
// constructor, so a run is reproducible given the seed and the order of operations.
//
// Thread-safety: every method may be called from any thread. Operations are counted and faults
// decided under a mutex; the wrapped FileSystem is called without it.
//
// Lifetime: `base` must outlive the FaultFs, every WritableFile it returns and every MappedFile
// (mappings are the wrapped FileSystem's own, subject to its rules). The FaultFs must outlive the
// WritableFiles it returns.

#include <array>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "segment/io/file_system.h"

namespace sluice::io::testing {

// The operations FaultFs counts and can fail.
enum class OpKind : uint8_t {
  kOpen,       // FileSystem::OpenWritable
  kWrite,      // WritableFile::WriteAt
  kSync,       // WritableFile::Sync
  kAllocate,   // WritableFile::Allocate
  kTruncate,   // WritableFile::Truncate
  kClose,      // WritableFile::Close (the wrapped file is closed even when this fails)
  kMap,        // FileSystem::Map
  kRead,       // FileSystem::ReadFile
  kStat,       // FileSystem::FileSize and FileSystem::Exists
  kRename,     // FileSystem::Rename (matches a path filter if either name does)
  kRemove,     // FileSystem::Remove
  kCreateDir,  // FileSystem::CreateDir
  kRemoveAll,  // FileSystem::RemoveAll
  kSyncDir,    // FileSystem::SyncDir
  kListDir,    // FileSystem::ListDir
};
inline constexpr size_t kNumOpKinds = 15;

std::string_view OpKindName(OpKind kind);

// What happens to an operation a fault hits.
enum class FaultAction : uint8_t {
  kFail,       // nothing is done; the operation reports the fault's errno
  kTornWrite,  // kWrite only: a prefix of the data is written, then the errno is reported
  kFlipBit,    // kWrite only: the data is written with one bit flipped; success is reported
  // kWrite, kSync and kSyncDir only: nothing is done and success is reported (a disk that drops
  // a write, or acknowledges a flush it did not do).
  kIgnore,
};

// One armed fault. Build with Nth or FromNth and refine with the setters:
// `Fault::Nth(OpKind::kSync, 2).OnPath("/p0/").WithErrno(EIO)`.
struct Fault {
  // Hits only the nth operation that matches (kind and path filter), counting matching operations
  // from 1 when the fault is armed. nth >= 1.
  static Fault Nth(OpKind op, uint64_t nth);
  // Hits the nth matching operation and every later one.
  static Fault FromNth(OpKind op, uint64_t nth = 1);

  // Only operations whose path contains `substring` match (empty: every path).
  Fault& OnPath(std::string substring);
  // The errno reported (default EIO).
  Fault& WithErrno(int error);
  // kTornWrite: writes `prefix_bytes` (clamped to the write's size), or with nullopt a seeded
  // random length below the write's size, then fails.
  Fault& Torn(std::optional<uint64_t> prefix_bytes = std::nullopt);
  // kFlipBit: flips one seeded-random bit of the written data and reports success.
  Fault& FlipBit();
  // kIgnore: does nothing and reports success.
  Fault& Ignore();

  OpKind op = OpKind::kWrite;
  uint64_t nth = 1;
  bool repeat = false;  // false: the nth matching operation only; true: it and every later one
  std::string path_contains;
  FaultAction action = FaultAction::kFail;
  int error_number = EIO;
  std::optional<uint64_t> torn_prefix_bytes;  // kTornWrite; nullopt: seeded random
};

class FaultFs final : public FileSystem {
 public:
  // `base` is borrowed (see the lifetime rule above); `seed` drives every random choice.
  explicit FaultFs(FileSystem& base, uint64_t seed = 0);
  FaultFs(const FaultFs&) = delete;
  FaultFs& operator=(const FaultFs&) = delete;

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

  // Adds a fault. When several armed faults hit one operation, the earliest armed applies; each
  // matching fault counts the operation either way. A non-repeating fault is dropped once it hit.
  void Arm(Fault fault);
  // Drops every armed fault. Counters are kept.
  void DisarmAll();

  // Operations of `kind` attempted so far, failed ones included.
  uint64_t OpCount(OpKind kind) const;
  // Operations of every kind attempted so far, failed ones included. Operations are numbered from
  // 1 in the order they are counted.
  uint64_t TotalOpCount() const;

  // Simulated machine crash: operations numbered above `ops` (see TotalOpCount) fail with EIO
  // and do nothing, whatever is armed; WritableFile::Close still closes the wrapped file. 0 makes
  // every operation fail. Stays in force until CrashAfterOps is called again or ClearCrash.
  void CrashAfterOps(uint64_t ops);
  void ClearCrash();
  // True once an operation was refused by CrashAfterOps.
  bool crashed() const;

  // Calls `observer(n)` before operation n is counted or carried out, so that the wrapped file
  // system then holds the effects of operations 1..n-1 exactly: a crash sweep copies it there
  // (MemFs::Clone) to get every crash point from one run. Called on the operating thread without
  // FaultFs's lock; meant for single-threaded workloads. Null removes it.
  void SetObserver(std::function<void(uint64_t op_number)> observer);

  // The last WriteAt that reached the wrapped FileSystem in full and succeeded there.
  struct WriteRecord {
    std::string path;  // as passed to OpenWritable
    FilePos pos;       // where the write started
    uint64_t size_bytes = 0;
    uint64_t op_number = 0;  // its number among all operations (TotalOpCount when it was counted)
  };
  std::optional<WriteRecord> LastWrite() const;
  // Faults that have hit so far.
  uint64_t InjectedCount() const;

 private:
  class File;

  // What to do with one operation: nullopt to pass it through, else the fault that hit it with
  // the random number drawn for it.
  struct Hit {
    Fault fault;
    uint64_t random = 0;
  };

  // Counts an operation of `kind` on `path` (and `other_path`, for renames) and decides its fate.
  // `op_number`, if given, receives the operation's number.
  std::optional<Hit> Check(OpKind kind, std::string_view path, std::string_view other_path = {},
                           uint64_t* op_number = nullptr);
  void NoteWrite(WriteRecord write);

  FileSystem& base_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;                         // guarded by mu_
  std::vector<Fault> faults_;                   // armed, in arming order; guarded by mu_
  std::vector<uint64_t> matched_;               // matching ops seen per fault; guarded by mu_
  std::array<uint64_t, kNumOpKinds> counts_{};  // per OpKind; guarded by mu_
  uint64_t injected_ = 0;                       // guarded by mu_
  uint64_t total_ = 0;                          // operations counted; guarded by mu_
  std::optional<uint64_t> crash_after_;         // CrashAfterOps; guarded by mu_
  bool crashed_ = false;                        // guarded by mu_
  std::optional<WriteRecord> last_write_;       // guarded by mu_
  std::function<void(uint64_t)> observer_;      // guarded by mu_
};

}  // namespace sluice::io::testing
