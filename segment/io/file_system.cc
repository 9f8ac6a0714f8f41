#include "segment/io/file_system.h"

namespace sluice::io {

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Result<std::unique_ptr<FileLock>> FileSystem::Lock(const std::string& /*path*/) {
  return std::make_unique<FileLock>();
}

Status WriteFileAtomic(FileSystem& fs, const std::string& path, Bytes contents,
                       Durability durability) {
  const std::string tmp = path + ".tmp";
  ASSIGN_OR_RETURN(auto file, fs.OpenWritable(tmp, OpenMode::kCreateOrTruncate));
  const Bytes pieces[] = {contents};
  Status s = file->WriteAt(FilePos(0), pieces);
  // The data must be durable before the rename can be: otherwise a crash could leave the new name
  // pointing at an empty or partial file.
  if (s && durability == Durability::kDurable) s = file->Sync();
  Status closed = file->Close();
  if (!s) return s;
  RETURN_IF_ERROR(closed);
  RETURN_IF_ERROR(fs.Rename(tmp, path));
  if (durability == Durability::kVolatile) return {};
  return fs.SyncDir(DirName(path));
}

}  // namespace sluice::io
