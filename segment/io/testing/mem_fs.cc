#include "segment/io/testing/mem_fs.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace sluice::io::testing {
namespace {

enum class NodeKind : uint8_t { kFile, kDir };

// A path split into components, with "", "." and ".." resolved lexically.
struct ParsedPath {
  bool absolute = false;
  std::vector<std::string> parts;
};

ParsedPath ParsePath(const std::string& path) {
  ParsedPath parsed;
  parsed.absolute = !path.empty() && path.front() == '/';
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part == "..") {
      if (!parsed.parts.empty()) parsed.parts.pop_back();  // never above a root
    } else if (!part.empty() && part != ".") {
      parsed.parts.emplace_back(part);
    }
    start = end + 1;
  }
  return parsed;
}

// True if `inner` names `outer` itself or something below it.
bool IsWithin(const ParsedPath& inner, const ParsedPath& outer) {
  return inner.absolute == outer.absolute && inner.parts.size() >= outer.parts.size() &&
         std::equal(outer.parts.begin(), outer.parts.end(), inner.parts.begin());
}

// A read-only view of a file's buffer; `bytes` keeps the buffer alive.
class MemMappedFile final : public MappedFile {
 public:
  MemMappedFile(std::shared_ptr<const std::byte> bytes, uint64_t length_bytes)
      : bytes_(std::move(bytes)), length_bytes_(length_bytes) {}
  Bytes data() const override { return {bytes_.get(), length_bytes_}; }

 private:
  std::shared_ptr<const std::byte> bytes_;
  uint64_t length_bytes_;
};

}  // namespace

// A zero-initialized byte array of fixed size. It never moves or resizes, so views into it stay
// valid for as long as someone holds the shared_ptr. Untouched pages stay unbacked, so files
// preallocated (or mapped) far beyond what the test writes cost little memory. Large buffers come
// from mmap rather than calloc: an active segment's mapping spans 4 GiB, and AddressSanitizer's
// allocator would set up shadow memory for every byte of such a calloc, page by page.
class MemFs::Buffer {
 public:
  static constexpr uint64_t kMmapFromBytes = 1ull << 20;

  // nullptr if the memory cannot be had.
  static std::shared_ptr<Buffer> Make(uint64_t size_bytes) {
    void* data = nullptr;
    const bool mapped = size_bytes >= kMmapFromBytes;
    if (mapped) {
      data = mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (data == MAP_FAILED) return nullptr;
    } else {
      data = std::calloc(std::max<uint64_t>(size_bytes, 1), 1);
      if (data == nullptr) return nullptr;
    }
    return std::shared_ptr<Buffer>(new Buffer(static_cast<std::byte*>(data), size_bytes, mapped));
  }
  ~Buffer() {
    if (mapped_) {
      munmap(data_, size_);
    } else {
      std::free(data_);
    }
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  Buffer(std::byte* data, uint64_t size_bytes, bool mapped)
      : data_(data), size_(size_bytes), mapped_(mapped) {}

  std::byte* data_;
  uint64_t size_;
  bool mapped_;  // from mmap (else calloc)
};

// A file or directory ("inode"). Directory entries hold nodes, so a rename moves the node and
// handles opened on it keep writing to it, as on POSIX. All fields are guarded by MemFs::mu_.
struct MemFs::Node {
  explicit Node(NodeKind k) : kind(k) {}

  bool is_dir() const { return kind == NodeKind::kDir; }

  uint64_t capacity() const { return buffer == nullptr ? 0 : buffer->size(); }

  // Makes the buffer at least `needed` bytes long. Moves the contents to a new buffer if it must
  // grow; the old one is kept in step while mappings still hold it. False if out of memory.
  bool Reserve(uint64_t needed) {
    uint64_t cap = capacity();
    if (needed <= cap) return true;
    std::shared_ptr<Buffer> fresh = Buffer::Make(std::max(needed, cap * 2));
    if (fresh == nullptr) return false;
    // The fresh buffer is zero: only bytes that may be non-zero need copying.
    const uint64_t live = std::min(size, written_end);
    if (live > 0) std::memcpy(fresh->data(), buffer->data(), live);
    if (buffer != nullptr && buffer.use_count() > 1) retired.push_back(buffer);
    buffer = std::move(fresh);
    return true;
  }

