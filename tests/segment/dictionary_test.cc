// zstd dictionaries at the bottom (segment/base/codec.h) and their files (segment/dictionary.h):
// a frame names its dictionary, only that dictionary decodes it, and every way of not having it
// is an error that says so, never data.

#include "segment/dictionary.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "segment/base/codec.h"
#include "segment/io/testing/mem_fs.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::segment {
namespace {

using base::AsBytes;
using base::ErrorCode;
using base::ZstdDictionary;

std::vector<std::string> Samples(int count, uint64_t seed) {
  std::vector<std::string> out;
  for (int s = 0; s < count; ++s) {
    std::string batch;
    for (int r = 0; r < 10; ++r) {
      char buf[160];
      const int i = s * 10 + r;
      std::snprintf(buf, sizeof(buf),
                    "{\"host\":\"h-%02d\",\"metric\":\"m%d\",\"value\":%llu,\"unit\":\"bytes\"}",
                    i % 64, i % 5, static_cast<unsigned long long>((i * 7919 + seed) % 100000));
      batch += buf;
    }
    out.push_back(batch);
  }
  return out;
}

std::shared_ptr<const ZstdDictionary> Trained(uint32_t id, uint64_t seed = 1) {
  auto content = base::TrainZstdDictionary(Samples(500, seed), 8 << 10, id, 3);
  EXPECT_TRUE(content.has_value()) << content.error().ToString();
  auto dict = ZstdDictionary::Load(AsBytes(*content), 3);
  EXPECT_TRUE(dict.has_value()) << dict.error().ToString();
  return *dict;
}

// A resolver holding fixed dictionaries.
class Fixed : public base::ZstdDictionaries {
 public:
  void Add(std::shared_ptr<const ZstdDictionary> d) { dicts_[d->id()] = std::move(d); }
  base::Result<std::shared_ptr<const ZstdDictionary>> Find(uint32_t id) const override {
    auto it = dicts_.find(id);
    if (it == dicts_.end()) {
      return base::MakeError(ErrorCode::kCorruption, "no dictionary " + std::to_string(id));
    }
    return it->second;
  }

 private:
  std::map<uint32_t, std::shared_ptr<const ZstdDictionary>> dicts_;
};

TEST(ZstdDictionaryTest, AFrameNamesItsDictionaryAndOnlyThatOneDecodesIt) {
  auto dict = Trained(kFirstDictionaryId);
  ASSERT_NE(dict, nullptr);
  EXPECT_EQ(dict->id(), kFirstDictionaryId);
  const std::string plain = Samples(1, 99)[0];
  std::string frame;
  ASSERT_OK(dict->Compress(AsBytes(plain), frame));
  EXPECT_EQ(base::ZstdFrameDictionaryId(AsBytes(frame)), kFirstDictionaryId);
  std::string plain_frame;
  ASSERT_OK(base::Compress(base::Codec::kZstd, 3, AsBytes(plain), plain_frame));
  EXPECT_EQ(base::ZstdFrameDictionaryId(AsBytes(plain_frame)), 0u);
  EXPECT_LT(frame.size(), plain_frame.size());

  Fixed with;
  with.Add(dict);
  std::string out;
  ASSERT_OK(base::Decompress(base::Codec::kZstd, AsBytes(frame), out, 1 << 20, &with));
  EXPECT_EQ(out, plain);
  std::string buf;
  ASSERT_OK_AND_ASSIGN(
      size_t n, base::DecompressReusing(base::Codec::kZstd, AsBytes(frame), buf, 1 << 20, &with));
  EXPECT_EQ(buf.substr(0, n), plain);
  // The thread's context keeps no dictionary: a plain frame decodes after it.
  out.clear();
  ASSERT_OK(base::Decompress(base::Codec::kZstd, AsBytes(plain_frame), out, 1 << 20, &with));
  EXPECT_EQ(out, plain);

  // Without the dictionary: an error naming it.
  out.clear();
  auto none = base::Decompress(base::Codec::kZstd, AsBytes(frame), out, 1 << 20);
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kCorruption);
  EXPECT_NE(none.error().context.find(std::to_string(kFirstDictionaryId)), std::string::npos);
  EXPECT_TRUE(out.empty());
  Fixed other;
  other.Add(Trained(kFirstDictionaryId + 1));
  auto missing = base::Decompress(base::Codec::kZstd, AsBytes(frame), out, 1 << 20, &other);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().context.find("no dictionary 32768"), std::string::npos);
  // The bomb guard holds with a dictionary too.
  auto big = base::Decompress(base::Codec::kZstd, AsBytes(frame), out, plain.size() - 1, &with);
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code, ErrorCode::kTooLarge);
}

