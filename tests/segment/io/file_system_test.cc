// The FileSystem contract (segment/io/file_system.h), checked against every implementation, plus
// the test-only behaviour of MemFs (power loss) and FaultFs (injected failures).

#include "segment/io/file_system.h"

#include <gtest/gtest.h>

#include <bit>
#include <cerrno>
#include <climits>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "segment/io/posix_fs.h"
#include "segment/io/testing/fault_fs.h"
#include "segment/io/testing/mem_fs.h"
#include "segment/io/uring_fs.h"
#include "tests/support/test_util.h"

namespace sluice::base {
// Lets gtest print error codes by name.
[[maybe_unused]] static void PrintTo(ErrorCode code, std::ostream* os) {
  *os << ErrorCodeName(code);
}
}  // namespace sluice::base

namespace sluice::io {
namespace {

using base::ErrorCode;
using io::testing::Fault;
using io::testing::FaultFs;
using io::testing::MemFs;
using io::testing::MetadataDurability;
using io::testing::OpKind;
using sluice::testing::TempDir;

// The error code of a Status or Result, kOk on success.
template <typename R>
ErrorCode CodeOf(const R& result) {
  return result.has_value() ? ErrorCode::kOk : result.error().code;
}

std::string Zeros(size_t n) { return std::string(n, '\0'); }

// Writes the concatenation of `pieces` at `pos`.
Status WriteStrings(WritableFile& file, uint64_t pos,
                    std::initializer_list<std::string_view> pieces) {
  std::vector<Bytes> bytes;
  for (std::string_view p : pieces) bytes.push_back(base::AsBytes(p));
  return file.WriteAt(FilePos(pos), bytes);
}

// An open file that is closed on scope exit, so that a failed assertion does not destroy it
// unclosed (a DCHECK failure in debug builds). Tests still Close() explicitly where it matters.
class ScopedFile {
 public:
  explicit ScopedFile(std::unique_ptr<WritableFile> file) : file_(std::move(file)) {}
  ScopedFile(ScopedFile&&) = default;
  ScopedFile& operator=(ScopedFile&&) = default;
  ~ScopedFile() {
    if (file_ != nullptr) file_->Close().IgnoreError();
  }
  WritableFile* operator->() const { return file_.get(); }
  WritableFile& operator*() const { return *file_; }

 private:
  std::unique_ptr<WritableFile> file_;
};

// Environments: each owns one FileSystem implementation and a directory to work in. The tests
// are value-parameterized over them (one compiled body per test, not one per environment).
class Env {
 public:
  virtual ~Env() = default;
  virtual FileSystem& fs() = 0;
  virtual std::string root() const = 0;
};

class PosixEnv final : public Env {
 public:
  static constexpr const char* kName = "Posix";
  static bool Supported() { return true; }
  FileSystem& fs() override { return fs_; }
  std::string root() const override { return dir_.path(); }

 private:
  TempDir dir_;
  PosixFs fs_;
};

class UringEnv final : public Env {
 public:
  static constexpr const char* kName = "Uring";
  static bool Supported() { return UringFs::Available(); }
  FileSystem& fs() override { return fs_; }
  std::string root() const override { return dir_.path(); }

 private:
  TempDir dir_;
  UringFs fs_;
};

class MemEnv final : public Env {
 public:
  static constexpr const char* kName = "Mem";
  static bool Supported() { return true; }
  MemEnv() { SLUICE_CHECK(fs_.CreateDir(root()).has_value(), "MemFs::CreateDir"); }
  FileSystem& fs() override { return fs_; }
  std::string root() const override { return "/mem/test"; }

 private:
  MemFs fs_;
};

// FaultFs with no faults armed must be transparent.
class FaultOverPosixEnv final : public Env {
 public:
  static constexpr const char* kName = "FaultOverPosix";
  static bool Supported() { return true; }
  FileSystem& fs() override { return fs_; }
  std::string root() const override { return dir_.path(); }

 private:
  TempDir dir_;
  PosixFs base_;
  FaultFs fs_{base_};
};

// One environment as a test parameter: its name, whether this machine has it, how to make one.
struct EnvKind {
  const char* name;
  bool (*supported)();
  std::unique_ptr<Env> (*make)();
};
template <typename E>
EnvKind KindOf() {
  return {E::kName, &E::Supported, []() -> std::unique_ptr<Env> { return std::make_unique<E>(); }};
}

class FileSystemTest : public ::testing::TestWithParam<EnvKind> {
 protected:
  void SetUp() override {
    if (!GetParam().supported()) {
      GTEST_SKIP() << GetParam().name << " is not available on this machine";
    }
    env_ = GetParam().make();
  }

  FileSystem& fs() { return env_->fs(); }
  std::string Path(const std::string& name) const { return JoinPath(env_->root(), name); }

  Result<ScopedFile> Open(const std::string& path, OpenMode mode = OpenMode::kCreateOrTruncate) {
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs().OpenWritable(path, mode));
    return ScopedFile(std::move(file));
  }

  // Opens `path` with `mode`, writes `data` at `pos` and closes it.
  Status Write(const std::string& path, std::string_view data, uint64_t pos = 0,
               OpenMode mode = OpenMode::kCreateOrTruncate) {
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs().OpenWritable(path, mode));
    Status written = WriteStrings(*file, pos, {data});
    Status closed = file->Close();
    RETURN_IF_ERROR(written);
    return closed;
  }

  // The file's contents, or the error in angle brackets (so a failed EXPECT_EQ shows it).
  std::string Read(const std::string& path) {
    Result<std::string> contents = fs().ReadFile(path);
    if (!contents.has_value()) return "<" + contents.error().ToString() + ">";
    return *std::move(contents);
  }

  std::unique_ptr<Env> env_;
};

INSTANTIATE_TEST_SUITE_P(Envs, FileSystemTest,
                         ::testing::Values(KindOf<PosixEnv>(), KindOf<UringEnv>(), KindOf<MemEnv>(),
                                           KindOf<FaultOverPosixEnv>()),
                         [](const ::testing::TestParamInfo<EnvKind>& param) {
                           return std::string(param.param.name);
                         });

// --- opening -------------------------------------------------------------------------------------

TEST_P(FileSystemTest, CreateNewCreatesEmptyFile) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path, OpenMode::kCreateNew));
  EXPECT_EQ(file->path(), path);
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), "");
}

TEST_P(FileSystemTest, CreateNewFailsWhenFileExists) {
  const std::string path = this->Path("f");
  ASSERT_OK(this->Write(path, "old"));
  EXPECT_EQ(CodeOf(this->fs().OpenWritable(path, OpenMode::kCreateNew)), ErrorCode::kAlreadyExists);
  EXPECT_EQ(this->Read(path), "old");
}