  // Copies `src` to `pos` in the buffer and in every retired buffer still mapped, as far as each
  // reaches. The buffer must hold pos + src.size() bytes.
  void CopyIn(uint64_t pos, Bytes src) {
    if (src.empty()) return;
    MarkDirty(pos, src.size());
    written_end = std::max(written_end, pos + src.size());
    std::memcpy(buffer->data() + pos, src.data(), src.size());
    ForEachRetired(pos, src.size(),
                   [&](std::byte* dst, uint64_t n) { std::memcpy(dst, src.data(), n); });
  }

  // Zeroes `len` bytes at `pos`, like CopyIn. Bytes from written_end on are zero already (in the
  // retired buffers too, which are kept in step), so truncating a large preallocated file touches
  // only what was written.
  void Zero(uint64_t pos, uint64_t len) {
    if (len == 0) return;
    MarkDirty(pos, len);
    const uint64_t stop = std::min(pos + len, written_end);
    if (pos + len >= written_end) written_end = std::min(written_end, pos);
    if (pos >= stop) return;
    std::memset(buffer->data() + pos, 0, stop - pos);
    ForEachRetired(pos, stop - pos, [](std::byte* dst, uint64_t n) { std::memset(dst, 0, n); });
  }

  template <typename F>
  void ForEachRetired(uint64_t pos, uint64_t len, F&& f) {
    std::erase_if(retired, [](const std::weak_ptr<Buffer>& w) { return w.expired(); });
    for (const auto& weak : retired) {
      std::shared_ptr<Buffer> old = weak.lock();
      if (old == nullptr || pos >= old->size()) continue;
      f(old->data() + pos, std::min(len, old->size() - pos));
    }
  }

  std::string Contents() const {
    if (size == 0) return {};
    return std::string(reinterpret_cast<const char*>(buffer->data()), size);
  }

  // The durable contents, zeros included.
  std::string SyncedContents() const {
    std::string out = synced;
    out.resize(synced_size, '\0');
    return out;
  }

  void MarkDirty(uint64_t pos, uint64_t len) {
    dirty_begin = std::min(dirty_begin, pos);
    dirty_end = std::max(dirty_end, pos + len);
  }

  // Sync: the current contents become the durable ones. Copies only what changed since the last
  // Sync and what the file grew by, up to the last byte that may be non-zero, so that syncing a
  // large preallocated file after a small append stays cheap.
  void SyncFile() {
    const uint64_t explicit_end = std::min(size, written_end);
    const uint64_t old_explicit = synced.size();
    synced.resize(explicit_end);
    auto copy = [&](uint64_t from, uint64_t to) {
      to = std::min(to, explicit_end);
      if (from < to) std::memcpy(synced.data() + from, buffer->data() + from, to - from);
    };
    copy(dirty_begin, dirty_end);
    copy(old_explicit, explicit_end);
    synced_size = size;
    dirty_begin = UINT64_MAX;
    dirty_end = 0;
  }

  // Power loss: back to the contents of the last Sync.
  void RevertFile() {
    const uint64_t n = synced_size;
    const uint64_t e = synced.size();
    SLUICE_CHECK(Reserve(n), "MemFs: out of memory restoring a file");
    const uint64_t begin = dirty_begin;
    const uint64_t end = dirty_end;
    auto restore = [&](uint64_t from, uint64_t to) {
      to = std::min(to, n);
      if (from >= to) return;
      if (from < e) {
        const uint64_t mid = std::min(to, e);
        CopyIn(from, base::AsBytes(synced).subspan(from, mid - from));
        from = mid;
      }
      if (from < to) Zero(from, to - from);
    };
    restore(begin, end);
    restore(size, n);  // bytes past the current length: zero now, but durable before
    if (size > n) Zero(n, size - n);
    size = n;
    written_end = std::min(written_end, e);
    dirty_begin = UINT64_MAX;
    dirty_end = 0;
  }

