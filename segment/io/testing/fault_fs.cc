#include "segment/io/testing/fault_fs.h"

#include <algorithm>
#include <utility>

namespace sluice::io::testing {
namespace {

base::Error Injected(const Fault& fault, std::string_view path) {
  std::string op(OpKindName(fault.op));
  op += " (injected fault)";
  return base::ErrnoError(fault.error_number, op, path);
}

}  // namespace

std::string_view OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kOpen:
      return "open";
    case OpKind::kWrite:
      return "write";
    case OpKind::kSync:
      return "fdatasync";
    case OpKind::kAllocate:
      return "fallocate";
    case OpKind::kTruncate:
      return "truncate";
    case OpKind::kClose:
      return "close";
    case OpKind::kMap:
      return "mmap";
    case OpKind::kRead:
      return "read";
    case OpKind::kStat:
      return "stat";
    case OpKind::kRename:
      return "rename";
    case OpKind::kRemove:
      return "remove";
    case OpKind::kCreateDir:
      return "mkdir";
    case OpKind::kRemoveAll:
      return "remove all";
    case OpKind::kSyncDir:
      return "fsync directory";
    case OpKind::kListDir:
      return "list";
  }
  return "unknown op";
}

Fault Fault::Nth(OpKind op, uint64_t nth) {
  SLUICE_CHECK(nth >= 1, "Fault::Nth counts from 1");
  Fault fault;
  fault.op = op;
  fault.nth = nth;
  return fault;
}

Fault Fault::FromNth(OpKind op, uint64_t nth) {
  Fault fault = Nth(op, nth);
  fault.repeat = true;
  return fault;
}

Fault& Fault::OnPath(std::string substring) {
  path_contains = std::move(substring);
  return *this;
}

Fault& Fault::WithErrno(int error) {
  error_number = error;
  return *this;
}

Fault& Fault::Torn(std::optional<uint64_t> prefix_bytes) {
  action = FaultAction::kTornWrite;
  torn_prefix_bytes = prefix_bytes;
  return *this;
}

Fault& Fault::Ignore() {
  action = FaultAction::kIgnore;
  return *this;
}

Fault& Fault::FlipBit() {
  action = FaultAction::kFlipBit;
  return *this;
}

// Wraps a file of the base FileSystem; asks the FaultFs before every call.
class FaultFs::File final : public WritableFile {
 public:
  File(FaultFs& fs, std::unique_ptr<WritableFile> base) : fs_(fs), base_(std::move(base)) {}

  Status WriteAt(FilePos pos, std::span<const Bytes> pieces) override {
    uint64_t op_number = 0;
    std::optional<Hit> hit = fs_.Check(OpKind::kWrite, path(), {}, &op_number);
    uint64_t total = 0;
    for (Bytes p : pieces) total += p.size();
    if (!hit.has_value()) {
      RETURN_IF_ERROR(base_->WriteAt(pos, pieces));
      fs_.NoteWrite({path(), pos, total, op_number});
      return {};
    }
    switch (hit->fault.action) {
      case FaultAction::kFail:
        break;
      case FaultAction::kTornWrite: {
        uint64_t prefix = 0;
        if (hit->fault.torn_prefix_bytes.has_value()) {
          prefix = std::min(*hit->fault.torn_prefix_bytes, total);
        } else if (total > 0) {
          prefix = hit->random % total;
        }
        std::vector<Bytes> cut;
        for (Bytes p : pieces) {
          if (prefix == 0) break;
          const uint64_t take = std::min<uint64_t>(prefix, p.size());
          cut.push_back(p.first(take));
          prefix -= take;
        }
        if (!cut.empty()) RETURN_IF_ERROR(base_->WriteAt(pos, cut));
        break;
      }
      case FaultAction::kFlipBit: {
        if (total == 0) return base_->WriteAt(pos, pieces);
        std::string copy;
        copy.reserve(total);
        for (Bytes p : pieces) copy.append(base::AsString(p));
        const uint64_t bit = hit->random % (total * 8);
        copy[bit / 8] = static_cast<char>(copy[bit / 8] ^ static_cast<char>(1u << (bit % 8)));
        const Bytes whole[] = {base::AsBytes(copy)};
        return base_->WriteAt(pos, whole);
      }
      case FaultAction::kIgnore:
        return {};
    }
    return Injected(hit->fault, path());
  }