TEST_P(FileSystemTest, OpenExistingFailsWhenFileIsMissing) {
  const std::string path = this->Path("missing");
  EXPECT_EQ(CodeOf(this->fs().OpenWritable(path, OpenMode::kOpenExisting)), ErrorCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(bool exists, this->fs().Exists(path));
  EXPECT_FALSE(exists);
}

TEST_P(FileSystemTest, OpenExistingKeepsContents) {
  const std::string path = this->Path("f");
  ASSERT_OK(this->Write(path, "hello world"));
  ASSERT_OK(this->Write(path, "W", 6, OpenMode::kOpenExisting));
  EXPECT_EQ(this->Read(path), "hello World");
}

TEST_P(FileSystemTest, CreateOrTruncateEmptiesExistingFile) {
  const std::string path = this->Path("f");
  ASSERT_OK(this->Write(path, "a long first version"));
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path, OpenMode::kCreateOrTruncate));
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), "");
  ASSERT_OK(this->Write(path, "new", 0, OpenMode::kCreateOrTruncate));
  EXPECT_EQ(this->Read(path), "new");
}

TEST_P(FileSystemTest, OpenFailsWhenParentIsMissing) {
  for (OpenMode mode :
       {OpenMode::kCreateNew, OpenMode::kOpenExisting, OpenMode::kCreateOrTruncate}) {
    EXPECT_EQ(CodeOf(this->fs().OpenWritable(this->Path("no/such/f"), mode)), ErrorCode::kNotFound);
  }
}

// --- writing -------------------------------------------------------------------------------------

TEST_P(FileSystemTest, WriteAtConcatenatesPieces) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(WriteStrings(*file, 0, {"ab", "", "cde", "", "f"}));
  ASSERT_OK(WriteStrings(*file, 6, {"gh", "i"}));
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), "abcdefghi");
}

TEST_P(FileSystemTest, WriteAtOverwritesInPlace) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(WriteStrings(*file, 0, {"hello world"}));
  ASSERT_OK(WriteStrings(*file, 6, {"WOR", "LD"}));
  ASSERT_OK(WriteStrings(*file, 0, {"J"}));
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), "Jello WORLD");
}

TEST_P(FileSystemTest, WriteAtPastEndFillsGapWithZeros) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(WriteStrings(*file, 0, {"ab"}));
  ASSERT_OK(WriteStrings(*file, 10, {"cd"}));
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), "ab" + Zeros(8) + "cd");
  ASSERT_OK_AND_ASSIGN(uint64_t size, this->fs().FileSize(path));
  EXPECT_EQ(size, 12u);
}

TEST_P(FileSystemTest, WriteAtHandlesMorePiecesThanIovMax) {
  static_assert(IOV_MAX == 1024);
  // 3000 pieces (every seventh empty) of 1 to 13 bytes each: the write needs several system
  // calls, and their boundaries fall inside pieces and next to empty ones.
  std::vector<std::string> storage;
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    std::string piece =
        i % 7 == 0 ? ""
                   : std::string(static_cast<size_t>(1 + i % 13), static_cast<char>('a' + i % 26));
    expected += piece;
    storage.push_back(std::move(piece));
  }
  std::vector<Bytes> pieces;
  pieces.reserve(storage.size());
  for (const std::string& s : storage) pieces.push_back(base::AsBytes(s));

  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(WriteStrings(*file, 0, {"head:"}));
  ASSERT_OK(file->WriteAt(FilePos(5), pieces));
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), "head:" + expected);
}

TEST_P(FileSystemTest, WriteAtWithOnlyEmptyPiecesWritesNothing) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(file->WriteAt(FilePos(100), {}));
  ASSERT_OK(WriteStrings(*file, 200, {"", ""}));
  ASSERT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(uint64_t size, this->fs().FileSize(path));
  EXPECT_EQ(size, 0u);
}

// StartWriteback is a hint: on every implementation it succeeds on written ranges, on an empty
// one and past the end, and changes nothing a read sees.
TEST_P(FileSystemTest, StartWritebackSucceedsAndKeepsContents) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  const std::string chunk(64 << 10, 'x');
  ASSERT_OK(WriteStrings(*file, 0, {chunk}));
  ASSERT_OK(file->StartWriteback(FilePos(0), chunk.size()));
  ASSERT_OK(WriteStrings(*file, chunk.size(), {"tail"}));
  ASSERT_OK(file->StartWriteback(FilePos(chunk.size()), 4));
  ASSERT_OK(file->StartWriteback(FilePos(chunk.size() + 4), 0));
  ASSERT_OK(file->StartWriteback(FilePos(1 << 30), 4096));  // past the end: nothing to write
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), chunk + "tail");
}

TEST_P(FileSystemTest, SyncSucceedsAndKeepsContents) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(file->Sync());  // nothing written yet
  ASSERT_OK(WriteStrings(*file, 0, {"abc"}));
  ASSERT_OK(file->Sync());
  ASSERT_OK(WriteStrings(*file, 3, {"def"}));
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), "abcdef");
}

TEST_P(FileSystemTest, WritesThroughOneHandleFromManyThreadsAllLand) {
  constexpr int kThreads = 4;
  constexpr int kWritesPerThread = 64;
  constexpr size_t kChunk = 512;
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string chunk(kChunk, static_cast<char>('A' + t));
      for (int i = 0; i < kWritesPerThread; ++i) {
        // Thread t owns every kThreads-th chunk: concurrent writes never overlap.
        const uint64_t pos =
            (static_cast<uint64_t>(i) * kThreads + static_cast<uint64_t>(t)) * kChunk;
        Status s = WriteStrings(*file, pos, {chunk});
        if (!s.has_value()) {
          results[static_cast<size_t>(t)] = std::move(s);
          return;
        }
        if (i % 16 == 0) s = file->Sync();
        if (!s.has_value()) {
          results[static_cast<size_t>(t)] = std::move(s);
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Status& s : results) ASSERT_OK(s);
  ASSERT_OK(file->Close());
  std::string expected;
  for (int i = 0; i < kWritesPerThread * kThreads; ++i) {
    expected += std::string(kChunk, static_cast<char>('A' + i % kThreads));
  }
  EXPECT_EQ(this->Read(path), expected);
}

// --- sizes ---------------------------------------------------------------------------------------

TEST_P(FileSystemTest, ReadFileAndFileSizeFailWhenMissing) {
  EXPECT_EQ(CodeOf(this->fs().ReadFile(this->Path("missing"))), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(this->fs().FileSize(this->Path("missing"))), ErrorCode::kNotFound);
}

TEST_P(FileSystemTest, AllocateGrowsFileWithZeros) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(WriteStrings(*file, 0, {"data"}));
  ASSERT_OK(file->Allocate(4096));
  ASSERT_OK_AND_ASSIGN(uint64_t size, this->fs().FileSize(path));
  EXPECT_EQ(size, 4096u);
  EXPECT_EQ(this->Read(path), "data" + Zeros(4092));
  // Writing inside the allocated space does not change the length.
  ASSERT_OK(WriteStrings(*file, 4, {"more"}));
  ASSERT_OK(file->Close());
  ASSERT_OK_AND_ASSIGN(size, this->fs().FileSize(path));
  EXPECT_EQ(size, 4096u);
  EXPECT_EQ(this->Read(path), "datamore" + Zeros(4088));
}