  // Makes bytes [pos, end) of the current contents durable (end <= size).
  void WriteBackRange(uint64_t pos, uint64_t end) {
    if (synced.size() < end) synced.resize(end, '\0');
    std::memcpy(synced.data() + pos, buffer->data() + pos, end - pos);
    synced_size = std::max(synced_size, end);
  }

  // XORs byte `pos` of the durable contents (pos < synced_size).
  void FlipSynced(uint64_t pos, uint8_t xor_mask) {
    if (synced.size() <= pos) synced.resize(pos + 1, '\0');
    synced[pos] = static_cast<char>(synced[pos] ^ static_cast<char>(xor_mask));
  }

  // A copy of this file's state (its current contents in a buffer of their own, its durable
  // contents, what changed between them). Directories are copied by the caller.
  std::shared_ptr<Node> CloneFile() const {
    auto clone = std::make_shared<Node>(kind);
    const uint64_t live = std::min(size, written_end);
    SLUICE_CHECK(clone->Reserve(size), "MemFs: out of memory cloning a file");
    if (live > 0) std::memcpy(clone->buffer->data(), buffer->data(), live);
    clone->size = size;
    clone->written_end = live;
    clone->synced = synced;
    clone->synced_size = synced_size;
    clone->dirty_begin = dirty_begin;
    clone->dirty_end = dirty_end;
    return clone;
  }

  // A fresh node with this one's durable state only (used where power loss would otherwise leave
  // two names for one node).
  std::shared_ptr<Node> CloneDurable() const {
    auto clone = std::make_shared<Node>(kind);
    clone->synced = synced;
    clone->synced_size = synced_size;
    clone->durable_entries = durable_entries;
    return clone;
  }

  const NodeKind kind;

  // Files. Invariant: capacity() >= size, and bytes [min(size, written_end), capacity()) of
  // `buffer` are zero.
  std::shared_ptr<Buffer> buffer;              // null while capacity is 0
  uint64_t size = 0;                           // the file's length in bytes
  uint64_t written_end = 0;                    // no byte at or after this is non-zero
  std::vector<std::weak_ptr<Buffer>> retired;  // earlier buffers, possibly still mapped
  // The contents as of the last successful Sync: `synced_size` bytes, of which those past
  // `synced` are zero (a preallocated tail costs nothing).
  std::string synced;
  uint64_t synced_size = 0;
  // Outside [dirty_begin, dirty_end) the contents equal the durable ones (where both reach).
  uint64_t dirty_begin = UINT64_MAX;
  uint64_t dirty_end = 0;