  Status Sync() override {
    if (auto hit = fs_.Check(OpKind::kSync, path())) {
      if (hit->fault.action == FaultAction::kIgnore) return {};
      return Injected(hit->fault, path());
    }
    return base_->Sync();
  }

  Status Allocate(uint64_t size_bytes) override {
    if (auto hit = fs_.Check(OpKind::kAllocate, path())) return Injected(hit->fault, path());
    return base_->Allocate(size_bytes);
  }

  Status Truncate(uint64_t size_bytes) override {
    if (auto hit = fs_.Check(OpKind::kTruncate, path())) return Injected(hit->fault, path());
    return base_->Truncate(size_bytes);
  }

  Status Close() override {
    std::optional<Hit> hit = fs_.Check(OpKind::kClose, path());
    Status closed = base_->Close();  // a failed close(2) still releases the descriptor
    if (hit.has_value()) return Injected(hit->fault, path());
    return closed;
  }

  const std::string& path() const override { return base_->path(); }

 private:
  FaultFs& fs_;
  const std::unique_ptr<WritableFile> base_;
};

FaultFs::FaultFs(FileSystem& base, uint64_t seed) : base_(base), rng_(seed) {}

void FaultFs::Arm(Fault fault) {
  SLUICE_CHECK(fault.nth >= 1, "Fault::nth counts from 1");
  SLUICE_CHECK(fault.action != FaultAction::kIgnore || fault.op == OpKind::kWrite ||
                   fault.op == OpKind::kSync || fault.op == OpKind::kSyncDir,
               "Fault::Ignore applies to writes, syncs and directory syncs only");
  std::lock_guard lock(mu_);
  faults_.push_back(std::move(fault));
  matched_.push_back(0);
}

void FaultFs::DisarmAll() {
  std::lock_guard lock(mu_);
  faults_.clear();
  matched_.clear();
}

uint64_t FaultFs::OpCount(OpKind kind) const {
  std::lock_guard lock(mu_);
  return counts_[static_cast<size_t>(kind)];
}

uint64_t FaultFs::TotalOpCount() const {
  std::lock_guard lock(mu_);
  return total_;
}

void FaultFs::CrashAfterOps(uint64_t ops) {
  std::lock_guard lock(mu_);
  crash_after_ = ops;
}

void FaultFs::ClearCrash() {
  std::lock_guard lock(mu_);
  crash_after_.reset();
  crashed_ = false;
}

bool FaultFs::crashed() const {
  std::lock_guard lock(mu_);
  return crashed_;
}

void FaultFs::SetObserver(std::function<void(uint64_t op_number)> observer) {
  std::lock_guard lock(mu_);
  observer_ = std::move(observer);
}

std::optional<FaultFs::WriteRecord> FaultFs::LastWrite() const {
  std::lock_guard lock(mu_);
  return last_write_;
}

void FaultFs::NoteWrite(WriteRecord write) {
  std::lock_guard lock(mu_);
  last_write_ = std::move(write);
}

uint64_t FaultFs::InjectedCount() const {
  std::lock_guard lock(mu_);
  return injected_;
}