TEST_P(FileSystemTest, AllocateNeverShrinks) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(WriteStrings(*file, 0, {"0123456789"}));
  ASSERT_OK(file->Allocate(4));
  ASSERT_OK(file->Allocate(0));
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), "0123456789");
}

TEST_P(FileSystemTest, TruncateShrinksAndGrowsWithZeros) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(WriteStrings(*file, 0, {"abcdef"}));
  ASSERT_OK(file->Truncate(3));
  EXPECT_EQ(this->Read(path), "abc");
  // The cut bytes do not come back when the file grows again.
  ASSERT_OK(file->Truncate(6));
  EXPECT_EQ(this->Read(path), "abc" + Zeros(3));
  ASSERT_OK(file->Allocate(8));
  ASSERT_OK(file->Truncate(0));
  ASSERT_OK(WriteStrings(*file, 2, {"x"}));
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(path), Zeros(2) + "x");
}

// --- names ---------------------------------------------------------------------------------------

TEST_P(FileSystemTest, RenameReplacesTarget) {
  const std::string from = this->Path("from");
  const std::string to = this->Path("to");
  ASSERT_OK(this->Write(from, "new"));
  ASSERT_OK(this->Write(to, "old contents"));
  ASSERT_OK(this->fs().Rename(from, to));
  EXPECT_EQ(this->Read(to), "new");
  ASSERT_OK_AND_ASSIGN(bool exists, this->fs().Exists(from));
  EXPECT_FALSE(exists);
}

TEST_P(FileSystemTest, RenameMovesBetweenDirectories) {
  ASSERT_OK(this->fs().CreateDir(this->Path("a")));
  ASSERT_OK(this->fs().CreateDir(this->Path("b")));
  ASSERT_OK(this->Write(this->Path("a/f"), "moved"));
  ASSERT_OK(this->fs().Rename(this->Path("a/f"), this->Path("b/g")));
  EXPECT_EQ(this->Read(this->Path("b/g")), "moved");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, this->fs().ListDir(this->Path("a")));
  EXPECT_TRUE(names.empty());
}

TEST_P(FileSystemTest, RenameFailsWhenSourceIsMissing) {
  ASSERT_OK(this->Write(this->Path("to"), "kept"));
  EXPECT_EQ(CodeOf(this->fs().Rename(this->Path("missing"), this->Path("to"))),
            ErrorCode::kNotFound);
  EXPECT_EQ(this->Read(this->Path("to")), "kept");
}

TEST_P(FileSystemTest, OpenHandleFollowsRename) {
  const std::string from = this->Path("from");
  const std::string to = this->Path("to");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(from));
  ASSERT_OK(WriteStrings(*file, 0, {"before "}));
  ASSERT_OK(this->fs().Rename(from, to));
  ASSERT_OK(WriteStrings(*file, 7, {"after"}));
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Close());
  EXPECT_EQ(this->Read(to), "before after");
}

TEST_P(FileSystemTest, RemoveDeletesFile) {
  const std::string path = this->Path("f");
  ASSERT_OK(this->Write(path, "x"));
  ASSERT_OK(this->fs().Remove(path));
  ASSERT_OK_AND_ASSIGN(bool exists, this->fs().Exists(path));
  EXPECT_FALSE(exists);
  EXPECT_EQ(CodeOf(this->fs().Remove(path)), ErrorCode::kNotFound);
}

TEST_P(FileSystemTest, CreateDirCreatesMissingParents) {
  const std::string deep = this->Path("a/b/c");
  ASSERT_OK(this->fs().CreateDir(deep));
  ASSERT_OK(this->fs().CreateDir(deep));  // exists already: fine
  ASSERT_OK(this->fs().CreateDir(this->Path("a")));
  ASSERT_OK(this->Write(JoinPath(deep, "f"), "x"));
  EXPECT_EQ(this->Read(this->Path("a/b/c/f")), "x");
}

TEST_P(FileSystemTest, CreateDirFailsWhenPathIsAFile) {
  ASSERT_OK(this->Write(this->Path("f"), "x"));
  EXPECT_EQ(CodeOf(this->fs().CreateDir(this->Path("f"))), ErrorCode::kAlreadyExists);
  EXPECT_FALSE(this->fs().CreateDir(this->Path("f/sub")).has_value());
  EXPECT_EQ(this->Read(this->Path("f")), "x");
}

TEST_P(FileSystemTest, RemoveAllDeletesTree) {
  ASSERT_OK(this->fs().CreateDir(this->Path("t/a/b")));
  ASSERT_OK(this->fs().CreateDir(this->Path("t/c")));
  ASSERT_OK(this->Write(this->Path("t/f"), "1"));
  ASSERT_OK(this->Write(this->Path("t/a/g"), "2"));
  ASSERT_OK(this->Write(this->Path("t/a/b/h"), "3"));
  ASSERT_OK(this->Write(this->Path("keep"), "4"));
  ASSERT_OK(this->fs().RemoveAll(this->Path("t")));
  ASSERT_OK_AND_ASSIGN(bool exists, this->fs().Exists(this->Path("t")));
  EXPECT_FALSE(exists);
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, this->fs().ListDir(this->Path("")));
  EXPECT_EQ(names, std::vector<std::string>{"keep"});
}

TEST_P(FileSystemTest, RemoveAllRemovesFileAndIgnoresMissingPath) {
  ASSERT_OK(this->Write(this->Path("f"), "x"));
  ASSERT_OK(this->fs().RemoveAll(this->Path("f")));
  ASSERT_OK_AND_ASSIGN(bool exists, this->fs().Exists(this->Path("f")));
  EXPECT_FALSE(exists);
  ASSERT_OK(this->fs().RemoveAll(this->Path("f")));
  ASSERT_OK(this->fs().RemoveAll(this->Path("no/such/dir")));
}

TEST_P(FileSystemTest, ListDirReturnsSortedNames) {
  ASSERT_OK(this->fs().CreateDir(this->Path("d")));
  for (const char* name : {"00000000000000001000.log", "b", "00000000000000000000.index", "a",
                           "00000000000000000000.log"}) {
    ASSERT_OK(this->Write(this->Path(std::string("d/") + name), name));
  }
  ASSERT_OK(this->fs().CreateDir(this->Path("d/sub")));
  ASSERT_OK(this->Write(this->Path("d/sub/not-listed"), "x"));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, this->fs().ListDir(this->Path("d")));
  EXPECT_EQ(names,
            (std::vector<std::string>{"00000000000000000000.index", "00000000000000000000.log",
                                      "00000000000000001000.log", "a", "b", "sub"}));
}

TEST_P(FileSystemTest, ListDirFailsWhenMissing) {
  EXPECT_EQ(CodeOf(this->fs().ListDir(this->Path("missing"))), ErrorCode::kNotFound);
}

TEST_P(FileSystemTest, ExistsReportsFilesAndDirectories) {
  ASSERT_OK(this->fs().CreateDir(this->Path("d")));
  ASSERT_OK(this->Write(this->Path("d/f"), ""));
  for (const char* name : {"d", "d/f"}) {
    ASSERT_OK_AND_ASSIGN(bool exists, this->fs().Exists(this->Path(name)));
    EXPECT_TRUE(exists) << name;
  }
  for (const char* name : {"e", "d/g", "e/f"}) {
    ASSERT_OK_AND_ASSIGN(bool exists, this->fs().Exists(this->Path(name)));
    EXPECT_FALSE(exists) << name;
  }
}