  // Directories: entry name -> node, now and as of the last SyncDir.
  std::map<std::string, std::shared_ptr<Node>> entries;
  std::map<std::string, std::shared_ptr<Node>> durable_entries;
};

// The directory holding a path's last component, and that component.
struct MemFs::Parent {
  std::shared_ptr<Node> dir;
  std::string name;
};

// A WritableFile on one node. Every call takes the MemFs mutex.
class MemFs::File final : public WritableFile {
 public:
  File(MemFs& fs, std::shared_ptr<Node> node, std::string path, uint64_t epoch)
      : fs_(fs), node_(std::move(node)), path_(std::move(path)), epoch_(epoch) {}
  ~File() override { SLUICE_DCHECK(closed_, "WritableFile destroyed without Close(): " + path_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  Status WriteAt(FilePos pos, std::span<const Bytes> pieces) override {
    uint64_t total = 0;
    for (Bytes p : pieces) total += p.size();
    const uint64_t start = pos.value();
    std::lock_guard lock(fs_.mu_);
    RETURN_IF_ERROR(CheckUsableLocked("write"));
    if (total == 0) return {};
    if (total > UINT64_MAX - start) return base::ErrnoError(EFBIG, "write", path_);
    if (!node_->Reserve(start + total)) return base::ErrnoError(ENOSPC, "write", path_);
    uint64_t at = start;
    for (Bytes p : pieces) {
      node_->CopyIn(at, p);
      at += p.size();
    }
    node_->size = std::max(node_->size, at);
    return {};
  }

  Status Sync() override {
    std::lock_guard lock(fs_.mu_);
    RETURN_IF_ERROR(CheckUsableLocked("fdatasync"));
    node_->SyncFile();
    return {};
  }

  Status Allocate(uint64_t size_bytes) override {
    std::lock_guard lock(fs_.mu_);
    RETURN_IF_ERROR(CheckUsableLocked("fallocate"));
    if (!node_->Reserve(size_bytes)) return base::ErrnoError(ENOSPC, "fallocate", path_);
    node_->size = std::max(node_->size, size_bytes);
    return {};
  }

  Status Truncate(uint64_t size_bytes) override {
    std::lock_guard lock(fs_.mu_);
    RETURN_IF_ERROR(CheckUsableLocked("truncate"));
    if (size_bytes < node_->size) {
      node_->Zero(size_bytes, node_->size - size_bytes);
    } else if (!node_->Reserve(size_bytes)) {
      return base::ErrnoError(ENOSPC, "truncate", path_);
    }
    node_->size = size_bytes;
    return {};
  }

  Status Close() override {
    std::lock_guard lock(fs_.mu_);
    closed_ = true;
    return {};
  }

  const std::string& path() const override { return path_; }

 private:
  Status CheckUsableLocked(std::string_view op) const {
    if (closed_) {
      return base::MakeError(base::ErrorCode::kClosed, std::string(op) + " " + path_);
    }
    if (epoch_ != fs_.epoch_) {
      return base::MakeError(base::ErrorCode::kIoError,
                             std::string(op) + " " + path_ +
                                 ": file opened before MemFs::DropUnsynced (simulated crash)");
    }
    return {};
  }

  MemFs& fs_;
  const std::shared_ptr<Node> node_;
  const std::string path_;
  const uint64_t epoch_;  // fs_.epoch_ when opened
  bool closed_ = false;   // guarded by fs_.mu_
};

MemFs::MemFs(MetadataDurability metadata)
    : metadata_(metadata),
      absolute_root_(std::make_shared<Node>(NodeKind::kDir)),
      relative_root_(std::make_shared<Node>(NodeKind::kDir)) {}

MemFs::~MemFs() = default;

Result<std::shared_ptr<MemFs::Node>> MemFs::LookupLocked(std::string_view op,
                                                         const std::string& path) {
  const ParsedPath parsed = ParsePath(path);
  std::shared_ptr<Node> node = parsed.absolute ? absolute_root_ : relative_root_;
  for (const std::string& part : parsed.parts) {
    if (!node->is_dir()) return base::ErrnoError(ENOTDIR, op, path);
    auto it = node->entries.find(part);
    if (it == node->entries.end()) return base::ErrnoError(ENOENT, op, path);
    node = it->second;
  }
  return node;
}

Result<MemFs::Parent> MemFs::LookupParentLocked(std::string_view op, const std::string& path) {
  ParsedPath parsed = ParsePath(path);
  if (parsed.parts.empty()) return base::ErrnoError(EBUSY, op, path);  // a root
  Parent parent{parsed.absolute ? absolute_root_ : relative_root_, std::move(parsed.parts.back())};
  parsed.parts.pop_back();
  for (const std::string& part : parsed.parts) {
    auto it = parent.dir->entries.find(part);
    if (it == parent.dir->entries.end()) return base::ErrnoError(ENOENT, op, path);
    if (!it->second->is_dir()) return base::ErrnoError(ENOTDIR, op, path);
    parent.dir = it->second;
  }
  return parent;
}

void MemFs::CommitIfImmediateLocked(Node& dir) {
  if (metadata_ == MetadataDurability::kImmediate) dir.durable_entries = dir.entries;
}

Result<std::unique_ptr<WritableFile>> MemFs::OpenWritable(const std::string& path, OpenMode mode) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Parent parent, LookupParentLocked("open", path));
  std::shared_ptr<Node> node;
  auto it = parent.dir->entries.find(parent.name);
  if (it != parent.dir->entries.end()) {
    if (mode == OpenMode::kCreateNew) return base::ErrnoError(EEXIST, "open", path);
    node = it->second;
    if (node->is_dir()) return base::ErrnoError(EISDIR, "open", path);
    if (mode == OpenMode::kCreateOrTruncate) {
      node->Zero(0, node->size);
      node->size = 0;
    }
  } else {
    if (mode == OpenMode::kOpenExisting) return base::ErrnoError(ENOENT, "open", path);
    node = std::make_shared<Node>(NodeKind::kFile);
    parent.dir->entries.emplace(parent.name, node);
    CommitIfImmediateLocked(*parent.dir);
  }
  return std::unique_ptr<WritableFile>(
      std::make_unique<File>(*this, std::move(node), path, epoch_));
}

Result<std::unique_ptr<MappedFile>> MemFs::Map(const std::string& path, uint64_t length_bytes) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Node> node, LookupLocked("open", path));
  if (node->is_dir()) return base::ErrnoError(ENODEV, "mmap", path);
  if (length_bytes == 0) return std::unique_ptr<MappedFile>(new MemMappedFile(nullptr, 0));
  // Growing the buffer to the mapped length now means that later writes within the length land
  // in the buffer this mapping views.
  if (!node->Reserve(length_bytes)) return base::ErrnoError(ENOMEM, "mmap", path);
  std::shared_ptr<const std::byte> bytes(node->buffer, node->buffer->data());
  return std::unique_ptr<MappedFile>(new MemMappedFile(std::move(bytes), length_bytes));
}