TEST(ZstdDictionaryTest, BatchesCompressWithADictionaryAndDecompressToStandardOnes) {
  auto dict = Trained(kFirstDictionaryId);
  const std::string batch = testing::MakeBatch(10, "some-value");
  ASSERT_OK_AND_ASSIGN(BatchHeader h, ParseBatchHeader(AsBytes(batch)));
  ASSERT_OK_AND_ASSIGN(std::string packed, CompressBatch(AsBytes(batch), h, *dict));
  ASSERT_OK_AND_ASSIGN(BatchHeader ph, ParseBatchHeader(AsBytes(packed)));
  EXPECT_EQ(ph.codec(), base::Codec::kZstd);
  EXPECT_OK(VerifyBatchCrc(AsBytes(packed), ph));
  EXPECT_EQ(BatchDictionaryId(AsBytes(packed), ph), kFirstDictionaryId);
  Fixed with;
  with.Add(dict);
  ASSERT_OK_AND_ASSIGN(std::string plain, DecompressBatch(AsBytes(packed), ph, 1 << 20, &with));
  EXPECT_EQ(plain, batch);
  RecordDecoder decoder;
  EXPECT_FALSE(decoder.Reset(AsBytes(packed)).has_value());  // no dictionaries: an error
  decoder.set_dictionaries(&with);
  ASSERT_OK(decoder.Reset(AsBytes(packed)));
  ASSERT_OK_AND_ASSIGN(auto rec, decoder.Next());
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->value, "some-value-0");
}

TEST(ZstdDictionaryTest, LoadRefusesWhatIsNotADictionary) {
  EXPECT_FALSE(ZstdDictionary::Load(AsBytes(std::string("not a dictionary")), 3).has_value());
  EXPECT_FALSE(base::TrainZstdDictionary({}, 8 << 10, kFirstDictionaryId, 3).has_value());
}

class DictionaryFileTest : public ::testing::Test {
 protected:
  DictionaryFile File(uint32_t id) {
    auto dict = Trained(id);
    DictionaryFile f;
    f.id = id;
    f.first_offset = base::Offset(1234);
    f.created_ms = 99;
    f.sample_bytes = 5000;
    f.trained_ratio_milli = 4200;
    f.content = std::string(base::AsString(dict->content()));
    return f;
  }
  io::testing::MemFs fs_;
  const std::string dir_ = "/p";
  void SetUp() override { ASSERT_OK(fs_.CreateDir(dir_)); }
};

TEST_F(DictionaryFileTest, RoundTripsAndLoadsByItsName) {
  const DictionaryFile f = File(kFirstDictionaryId);
  ASSERT_OK(WriteDictionaryFile(fs_, dir_, f));
  EXPECT_EQ(DictionaryFileName(kFirstDictionaryId), "0000032768.zdict");
  EXPECT_EQ(ParseDictionaryFileName("0000032768.zdict"), kFirstDictionaryId);
  EXPECT_EQ(ParseDictionaryFileName("0000032768.zdict.tmp"), std::nullopt);
  EXPECT_EQ(ParseDictionaryFileName("0000000000.zdict"), std::nullopt);
  ASSERT_OK_AND_ASSIGN(auto ids, ListDictionaryIds(fs_, dir_));
  EXPECT_EQ(ids, std::vector<uint32_t>{kFirstDictionaryId});
  ASSERT_OK_AND_ASSIGN(DictionaryFile back, ReadDictionaryFile(fs_, dir_, kFirstDictionaryId));
  EXPECT_EQ(back.id, f.id);
  EXPECT_EQ(back.first_offset, f.first_offset);
  EXPECT_EQ(back.created_ms, 99);
  EXPECT_EQ(back.sample_bytes, 5000u);
  EXPECT_EQ(back.trained_ratio_milli, 4200u);
  EXPECT_EQ(back.content, f.content);
  DictionaryStore store(fs_, dir_);
  ASSERT_OK_AND_ASSIGN(auto dict, store.Find(kFirstDictionaryId));
  EXPECT_EQ(dict->id(), kFirstDictionaryId);
}

TEST_F(DictionaryFileTest, EveryKindOfDamageIsAnErrorNamingTheFile) {
  const std::string path = dir_ + "/0000032768.zdict";
  DictionaryStore store(fs_, dir_);
  auto missing = store.Find(kFirstDictionaryId);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().context.find(path + ": zstd dictionary 32768 is missing"),
            std::string::npos);
  EXPECT_NE(missing.error().context.find("backup"), std::string::npos);

  const std::string good = EncodeDictionaryFile(File(kFirstDictionaryId));
  // A flipped bit anywhere: checksum.
  std::string flipped = good;
  flipped[100] ^= 1;
  auto d1 = DecodeDictionaryFile(AsBytes(flipped), path);
  ASSERT_FALSE(d1.has_value());
  EXPECT_EQ(d1.error().code, ErrorCode::kCorruption);
  // A file under another dictionary's name.
  auto d2 = DecodeDictionaryFile(AsBytes(good), dir_ + "/0000032769.zdict");
  ASSERT_FALSE(d2.has_value());
  EXPECT_NE(d2.error().context.find("not the one its name says"), std::string::npos);
  // Truncated.
  auto d3 = DecodeDictionaryFile(AsBytes(good).first(40), path);
  ASSERT_FALSE(d3.has_value());
  // A valid envelope around content that is not the dictionary it says: the store refuses it.
  DictionaryFile wrong = File(kFirstDictionaryId);
  wrong.content = std::string(base::AsString(Trained(kFirstDictionaryId + 5)->content()));
  ASSERT_OK(WriteDictionaryFile(fs_, dir_, wrong));
  auto d4 = store.Find(kFirstDictionaryId);
  ASSERT_FALSE(d4.has_value());
  EXPECT_NE(d4.error().context.find(path), std::string::npos);
  // Restored: found (errors are not cached).
  ASSERT_OK(WriteDictionaryFile(fs_, dir_, File(kFirstDictionaryId)));
  EXPECT_OK(store.Find(kFirstDictionaryId));
}

}  // namespace
}  // namespace sluice::segment