TEST_P(FileSystemTest, SyncDirSucceedsOnDirectoryAndFailsWhenMissing) {
  ASSERT_OK(this->fs().CreateDir(this->Path("d")));
  ASSERT_OK(this->Write(this->Path("d/f"), "x"));
  ASSERT_OK(this->fs().SyncDir(this->Path("d")));
  ASSERT_OK(this->fs().SyncDir(this->Path("")));
  EXPECT_EQ(CodeOf(this->fs().SyncDir(this->Path("missing"))), ErrorCode::kNotFound);
}

// --- mappings ------------------------------------------------------------------------------------

TEST_P(FileSystemTest, MapSeesBytesWrittenBeforeMapping) {
  const std::string path = this->Path("f");
  ASSERT_OK(this->Write(path, "mapped bytes"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedFile> map, this->fs().Map(path, 12));
  map->AdviseSequential();
  map->AdviseWillNeed(0, 12);
  EXPECT_EQ(base::AsString(map->data()), "mapped bytes");
  // A prefix of the file can be mapped too.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedFile> prefix, this->fs().Map(path, 6));
  EXPECT_EQ(base::AsString(prefix->data()), "mapped");
}

TEST_P(FileSystemTest, MapSeesBytesWrittenAfterMappingWithinAllocatedSize) {
  constexpr uint64_t kSize = uint64_t{64} * 1024;
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path, OpenMode::kCreateNew));
  ASSERT_OK(WriteStrings(*file, 0, {"head"}));
  ASSERT_OK(file->Allocate(kSize));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedFile> map, this->fs().Map(path, kSize));
  ASSERT_EQ(map->data().size(), kSize);
  EXPECT_EQ(base::AsString(map->data().first(4)), "head");
  // Append in place, as the segment writer does, and read each record back through the mapping.
  uint64_t pos = 4;
  for (int i = 0; i < 500; ++i) {
    const std::string record = "record-" + std::to_string(i) + ";";
    ASSERT_OK(WriteStrings(*file, pos, {record}));
    EXPECT_EQ(base::AsString(map->data().subspan(pos, record.size())), record);
    pos += record.size();
  }
  ASSERT_OK(file->Sync());
  ASSERT_OK(WriteStrings(*file, kSize - 4, {"tail"}));
  EXPECT_EQ(base::AsString(map->data().last(4)), "tail");
  ASSERT_OK(file->Close());
  EXPECT_EQ(base::AsString(map->data()), this->Read(path));
}

TEST_P(FileSystemTest, MapSeesWritesAfterFileGrowsPastMapping) {
  const std::string path = this->Path("f");
  ASSERT_OK_AND_ASSIGN(ScopedFile file, this->Open(path));
  ASSERT_OK(file->Allocate(4096));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedFile> map, this->fs().Map(path, 4096));
  ASSERT_OK(WriteStrings(*file, 1 << 20, {"far away"}));  // grows the file well past the mapping
  ASSERT_OK(WriteStrings(*file, 100, {"near"}));
  ASSERT_OK(file->Close());
  EXPECT_EQ(base::AsString(map->data().subspan(100, 4)), "near");
}

TEST_P(FileSystemTest, MapStaysReadableAfterRemoveAndRename) {
  const std::string path = this->Path("f");
  ASSERT_OK(this->Write(path, "still here"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedFile> map, this->fs().Map(path, 10));
  ASSERT_OK(this->fs().Rename(path, this->Path("g")));
  EXPECT_EQ(base::AsString(map->data()), "still here");
  ASSERT_OK(this->fs().Remove(this->Path("g")));
  EXPECT_EQ(base::AsString(map->data()), "still here");
}

TEST_P(FileSystemTest, MapFailsWhenFileIsMissing) {
  EXPECT_EQ(CodeOf(this->fs().Map(this->Path("missing"), 4096)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(this->fs().Map(this->Path("missing"), 0)), ErrorCode::kNotFound);
}

TEST_P(FileSystemTest, MapOfEmptyLengthIsEmpty) {
  const std::string path = this->Path("f");
  ASSERT_OK(this->Write(path, ""));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedFile> map, this->fs().Map(path, 0));
  EXPECT_TRUE(map->data().empty());
}

// --- WriteFileAtomic -----------------------------------------------------------------------------

TEST_P(FileSystemTest, WriteFileAtomicReplacesContents) {
  const std::string path = this->Path("meta.json");
  ASSERT_OK(WriteFileAtomic(this->fs(), path, base::AsBytes("first")));
  EXPECT_EQ(this->Read(path), "first");
  ASSERT_OK(WriteFileAtomic(this->fs(), path, base::AsBytes("second, longer")));
  EXPECT_EQ(this->Read(path), "second, longer");
  ASSERT_OK(WriteFileAtomic(this->fs(), path, base::AsBytes("3rd"), Durability::kVolatile));
  EXPECT_EQ(this->Read(path), "3rd");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, this->fs().ListDir(this->Path("")));
  EXPECT_EQ(names, std::vector<std::string>{"meta.json"});  // no .tmp left behind
}

TEST_P(FileSystemTest, WriteFileAtomicFailsWhenDirectoryIsMissing) {
  EXPECT_EQ(CodeOf(WriteFileAtomic(this->fs(), this->Path("no/f"), base::AsBytes("x"))),
            ErrorCode::kNotFound);
}

// --- MemFs ---------------------------------------------------------------------------------------

class MemFsTest : public ::testing::Test {
 protected:
  // Every test starts with a durable, empty directory /d.
  void SetUp() override {
    ASSERT_OK(fs_.CreateDir("/d"));
    ASSERT_OK(fs_.SyncDir("/"));
  }

  Status Write(const std::string& path, std::string_view data, uint64_t pos = 0,
               OpenMode mode = OpenMode::kCreateOrTruncate,
               Durability sync = Durability::kDurable) {
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs_.OpenWritable(path, mode));
    Status s = WriteStrings(*file, pos, {data});
    if (s.has_value() && sync == Durability::kDurable) s = file->Sync();
    Status closed = file->Close();
    RETURN_IF_ERROR(s);
    return closed;
  }

  std::string Read(const std::string& path) {
    Result<std::string> contents = fs_.ReadFile(path);
    if (!contents.has_value()) return "<" + contents.error().ToString() + ">";
    return *std::move(contents);
  }

  bool Exists(const std::string& path) {
    Result<bool> exists = fs_.Exists(path);
    EXPECT_TRUE(exists.has_value()) << exists.error().ToString();
    return exists.has_value() && *exists;
  }

  MemFs fs_;
};