Result<std::string> MemFs::ReadFile(const std::string& path) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Node> node, LookupLocked("open", path));
  if (node->is_dir()) return base::ErrnoError(EISDIR, "read", path);
  return node->Contents();
}

Result<uint64_t> MemFs::FileSize(const std::string& path) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Node> node, LookupLocked("stat", path));
  return node->size;  // 0 for a directory
}

Result<bool> MemFs::Exists(const std::string& path) {
  std::lock_guard lock(mu_);
  Result<std::shared_ptr<Node>> node = LookupLocked("stat", path);
  if (node.has_value()) return true;
  if (node.error().code == base::ErrorCode::kNotFound) return false;
  return std::move(node).error();
}

Status MemFs::Rename(const std::string& from, const std::string& to) {
  const std::string what = from + " -> " + to;
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Parent src, LookupParentLocked("rename", from));
  auto it = src.dir->entries.find(src.name);
  if (it == src.dir->entries.end()) return base::ErrnoError(ENOENT, "rename", what);
  std::shared_ptr<Node> node = it->second;
  ASSIGN_OR_RETURN(Parent dst, LookupParentLocked("rename", to));
  auto target = dst.dir->entries.find(dst.name);
  if (target != dst.dir->entries.end()) {
    const Node& old = *target->second;
    if (&old == node.get()) return {};
    if (!node->is_dir() && old.is_dir()) return base::ErrnoError(EISDIR, "rename", what);
    if (node->is_dir() && !old.is_dir()) return base::ErrnoError(ENOTDIR, "rename", what);
    if (old.is_dir() && !old.entries.empty()) return base::ErrnoError(ENOTEMPTY, "rename", what);
  }
  if (node->is_dir() && IsWithin(ParsePath(to), ParsePath(from))) {
    return base::ErrnoError(EINVAL, "rename", what);
  }
  dst.dir->entries[dst.name] = node;
  src.dir->entries.erase(src.name);
  CommitIfImmediateLocked(*src.dir);
  CommitIfImmediateLocked(*dst.dir);
  return {};
}

