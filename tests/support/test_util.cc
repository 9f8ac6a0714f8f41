#include "tests/support/test_util.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "segment/record_batch.h"

namespace sluice::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/sluice-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const char* made = ::mkdtemp(buf.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << tmpl;
    return;
  }
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string MakeBatch(int count, const std::string& prefix, int64_t base_ts, base::Codec codec) {
  segment::BatchBuilder b;
  for (int i = 0; i < count; ++i) {
    std::string key = "k" + std::to_string(i);
    std::string value = prefix + "-" + std::to_string(i);
    b.Add(key, value, base_ts + i);
  }
  auto batch = b.Build(codec);
  EXPECT_TRUE(batch.has_value());
  return batch.has_value() ? *batch : std::string();
}

std::vector<std::string> BatchValues(const std::string& batch) {
  std::vector<std::string> out;
  segment::RecordDecoder decoder;
  auto s = segment::ForEachRecord(base::AsBytes(batch), decoder,
                                  [&](const segment::RecordView& r) -> base::Status {
                                    out.emplace_back(r.value.value_or("<null>"));
                                    return {};
                                  });
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
  return out;
}

std::mt19937_64 SeededRng(uint64_t salt) {
  return std::mt19937_64(static_cast<uint64_t>(::testing::UnitTest::GetInstance()->random_seed()) *
                             0x9e3779b97f4a7c15ull +
                         salt);
}

engine::EngineOptions TestEngineOptions(const std::string& dir, io::FileSystem* fs,
                                        const base::Clock* clock) {
  engine::EngineOptions o;
  o.data_dir = dir;
  o.fs = fs;
  o.clock = clock;
  o.background = engine::BackgroundWork::kManual;
  return o;
}

std::unique_ptr<engine::Engine> OpenTestEngine(const engine::EngineOptions& options) {
  auto e = engine::Engine::Open(options);
  if (!e) {
    ADD_FAILURE() << "opening " << options.data_dir << ": " << e.error().ToString();
    return nullptr;
  }
  return std::move(e).value();
}

std::vector<std::string> ReadValues(const engine::Engine& engine, const std::string& topic,
                                    int32_t partition, int64_t from) {
  std::vector<std::string> values;
  base::Offset next(from);
  segment::RecordDecoder decoder;
  for (;;) {
    auto r = engine.Read(topic, partition, next, 64 * 1024);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (!r || r->batches.empty()) break;
    decoder.set_dictionaries(r->dictionaries.get());
    for (const auto& b : r->batches) {
      auto s = segment::ForEachRecord(b.bytes, decoder, [&](const segment::RecordView& rec) {
        if (rec.offset >= next.value()) {
          EXPECT_EQ(rec.offset, next.value());
          values.emplace_back(rec.value.value_or("<null>"));
          next = base::Offset(rec.offset + 1);
        }
        return base::Status();
      });
      EXPECT_TRUE(s.has_value()) << s.error().ToString();
    }
  }
  return values;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcessMemory ProcessMemoryNow() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  uint64_t resident = 0;
  uint64_t shared = 0;
  uint64_t text = 0;
  uint64_t lib = 0;
  uint64_t data = 0;
  statm >> pages >> resident >> shared >> text >> lib >> data;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return {pages * page, resident * page, data * page};
}

void WriteWholeFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

}  // namespace sluice::testing