TEST_F(MemFsTest, DropUnsyncedRevertsToLastSync) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                       fs_.OpenWritable("/d/f", OpenMode::kCreateNew));
  ScopedFile closer(std::move(file));
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK(WriteStrings(*closer, 0, {"synced"}));
  ASSERT_OK(closer->Sync());
  ASSERT_OK(WriteStrings(*closer, 6, {" lost"}));
  ASSERT_OK(WriteStrings(*closer, 0, {"S"}));
  EXPECT_EQ(Read("/d/f"), "Synced lost");
  ASSERT_OK_AND_ASSIGN(std::string synced, fs_.SyncedContents("/d/f"));
  EXPECT_EQ(synced, "synced");
  fs_.DropUnsynced();
  EXPECT_EQ(Read("/d/f"), "synced");
}

TEST_F(MemFsTest, WriteBackMakesOnlyTheGivenRangeDurable) {
  ASSERT_OK(Write("/d/f", "synced", 0, OpenMode::kCreateNew));
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                       fs_.OpenWritable("/d/f", OpenMode::kOpenExisting));
  ScopedFile closer(std::move(file));
  ASSERT_OK(WriteStrings(*closer, 0, {"S"}));
  ASSERT_OK(WriteStrings(*closer, 8, {"torn write"}));
  ASSERT_OK(fs_.WriteBack("/d/f", 8, 4));  // the first 4 bytes of the second write
  fs_.DropUnsynced();
  EXPECT_EQ(Read("/d/f"), "synced" + Zeros(2) + "torn");
  EXPECT_EQ(CodeOf(fs_.WriteBack("/d/missing", 0, 1)), ErrorCode::kNotFound);
}

TEST_F(MemFsTest, CloneCopiesCurrentAndDurableStateIndependently) {
  ASSERT_OK(Write("/d/f", "synced", 0, OpenMode::kCreateNew));
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK(Write("/d/f", "S", 0, OpenMode::kOpenExisting, Durability::kVolatile));
  ASSERT_OK(Write("/d/new", "unsynced entry", 0, OpenMode::kCreateNew, Durability::kVolatile));
  std::unique_ptr<MemFs> copy = fs_.Clone();
  ASSERT_OK(Write("/d/f", "after the clone", 0, OpenMode::kCreateOrTruncate));
  Result<std::string> copied = copy->ReadFile("/d/f");
  ASSERT_OK(copied);
  EXPECT_EQ(*copied, "Synced");
  copy->DropUnsynced();
  copied = copy->ReadFile("/d/f");
  ASSERT_OK(copied);
  EXPECT_EQ(*copied, "synced");
  ASSERT_OK_AND_ASSIGN(bool exists, copy->Exists("/d/new"));
  EXPECT_FALSE(exists);
  EXPECT_EQ(Read("/d/f"), "after the clone");  // the original went on
  EXPECT_TRUE(Exists("/d/new"));
}

TEST_F(MemFsTest, DropUnsyncedPartiallyKeepsSomePendingChangesAndAllSyncedOnes) {
  // Over many seeds, each pending change is sometimes kept and sometimes lost; synced data always
  // survives.
  std::set<std::string> tails;
  bool entry_kept = false;
  bool entry_lost = false;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    MemFs fs;
    ASSERT_OK(fs.CreateDir("/d"));
    ASSERT_OK(fs.SyncDir("/"));
    {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                           fs.OpenWritable("/d/f", OpenMode::kCreateNew));
      ScopedFile closer(std::move(file));
      ASSERT_OK(fs.SyncDir("/d"));
      ASSERT_OK(WriteStrings(*closer, 0, {"synced"}));
      ASSERT_OK(closer->Sync());
      ASSERT_OK(WriteStrings(*closer, 6, {" pending"}));
    }
    ASSERT_OK(fs.CreateDir("/d/new"));
    fs.DropUnsyncedPartially(seed);
    ASSERT_OK_AND_ASSIGN(std::string contents, fs.ReadFile("/d/f"));
    ASSERT_EQ(contents.substr(0, 6), "synced");
    tails.insert(contents.substr(6));
    ASSERT_OK_AND_ASSIGN(bool exists, fs.Exists("/d/new"));
    (exists ? entry_kept : entry_lost) = true;
  }
  EXPECT_EQ(tails, (std::set<std::string>{"", " pending"}));
  EXPECT_TRUE(entry_kept);
  EXPECT_TRUE(entry_lost);
}

TEST_F(MemFsTest, DropUnsyncedEmptiesFileNeverSynced) {
  ASSERT_OK(Write("/d/f", "never synced", 0, OpenMode::kCreateNew, Durability::kVolatile));
  ASSERT_OK(fs_.SyncDir("/d"));
  fs_.DropUnsynced();
  EXPECT_TRUE(Exists("/d/f"));
  EXPECT_EQ(Read("/d/f"), "");
}

TEST_F(MemFsTest, DropUnsyncedRemovesFileCreatedAfterSyncDir) {
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK(Write("/d/f", "synced data, unsynced name"));
  fs_.DropUnsynced();
  EXPECT_FALSE(Exists("/d/f"));
}

TEST_F(MemFsTest, DropUnsyncedRevertsAllocateAndTruncate) {
  ASSERT_OK(Write("/d/f", "abcdef"));
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                       fs_.OpenWritable("/d/f", OpenMode::kOpenExisting));
  ScopedFile closer(std::move(file));
  ASSERT_OK(closer->Truncate(2));
  ASSERT_OK(closer->Allocate(100));
  fs_.DropUnsynced();
  EXPECT_EQ(Read("/d/f"), "abcdef");
}

TEST_F(MemFsTest, DropUnsyncedUndoesUnsyncedRemoveAndRename) {
  ASSERT_OK(Write("/d/a", "A"));
  ASSERT_OK(Write("/d/b", "B"));
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK(fs_.Remove("/d/a"));
  ASSERT_OK(fs_.Rename("/d/b", "/d/c"));
  fs_.DropUnsynced();
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, fs_.ListDir("/d"));
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Read("/d/a"), "A");
  EXPECT_EQ(Read("/d/b"), "B");
}

TEST_F(MemFsTest, DropUnsyncedKeepsRenameFollowedBySyncDir) {
  ASSERT_OK(Write("/d/f.tmp", "new"));
  ASSERT_OK(Write("/d/f", "old"));
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK(fs_.Rename("/d/f.tmp", "/d/f"));
  ASSERT_OK(fs_.SyncDir("/d"));
  fs_.DropUnsynced();
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, fs_.ListDir("/d"));
  EXPECT_EQ(names, std::vector<std::string>{"f"});
  EXPECT_EQ(Read("/d/f"), "new");
}

TEST_F(MemFsTest, RenameSyncedOnlyInTargetLeavesTwoIndependentFiles) {
  ASSERT_OK(fs_.CreateDir("/e"));
  ASSERT_OK(fs_.SyncDir("/"));
  ASSERT_OK(Write("/d/f", "both"));
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK(fs_.Rename("/d/f", "/e/f"));
  ASSERT_OK(fs_.SyncDir("/e"));
  fs_.DropUnsynced();
  EXPECT_EQ(Read("/d/f"), "both");
  EXPECT_EQ(Read("/e/f"), "both");
  ASSERT_OK(Write("/e/f", "E", 0, OpenMode::kOpenExisting));
  EXPECT_EQ(Read("/d/f"), "both");
  EXPECT_EQ(Read("/e/f"), "Eoth");
}