Status MemFs::Remove(const std::string& path) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Parent parent, LookupParentLocked("remove", path));
  auto it = parent.dir->entries.find(parent.name);
  if (it == parent.dir->entries.end()) return base::ErrnoError(ENOENT, "remove", path);
  if (it->second->is_dir()) return base::ErrnoError(EISDIR, "remove", path);
  parent.dir->entries.erase(it);
  CommitIfImmediateLocked(*parent.dir);
  return {};
}

Status MemFs::CreateDir(const std::string& path) {
  std::lock_guard lock(mu_);
  const ParsedPath parsed = ParsePath(path);
  std::shared_ptr<Node> node = parsed.absolute ? absolute_root_ : relative_root_;
  for (const std::string& part : parsed.parts) {
    if (!node->is_dir()) return base::ErrnoError(ENOTDIR, "mkdir", path);
    auto it = node->entries.find(part);
    if (it == node->entries.end()) {
      auto dir = std::make_shared<Node>(NodeKind::kDir);
      node->entries.emplace(part, dir);
      CommitIfImmediateLocked(*node);
      node = std::move(dir);
    } else {
      node = it->second;
    }
  }
  if (!node->is_dir()) return base::ErrnoError(EEXIST, "mkdir", path);
  return {};
}

Status MemFs::RemoveAll(const std::string& path) {
  std::lock_guard lock(mu_);
  Result<Parent> parent = LookupParentLocked("remove", path);
  if (!parent.has_value()) {
    if (parent.error().code == base::ErrorCode::kNotFound) return {};
    return std::move(parent).error();
  }
  if (parent->dir->entries.erase(parent->name) > 0) CommitIfImmediateLocked(*parent->dir);
  return {};
}

Status MemFs::SyncDir(const std::string& path) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Node> node, LookupLocked("open directory", path));
  if (!node->is_dir()) return base::ErrnoError(ENOTDIR, "open directory", path);
  node->durable_entries = node->entries;
  return {};
}

Result<std::vector<std::string>> MemFs::ListDir(const std::string& path) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Node> node, LookupLocked("list", path));
  if (!node->is_dir()) return base::ErrnoError(ENOTDIR, "list", path);
  std::vector<std::string> names;
  names.reserve(node->entries.size());
  for (const auto& entry : node->entries) names.push_back(entry.first);
  return names;  // std::map keeps them sorted
}

std::unique_ptr<MemFs> MemFs::Clone() const {
  std::lock_guard lock(mu_);
  auto copy = std::make_unique<MemFs>(metadata_);
  // A node reachable under several names (current and durable entries, or a rename synced in
  // one directory only) is copied once, so the copy shares it the same way.
  std::unordered_map<const Node*, std::shared_ptr<Node>> copies;
  std::function<std::shared_ptr<Node>(const std::shared_ptr<Node>&)> clone =
      [&](const std::shared_ptr<Node>& node) -> std::shared_ptr<Node> {
    auto found = copies.find(node.get());
    if (found != copies.end()) return found->second;
    std::shared_ptr<Node> c =
        node->is_dir() ? std::make_shared<Node>(NodeKind::kDir) : node->CloneFile();
    copies.emplace(node.get(), c);
    if (node->is_dir()) {
      for (const auto& [name, child] : node->entries) c->entries.emplace(name, clone(child));
      for (const auto& [name, child] : node->durable_entries) {
        c->durable_entries.emplace(name, clone(child));
      }
    }
    return c;
  };
  copy->absolute_root_ = clone(absolute_root_);
  copy->relative_root_ = clone(relative_root_);
  return copy;
}

