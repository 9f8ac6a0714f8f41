#pragma once

// MemFs: a FileSystem held entirely in memory, for tests. It models power loss: DropUnsynced()
// throws away everything that a real disk could lose in a crash, so crash tests can check that
// what was synced survives and that recovery copes with what was not.
//
// Durability model (what survives DropUnsynced):
// - File contents and length: as of the file's last successful WritableFile::Sync(). A file that
//   was never synced comes back empty (if its directory entry survives). Allocate and Truncate
//   change the length like a write does: durable only after the next Sync.
// - Directory entries (file and directory creations, renames, removals): with
//   MetadataDurability::kOnSyncDir (the default), a change to the entries of directory D is
//   durable once SyncDir(D) succeeds after it. A file created in D before the last SyncDir(D)
//   survives; one created after it disappears; a removal not followed by SyncDir(D) is undone; a
//   rename from D1 to D2 needs SyncDir(D1) to drop the old name and SyncDir(D2) to keep the new
//   one (if only D2 was synced, the file comes back under both names, as independent copies).
//   Directories are entries of their parent like files: CreateDir("/a/b") needs SyncDir("/a")
//   (and SyncDir("/") for "/a") to survive. The roots "/" and "." always exist.
//   With MetadataDurability::kImmediate every metadata operation is durable when it returns.
// - Bit flips made with CorruptByte are durable: they model damaged media.
//
// Paths: '/'-separated; "/x" lives under the root "/", "x" and "./x" under the root ".". Empty
// and "." components are ignored and ".." is resolved lexically. Missing parents, existing names
// and type mismatches fail with the errno-derived Error PosixFs would report. FileSize of a
// directory is 0.
//
// Mappings: a MappedFile views the file's buffer directly, so it sees later writes (and
// truncations) anywhere within its length, like a MAP_SHARED mapping. Its bytes stay readable for
// the MappedFile's lifetime, even after the file is removed or the MemFs destroyed. Bytes of a
// mapping past the file's current length read as zero (a real mapping may raise SIGBUS there).
//
// Thread-safety: every method may be called from any thread; one mutex serializes them. Reads
// through a mapping take no lock: as with a real mapping, the caller must not read bytes that a
// concurrent WriteAt is writing.
//
// Lifetime: the MemFs must outlive every WritableFile it returns. After DropUnsynced(), files
// opened before it are stale (the process that held them "died"): WriteAt, Sync, Allocate and
// Truncate on them fail with kIoError and change nothing; Close succeeds.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "segment/io/file_system.h"

namespace sluice::io::testing {

// When creations, renames and removals of directory entries become durable; see above.
enum class MetadataDurability : uint8_t {
  kOnSyncDir,  // after the next successful SyncDir of the parent directory
  kImmediate,  // when the operation returns
};

class MemFs final : public FileSystem {
 public:
  explicit MemFs(MetadataDurability metadata = MetadataDurability::kOnSyncDir);
  ~MemFs() override;
  MemFs(const MemFs&) = delete;
  MemFs& operator=(const MemFs&) = delete;

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

  // A separate MemFs holding a copy of this one's whole state: current and durable contents and
  // directory entries alike, so that DropUnsynced() on the copy gives what a power loss here
  // would leave, while this one goes on. Files and mappings open here are not carried over. A
  // crash sweep takes one copy per operation of a single run instead of running the workload
  // again for every crash point.
  std::unique_ptr<MemFs> Clone() const;

  // Power loss: reverts the whole tree to its durable state (see the class comment) and makes
  // every file opened so far stale. Existing mappings see the reverted contents.
  void DropUnsynced();

  // Power loss after the kernel had written back part of what was pending: like DropUnsynced,
  // but first, chosen by a generator seeded with `seed`, about half the files keep one random
  // page-aligned run of the bytes they changed since their last Sync, and about a third of the
  // directories keep their pending entry changes (creations, renames, removals). Models the
  // orders real disks commit in: a later write durable while an earlier one is lost, a rename
  // durable before the renamed file's data.
  void DropUnsyncedPartially(uint64_t seed);

  // Partial writeback before a power loss: makes bytes [pos, pos + length_bytes) of the file's
  // current contents durable (clamped to its length), as the kernel writing back some dirty pages
  // of a write would, while the rest of the file stays as of its last Sync. The durable length
  // grows to cover the range (the gap, if any, reads as zero). With it a crash test models a torn
  // write: a prefix of the last write survives. kNotFound if there is no such file.
  Status WriteBack(const std::string& path, uint64_t pos, uint64_t length_bytes);

  // The bytes of the file at `path` that would survive DropUnsynced() now, as far as its
  // contents go (its directory entry may still be lost). kNotFound if there is no such file.
  // ReadFile gives the current contents.
  Result<std::string> SyncedContents(const std::string& path);

  // XORs the byte at `pos` of the file at `path` with `xor_mask`, in the current contents and,
  // where it is that long, the synced copy. kOutOfRange if `pos` is not below the file's length.
  Status CorruptByte(const std::string& path, uint64_t pos, uint8_t xor_mask = 0xff);

 private:
  class Buffer;
  struct Node;
  class File;
  struct Parent;

  // All below: `mu_` held.
  Result<std::shared_ptr<Node>> LookupLocked(std::string_view op, const std::string& path);
  Result<Parent> LookupParentLocked(std::string_view op, const std::string& path);
  void CommitIfImmediateLocked(Node& dir);
  void RevertDirLocked(Node& dir, std::unordered_set<const Node*>& seen);

  const MetadataDurability metadata_;
  mutable std::mutex mu_;
  std::shared_ptr<Node> absolute_root_;  // "/"; guarded by mu_
  std::shared_ptr<Node> relative_root_;  // "."; guarded by mu_
  uint64_t epoch_ = 0;                   // DropUnsynced() calls so far; guarded by mu_
};

}  // namespace sluice::io::testing