TEST_F(MemFsTest, DropUnsyncedRemovesDirectoriesNotSyncedInParent) {
  ASSERT_OK(fs_.CreateDir("/d/x/y"));
  ASSERT_OK(Write("/d/x/y/f", "data"));
  ASSERT_OK(fs_.SyncDir("/d/x/y"));
  ASSERT_OK(fs_.SyncDir("/d/x"));  // but not /d: x itself is not durable
  fs_.DropUnsynced();
  EXPECT_FALSE(Exists("/d/x"));
  EXPECT_TRUE(Exists("/d"));
}

TEST_F(MemFsTest, DropUnsyncedKeepsDurableWriteFileAtomicOnly) {
  ASSERT_OK(WriteFileAtomic(fs_, "/d/meta", base::AsBytes("v1")));
  ASSERT_OK(WriteFileAtomic(fs_, "/d/meta", base::AsBytes("v2"), Durability::kVolatile));
  EXPECT_EQ(Read("/d/meta"), "v2");
  fs_.DropUnsynced();
  EXPECT_EQ(Read("/d/meta"), "v1");
  ASSERT_OK(WriteFileAtomic(fs_, "/d/meta", base::AsBytes("v3")));
  fs_.DropUnsynced();
  EXPECT_EQ(Read("/d/meta"), "v3");
  EXPECT_FALSE(Exists("/d/meta.tmp"));
}

TEST_F(MemFsTest, ImmediateMetadataSurvivesWithoutSyncDir) {
  MemFs fs(MetadataDurability::kImmediate);
  ASSERT_OK(fs.CreateDir("/a/b"));
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                         fs.OpenWritable("/a/b/f", OpenMode::kCreateNew));
    ScopedFile closer(std::move(file));
    ASSERT_OK(WriteStrings(*closer, 0, {"synced"}));
    ASSERT_OK(closer->Sync());
    ASSERT_OK(WriteStrings(*closer, 6, {" not"}));
  }
  ASSERT_OK(WriteFileAtomic(fs, "/a/g", base::AsBytes("g"), Durability::kVolatile));
  ASSERT_OK(fs.Rename("/a/g", "/a/h"));
  fs.DropUnsynced();
  ASSERT_OK_AND_ASSIGN(std::string f, fs.ReadFile("/a/b/f"));
  EXPECT_EQ(f, "synced");
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, fs.ListDir("/a"));
  EXPECT_EQ(names, (std::vector<std::string>{"b", "h"}));
  ASSERT_OK_AND_ASSIGN(std::string h, fs.ReadFile("/a/h"));
  EXPECT_EQ(h, "");  // the rename is durable, the unsynced data is not
}

TEST_F(MemFsTest, FilesOpenedBeforeDropUnsyncedAreStale) {
  ASSERT_OK(Write("/d/f", "synced"));
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> stale,
                       fs_.OpenWritable("/d/f", OpenMode::kOpenExisting));
  fs_.DropUnsynced();
  EXPECT_EQ(CodeOf(WriteStrings(*stale, 0, {"zombie"})), ErrorCode::kIoError);
  EXPECT_EQ(CodeOf(stale->Sync()), ErrorCode::kIoError);
  EXPECT_EQ(CodeOf(stale->Truncate(0)), ErrorCode::kIoError);
  EXPECT_EQ(CodeOf(stale->Allocate(100)), ErrorCode::kIoError);
  ASSERT_OK(stale->Close());
  EXPECT_EQ(Read("/d/f"), "synced");
  ASSERT_OK(Write("/d/f", "fresh", 0, OpenMode::kOpenExisting));
  EXPECT_EQ(Read("/d/f"), "freshd");
}

TEST_F(MemFsTest, ClosedFileRejectsWrites) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                       fs_.OpenWritable("/d/f", OpenMode::kCreateNew));
  ASSERT_OK(file->Close());
  EXPECT_EQ(CodeOf(WriteStrings(*file, 0, {"x"})), ErrorCode::kClosed);
  ASSERT_OK(file->Close());
}

TEST_F(MemFsTest, MappingOutlivesFileSystem) {
  auto fs = std::make_unique<MemFs>();
  ASSERT_OK(fs->CreateDir("/d"));
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                         fs->OpenWritable("/d/f", OpenMode::kCreateNew));
    ScopedFile closer(std::move(file));
    ASSERT_OK(WriteStrings(*closer, 0, {"survivor"}));
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MappedFile> map, fs->Map("/d/f", 8));
  fs.reset();
  EXPECT_EQ(base::AsString(map->data()), "survivor");
}

TEST_F(MemFsTest, CorruptByteFlipsCurrentAndSyncedContents) {
  ASSERT_OK(Write("/d/f", "abc"));
  ASSERT_OK(fs_.SyncDir("/d"));
  ASSERT_OK(Write("/d/f", "d", 3, OpenMode::kOpenExisting, Durability::kVolatile));
  ASSERT_OK(fs_.CorruptByte("/d/f", 1, 0x20));
  ASSERT_OK(fs_.CorruptByte("/d/f", 3));
  EXPECT_EQ(Read("/d/f"), std::string("aBc") + static_cast<char>('d' ^ 0xff));
  fs_.DropUnsynced();
  EXPECT_EQ(Read("/d/f"), "aBc");
  EXPECT_EQ(CodeOf(fs_.CorruptByte("/d/f", 3)), ErrorCode::kOutOfRange);
  EXPECT_EQ(CodeOf(fs_.CorruptByte("/d/missing", 0)), ErrorCode::kNotFound);
}

TEST_F(MemFsTest, PathsAreNormalized) {
  ASSERT_OK(Write("/d//f", "x"));
  EXPECT_EQ(Read("/d/./f"), "x");
  EXPECT_EQ(Read("/d/e/../f"), "x");  // '..' is lexical: /d/e need not exist
  ASSERT_OK(fs_.CreateDir("rel/dir/"));
  ASSERT_OK(Write("./rel/dir/g", "y"));
  EXPECT_EQ(Read("rel/dir/g"), "y");
  EXPECT_FALSE(Exists("/rel"));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, fs_.ListDir("."));
  EXPECT_EQ(names, std::vector<std::string>{"rel"});
}

TEST_F(MemFsTest, RenameOfDirectoryMovesItsContents) {
  ASSERT_OK(fs_.CreateDir("/d/topic-0"));
  ASSERT_OK(Write("/d/topic-0/f", "x"));
  ASSERT_OK(fs_.Rename("/d/topic-0", "/d/topic-0.deleted"));
  EXPECT_EQ(Read("/d/topic-0.deleted/f"), "x");
  EXPECT_FALSE(Exists("/d/topic-0"));
  EXPECT_EQ(CodeOf(fs_.Rename("/d/topic-0.deleted", "/d/topic-0.deleted/inside")),
            ErrorCode::kIoError);
}

// --- FaultFs -------------------------------------------------------------------------------------

class FaultFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(mem_.CreateDir("/d"));
    ASSERT_OK(mem_.SyncDir("/"));
  }

  Result<ScopedFile> Open(const std::string& path, OpenMode mode = OpenMode::kCreateOrTruncate) {
    ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs_.OpenWritable(path, mode));
    return ScopedFile(std::move(file));
  }

  std::string Read(const std::string& path) {
    Result<std::string> contents = mem_.ReadFile(path);
    if (!contents.has_value()) return "<" + contents.error().ToString() + ">";
    return *std::move(contents);
  }

  MemFs mem_;
  FaultFs fs_{mem_, 1};
};

TEST_F(FaultFsTest, NthWriteFailsWithNoSpace) {
  fs_.Arm(Fault::Nth(OpKind::kWrite, 2).WithErrno(ENOSPC));
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  ASSERT_OK(WriteStrings(*file, 0, {"one "}));
  Status second = WriteStrings(*file, 4, {"two "});
  EXPECT_EQ(CodeOf(second), ErrorCode::kNoSpace);
  EXPECT_NE(second.error().context.find("/d/f"), std::string::npos) << second.error().ToString();
  ASSERT_OK(WriteStrings(*file, 4, {"three"}));
  EXPECT_EQ(Read("/d/f"), "one three");
  EXPECT_EQ(fs_.InjectedCount(), 1u);
  EXPECT_EQ(fs_.OpCount(OpKind::kWrite), 3u);
}

TEST_F(FaultFsTest, FromNthFailsEveryLaterOperation) {
  fs_.Arm(Fault::FromNth(OpKind::kSync, 2));
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  ASSERT_OK(file->Sync());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(CodeOf(file->Sync()), ErrorCode::kIoError);
  EXPECT_EQ(fs_.InjectedCount(), 3u);
  fs_.DisarmAll();
  ASSERT_OK(file->Sync());
}

TEST_F(FaultFsTest, FailedSyncLosesDataOnPowerLoss) {
  fs_.Arm(Fault::Nth(OpKind::kSync, 2));
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  ASSERT_OK(mem_.SyncDir("/d"));
  ASSERT_OK(WriteStrings(*file, 0, {"durable "}));
  ASSERT_OK(file->Sync());
  ASSERT_OK(WriteStrings(*file, 8, {"doomed"}));
  EXPECT_EQ(CodeOf(file->Sync()), ErrorCode::kIoError);
  mem_.DropUnsynced();
  EXPECT_EQ(Read("/d/f"), "durable ");
}

TEST_F(FaultFsTest, TornWriteLeavesPrefix) {
  fs_.Arm(Fault::Nth(OpKind::kWrite, 1).Torn(5));
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  EXPECT_EQ(CodeOf(WriteStrings(*file, 2, {"012", "", "3456", "789"})), ErrorCode::kIoError);
  EXPECT_EQ(Read("/d/f"), Zeros(2) + "01234");
}

TEST_F(FaultFsTest, RandomTornWriteIsShortAndReproducible) {
  const uint64_t seed = sluice::testing::SeededRng()();
  SCOPED_TRACE("FaultFs seed " + std::to_string(seed));
  const std::string data(1000, 'x');
  std::vector<std::string> results;
  for (int run = 0; run < 2; ++run) {
    MemFs mem;
    FaultFs fs(mem, seed);
    fs.Arm(Fault::FromNth(OpKind::kWrite, 1).Torn());
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                         fs.OpenWritable("/f", OpenMode::kCreateNew));
    ScopedFile closer(std::move(file));
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(CodeOf(WriteStrings(*closer, 0, {data})), ErrorCode::kIoError);
      ASSERT_OK_AND_ASSIGN(std::string contents, mem.ReadFile("/f"));
      EXPECT_LT(contents.size(), data.size());
      results.push_back(std::to_string(contents.size()));
    }
  }
  EXPECT_EQ(std::vector<std::string>(results.begin(), results.begin() + 3),
            std::vector<std::string>(results.begin() + 3, results.end()));
}

TEST_F(FaultFsTest, FlipBitCorruptsExactlyOneBitSilently) {
  fs_.Arm(Fault::Nth(OpKind::kWrite, 1).FlipBit());
  const std::string data = "the quick brown fox";
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  ASSERT_OK(WriteStrings(*file, 0, {"the quick ", "brown fox"}));
  const std::string written = Read("/d/f");
  ASSERT_EQ(written.size(), data.size());
  int flipped_bits = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    flipped_bits += std::popcount(static_cast<unsigned char>(written[i] ^ data[i]));
  }
  EXPECT_EQ(flipped_bits, 1);
  EXPECT_EQ(fs_.InjectedCount(), 1u);
}

TEST_F(FaultFsTest, PathFilterFailsOnlyMatchingPaths) {
  fs_.Arm(Fault::FromNth(OpKind::kWrite).OnPath(".log").WithErrno(ENOSPC));
  ASSERT_OK_AND_ASSIGN(ScopedFile index, Open("/d/0.index"));
  ASSERT_OK_AND_ASSIGN(ScopedFile log, Open("/d/0.log"));
  ASSERT_OK(WriteStrings(*index, 0, {"index"}));
  EXPECT_EQ(CodeOf(WriteStrings(*log, 0, {"log"})), ErrorCode::kNoSpace);
  ASSERT_OK(WriteStrings(*index, 5, {"more"}));
  EXPECT_EQ(Read("/d/0.index"), "indexmore");
  EXPECT_EQ(Read("/d/0.log"), "");
}

TEST_F(FaultFsTest, NthCountsOnlyMatchingOperations) {
  fs_.Arm(Fault::Nth(OpKind::kSync, 2).OnPath("b"));
  ASSERT_OK_AND_ASSIGN(ScopedFile a, Open("/d/a"));
  ASSERT_OK_AND_ASSIGN(ScopedFile b, Open("/d/b"));
  ASSERT_OK(a->Sync());
  ASSERT_OK(b->Sync());
  ASSERT_OK(a->Sync());
  EXPECT_EQ(CodeOf(b->Sync()), ErrorCode::kIoError);
  ASSERT_OK(b->Sync());  // a non-repeating fault is spent
}

TEST_F(FaultFsTest, RenameFilterMatchesEitherName) {
  ASSERT_OK(WriteFileAtomic(mem_, "/d/x", base::AsBytes("x")));
  fs_.Arm(Fault::FromNth(OpKind::kRename).OnPath("target"));
  EXPECT_EQ(CodeOf(fs_.Rename("/d/x", "/d/target")), ErrorCode::kIoError);
  ASSERT_OK(fs_.Rename("/d/x", "/d/y"));
  EXPECT_EQ(CodeOf(fs_.Rename("/d/target-source", "/d/z")), ErrorCode::kIoError);
}

TEST_F(FaultFsTest, FailedCloseStillClosesFile) {
  fs_.Arm(Fault::Nth(OpKind::kClose, 1));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WritableFile> file,
                       fs_.OpenWritable("/d/f", OpenMode::kCreateNew));
  EXPECT_EQ(CodeOf(file->Close()), ErrorCode::kIoError);
  EXPECT_EQ(CodeOf(WriteStrings(*file, 0, {"x"})), ErrorCode::kClosed);
}