void MemFs::DropUnsyncedPartially(uint64_t seed) {
  std::lock_guard lock(mu_);
  std::mt19937_64 rng(seed);
  constexpr uint64_t kPage = 4096;
  // Every node reachable now or durably, each once, in a deterministic order (maps are sorted).
  std::unordered_set<const Node*> visited;
  std::vector<Node*> stack{absolute_root_.get(), relative_root_.get()};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    if (!visited.insert(node).second) continue;
    if (node->is_dir()) {
      if (rng() % 3 == 0) node->durable_entries = node->entries;
      for (const auto& entry : node->entries) stack.push_back(entry.second.get());
      for (const auto& entry : node->durable_entries) stack.push_back(entry.second.get());
      continue;
    }
    // What changed since the last Sync: the dirty range, and what the file grew by.
    uint64_t lo = node->dirty_begin;
    uint64_t hi = node->dirty_end;
    if (node->size > node->synced_size) {
      lo = std::min(lo, node->synced_size);
      hi = std::max(hi, node->size);
    }
    hi = std::min(hi, node->size);
    if (lo >= hi || rng() % 2 == 0) continue;
    const uint64_t first = lo / kPage;
    const uint64_t last = (hi - 1) / kPage;
    const uint64_t a = first + rng() % (last - first + 1);
    const uint64_t b = a + rng() % (last - a + 1);
    node->WriteBackRange(std::max(lo, a * kPage), std::min(hi, (b + 1) * kPage));
  }
  ++epoch_;
  std::unordered_set<const Node*> seen;
  RevertDirLocked(*absolute_root_, seen);
  RevertDirLocked(*relative_root_, seen);
}

void MemFs::DropUnsynced() {
  std::lock_guard lock(mu_);
  ++epoch_;
  std::unordered_set<const Node*> seen;
  RevertDirLocked(*absolute_root_, seen);
  RevertDirLocked(*relative_root_, seen);
}

void MemFs::RevertDirLocked(Node& dir, std::unordered_set<const Node*>& seen) {
  for (auto& entry : dir.durable_entries) {
    std::shared_ptr<Node>& child = entry.second;
    // A node durable under two names (a rename synced only in its target directory) becomes two
    // independent nodes: after a crash they would be two files, not one.
    if (!seen.insert(child.get()).second) child = child->CloneDurable();
    if (child->is_dir()) {
      RevertDirLocked(*child, seen);
    } else {
      child->RevertFile();
    }
  }
  dir.entries = dir.durable_entries;
}

Status MemFs::WriteBack(const std::string& path, uint64_t pos, uint64_t length_bytes) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Node> node, LookupLocked("open", path));
  if (node->is_dir()) return base::ErrnoError(EISDIR, "write back", path);
  if (pos >= node->size) return {};
  node->WriteBackRange(pos, pos + std::min(length_bytes, node->size - pos));
  return {};
}

Result<std::string> MemFs::SyncedContents(const std::string& path) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Node> node, LookupLocked("open", path));
  if (node->is_dir()) return base::ErrnoError(EISDIR, "read", path);
  return node->SyncedContents();
}

Status MemFs::CorruptByte(const std::string& path, uint64_t pos, uint8_t xor_mask) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<Node> node, LookupLocked("open", path));
  if (node->is_dir()) return base::ErrnoError(EISDIR, "corrupt", path);
  if (pos >= node->size) {
    std::string context = "corrupt " + path + " at position " + std::to_string(pos);
    context += ": the file is " + std::to_string(node->size) + " bytes long";
    return base::MakeError(base::ErrorCode::kOutOfRange, std::move(context));
  }
  const std::byte flipped = node->buffer->data()[pos] ^ std::byte{xor_mask};
  node->CopyIn(pos, Bytes(&flipped, 1));
  if (pos < node->synced_size) node->FlipSynced(pos, xor_mask);
  return {};
}

}  // namespace sluice::io::testing