std::optional<FaultFs::Hit> FaultFs::Check(OpKind kind, std::string_view path,
                                           std::string_view other_path, uint64_t* op_number) {
  std::function<void(uint64_t)> observer;
  uint64_t next = 0;
  {
    std::lock_guard lock(mu_);
    observer = observer_;
    next = total_ + 1;
  }
  if (observer) observer(next);
  std::lock_guard lock(mu_);
  ++counts_[static_cast<size_t>(kind)];
  ++total_;
  if (op_number != nullptr) *op_number = total_;
  if (crash_after_.has_value() && total_ > *crash_after_) {
    // The machine is down: nothing reaches the disk any more. Armed faults are not consulted.
    crashed_ = true;
    Fault down = Fault::Nth(kind, 1);
    return Hit{down, 0};
  }
  std::optional<Hit> hit;
  for (size_t i = 0; i < faults_.size();) {
    const Fault& fault = faults_[i];
    const bool matches =
        fault.op == kind &&
        (fault.path_contains.empty() || path.find(fault.path_contains) != std::string_view::npos ||
         other_path.find(fault.path_contains) != std::string_view::npos);
    if (matches) {
      const uint64_t seen = ++matched_[i];
      const bool fires = fault.repeat ? seen >= fault.nth : seen == fault.nth;
      if (fires && !hit.has_value()) {
        hit = Hit{fault, rng_()};
        ++injected_;
      }
      if (fires && !fault.repeat) {
        faults_.erase(faults_.begin() + static_cast<std::ptrdiff_t>(i));
        matched_.erase(matched_.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
    }
    ++i;
  }
  return hit;
}

Result<std::unique_ptr<WritableFile>> FaultFs::OpenWritable(const std::string& path,
                                                            OpenMode mode) {
  if (auto hit = Check(OpKind::kOpen, path)) return Injected(hit->fault, path);
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, base_.OpenWritable(path, mode));
  return std::unique_ptr<WritableFile>(std::make_unique<File>(*this, std::move(file)));
}

Result<std::unique_ptr<MappedFile>> FaultFs::Map(const std::string& path, uint64_t length_bytes) {
  if (auto hit = Check(OpKind::kMap, path)) return Injected(hit->fault, path);
  return base_.Map(path, length_bytes);
}

Result<std::string> FaultFs::ReadFile(const std::string& path) {
  if (auto hit = Check(OpKind::kRead, path)) return Injected(hit->fault, path);
  return base_.ReadFile(path);
}

Result<uint64_t> FaultFs::FileSize(const std::string& path) {
  if (auto hit = Check(OpKind::kStat, path)) return Injected(hit->fault, path);
  return base_.FileSize(path);
}

Result<bool> FaultFs::Exists(const std::string& path) {
  if (auto hit = Check(OpKind::kStat, path)) return Injected(hit->fault, path);
  return base_.Exists(path);
}

Status FaultFs::Rename(const std::string& from, const std::string& to) {
  if (auto hit = Check(OpKind::kRename, from, to)) return Injected(hit->fault, from + " -> " + to);
  return base_.Rename(from, to);
}

Status FaultFs::Remove(const std::string& path) {
  if (auto hit = Check(OpKind::kRemove, path)) return Injected(hit->fault, path);
  return base_.Remove(path);
}

Status FaultFs::CreateDir(const std::string& path) {
  if (auto hit = Check(OpKind::kCreateDir, path)) return Injected(hit->fault, path);
  return base_.CreateDir(path);
}

Status FaultFs::RemoveAll(const std::string& path) {
  if (auto hit = Check(OpKind::kRemoveAll, path)) return Injected(hit->fault, path);
  return base_.RemoveAll(path);
}

Status FaultFs::SyncDir(const std::string& path) {
  if (auto hit = Check(OpKind::kSyncDir, path)) {
    if (hit->fault.action == FaultAction::kIgnore) return {};
    return Injected(hit->fault, path);
  }
  return base_.SyncDir(path);
}

Result<std::vector<std::string>> FaultFs::ListDir(const std::string& path) {
  if (auto hit = Check(OpKind::kListDir, path)) return Injected(hit->fault, path);
  return base_.ListDir(path);
}

}  // namespace sluice::io::testing