TEST_F(FaultFsTest, EveryKindOfOperationCanFail) {
  ASSERT_OK(mem_.CreateDir("/d/sub"));
  ASSERT_OK(WriteFileAtomic(mem_, "/d/existing", base::AsBytes("data")));
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  using Op = std::function<ErrorCode()>;
  const std::vector<std::pair<OpKind, Op>> ops = {
      {OpKind::kOpen, [&] { return CodeOf(fs_.OpenWritable("/d/g", OpenMode::kCreateNew)); }},
      {OpKind::kWrite, [&] { return CodeOf(WriteStrings(*file, 0, {"x"})); }},
      {OpKind::kSync, [&] { return CodeOf(file->Sync()); }},
      {OpKind::kAllocate, [&] { return CodeOf(file->Allocate(10)); }},
      {OpKind::kTruncate, [&] { return CodeOf(file->Truncate(0)); }},
      {OpKind::kMap, [&] { return CodeOf(fs_.Map("/d/existing", 4)); }},
      {OpKind::kRead, [&] { return CodeOf(fs_.ReadFile("/d/existing")); }},
      {OpKind::kStat, [&] { return CodeOf(fs_.FileSize("/d/existing")); }},
      {OpKind::kStat, [&] { return CodeOf(fs_.Exists("/d/existing")); }},
      {OpKind::kRename, [&] { return CodeOf(fs_.Rename("/d/existing", "/d/renamed")); }},
      {OpKind::kRemove, [&] { return CodeOf(fs_.Remove("/d/existing")); }},
      {OpKind::kCreateDir, [&] { return CodeOf(fs_.CreateDir("/d/new")); }},
      {OpKind::kRemoveAll, [&] { return CodeOf(fs_.RemoveAll("/d/sub")); }},
      {OpKind::kSyncDir, [&] { return CodeOf(fs_.SyncDir("/d")); }},
      {OpKind::kListDir, [&] { return CodeOf(fs_.ListDir("/d")); }},
  };
  for (const auto& [kind, op] : ops) {
    SCOPED_TRACE(std::string(io::testing::OpKindName(kind)));
    const uint64_t before = fs_.OpCount(kind);
    fs_.Arm(Fault::Nth(kind, 1).WithErrno(ENOSPC));
    EXPECT_EQ(op(), ErrorCode::kNoSpace);
    EXPECT_EQ(fs_.OpCount(kind), before + 1);
  }
  EXPECT_EQ(fs_.InjectedCount(), ops.size());
  // Nothing reached MemFs.
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, mem_.ListDir("/d"));
  EXPECT_EQ(names, (std::vector<std::string>{"existing", "f", "sub"}));
  EXPECT_EQ(Read("/d/existing"), "data");
  EXPECT_EQ(Read("/d/f"), "");
}

TEST_F(FaultFsTest, CrashAfterOpsFailsEveryLaterOperationAndRecordsLastWrite) {
  fs_.CrashAfterOps(4);  // open, write, sync, write
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  ASSERT_OK(WriteStrings(*file, 0, {"durable "}));
  ASSERT_OK(file->Sync());
  EXPECT_FALSE(fs_.crashed());
  ASSERT_OK(WriteStrings(*file, 8, {"lost"}));
  EXPECT_EQ(CodeOf(file->Sync()), ErrorCode::kIoError);
  EXPECT_TRUE(fs_.crashed());
  EXPECT_EQ(CodeOf(WriteStrings(*file, 12, {"x"})), ErrorCode::kIoError);
  EXPECT_EQ(CodeOf(fs_.SyncDir("/d")), ErrorCode::kIoError);
  EXPECT_EQ(CodeOf(fs_.ListDir("/d")), ErrorCode::kIoError);
  EXPECT_EQ(fs_.TotalOpCount(), 8u);
  ASSERT_TRUE(fs_.LastWrite().has_value());
  EXPECT_EQ(fs_.LastWrite()->path, "/d/f");
  EXPECT_EQ(fs_.LastWrite()->pos, FilePos(8));
  EXPECT_EQ(fs_.LastWrite()->size_bytes, 4u);
  EXPECT_EQ(fs_.LastWrite()->op_number, 4u);
  EXPECT_EQ(Read("/d/f"), "durable lost");  // the refused write did nothing
  fs_.ClearCrash();
  EXPECT_FALSE(fs_.crashed());
  ASSERT_OK(file->Sync());
}

TEST_F(FaultFsTest, ObserverSeesEachOperationBeforeItRuns) {
  std::vector<std::pair<uint64_t, std::string>> seen;
  fs_.SetObserver([&](uint64_t n) { seen.emplace_back(n, Read("/d/f")); });
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  ASSERT_OK(WriteStrings(*file, 0, {"a"}));
  ASSERT_OK(WriteStrings(*file, 1, {"b"}));
  fs_.SetObserver(nullptr);
  ASSERT_OK(file->Sync());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, 1u);
  EXPECT_NE(seen[0].second.find("not found"), std::string::npos) << seen[0].second;
  EXPECT_EQ(seen[1], (std::pair<uint64_t, std::string>{2, ""}));
  EXPECT_EQ(seen[2], (std::pair<uint64_t, std::string>{3, "a"}));
}

TEST_F(FaultFsTest, IgnoredSyncReportsSuccessButPersistsNothing) {
  fs_.Arm(Fault::FromNth(OpKind::kSync, 1).Ignore());
  fs_.Arm(Fault::FromNth(OpKind::kSyncDir, 1).Ignore());
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  ASSERT_OK(WriteStrings(*file, 0, {"acknowledged"}));
  ASSERT_OK(file->Sync());
  ASSERT_OK(fs_.SyncDir("/d"));
  EXPECT_EQ(fs_.InjectedCount(), 2u);
  mem_.DropUnsynced();
  ASSERT_OK_AND_ASSIGN(bool exists, mem_.Exists("/d/f"));
  EXPECT_FALSE(exists);
}

TEST_F(FaultFsTest, CountsOperationsWithoutFaults) {
  ASSERT_OK_AND_ASSIGN(ScopedFile file, Open("/d/f"));
  ASSERT_OK(WriteStrings(*file, 0, {"a"}));
  ASSERT_OK(WriteStrings(*file, 1, {"b"}));
  ASSERT_OK(file->Sync());
  ASSERT_OK(file->Close());
  ASSERT_OK(fs_.SyncDir("/d"));
  EXPECT_EQ(fs_.OpCount(OpKind::kOpen), 1u);
  EXPECT_EQ(fs_.OpCount(OpKind::kWrite), 2u);
  EXPECT_EQ(fs_.OpCount(OpKind::kSync), 1u);
  EXPECT_EQ(fs_.OpCount(OpKind::kClose), 1u);
  EXPECT_EQ(fs_.OpCount(OpKind::kSyncDir), 1u);
  EXPECT_EQ(fs_.OpCount(OpKind::kRename), 0u);
  EXPECT_EQ(fs_.InjectedCount(), 0u);
  EXPECT_EQ(Read("/d/f"), "ab");
}

}  // namespace
}  // namespace sluice::io
