#include "segment/record_batch.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/segment/segment_test_helpers.h"
#include "tests/support/test_util.h"

namespace sluice::segment {
namespace {

using base::ErrorCode;
using base::StoreBE;
using testing::FlipByte;
using testing::IsError;
using testing::MutableData;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

const Codec kAllCodecs[] = {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd};

using Headers = std::vector<std::pair<std::string, std::optional<std::string>>>;

// A record as a test writes it and as DecodeAll reads it back.
struct TestRecord {
  int64_t offset = 0;
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  Headers headers;
  bool operator==(const TestRecord&) const = default;
};

void PrintTo(const TestRecord& r, std::ostream* os) {
  *os << "{offset " << r.offset << ", ts " << r.timestamp << ", key " << r.key.value_or("<null>")
      << ", value of " << (r.value ? r.value->size() : 0) << " bytes, " << r.headers.size()
      << " headers}";
}

// Keys, null keys, null values, empty keys and values, headers with null values, timestamps out of
// order (the second-to-last is before the batch's base timestamp).
std::vector<TestRecord> SampleRecords() {
  return {
      {0, 1000, "k0", "v0", {}},
      {1, 1005, std::nullopt, "value with a null key", {}},
      {2, 1001, "key with a null value", std::nullopt, {}},
      {3, 1003, "", "", {{"h1", "x"}, {"h2", std::nullopt}, {"", ""}}},
      {4, 2000, std::nullopt, std::nullopt, {{"only", std::string(300, 'y')}}},
      {5, 990, "big", std::string(5000, 'z'), {}},
      {6, 1500, "k6", "v6", {}},
  };
}

std::string Build(const std::vector<TestRecord>& records, Codec codec, ProducerInfo producer = {}) {
  BatchBuilder b;
  for (const TestRecord& r : records) {
    std::vector<RecordHeader> headers;
    for (const auto& [k, v] : r.headers) {
      headers.push_back({k, v ? std::optional<std::string_view>(*v) : std::nullopt});
    }
    b.Add(r.key, r.value, r.timestamp, headers);
  }
  auto batch = b.Build(codec, 0, producer);
  EXPECT_TRUE(batch.has_value()) << batch.error().ToString();
  return batch.has_value() ? *batch : std::string();
}

Result<std::vector<TestRecord>> DecodeAll(const std::string& batch) {
  RecordDecoder decoder;
  std::vector<TestRecord> out;
  Status s = ForEachRecord(base::AsBytes(batch), decoder, [&](const RecordView& r) -> Status {
    TestRecord t{r.offset, r.timestamp, std::nullopt, std::nullopt, {}};
    if (r.key) t.key = std::string(*r.key);
    if (r.value) t.value = std::string(*r.value);
    for (const RecordHeader& h : r.headers) {
      t.headers.emplace_back(std::string(h.key),
                             h.value ? std::optional<std::string>(*h.value) : std::nullopt);
    }
    out.push_back(std::move(t));
    return {};
  });
  if (!s) return std::move(s).error();
  return out;
}

BatchHeader ParseOrDie(const std::string& batch) {
  auto h = ParseBatchHeader(base::AsBytes(batch));
  EXPECT_TRUE(h.has_value()) << h.error().ToString();
  return h.has_value() ? *h : BatchHeader{};
}

template <typename T>
void Patch(std::string& batch, size_t field, T value) {
  StoreBE<T>(MutableData(batch) + field, value);
}

void Recrc(std::string& batch) { UpdateBatchCrc({MutableData(batch), batch.size()}); }

// --- hand-encoded records -----------------------------------------------------------------------

std::string V(int64_t v) {
  std::string s;
  base::PutVarint(s, v);
  return s;
}

// A record: its length varint, then `body` (which may lie about its own fields).
std::string Rec(const std::string& body) { return V(static_cast<int64_t>(body.size())) + body; }

// The body of a well-formed record: attributes, timestamp delta, offset delta, key "k", value "v",
// no headers.
std::string GoodBody(int64_t offset_delta = 0, int64_t ts_delta = 0) {
  return std::string(1, '\0') + V(ts_delta) + V(offset_delta) + V(1) + "k" + V(1) + "v" + V(0);
}
// Attributes, deltas, key and value, for bodies that go on with hand-written headers.
std::string BodyBeforeHeaders() {
  return std::string(1, '\0') + V(0) + V(0) + V(1) + "k" + V(1) + "v";
}

// A batch whose records section is exactly `records`, with the given count and last offset delta,
// compressed with `codec` by CompressBatch (which does not look inside the records).
std::string BatchWithRecords(const std::string& records, int32_t count, int32_t last_offset_delta,
                             Codec codec, int64_t base_timestamp = 1000) {
  BatchBuilder builder;
  auto empty = builder.Build();
  EXPECT_TRUE(empty.has_value());
  std::string batch = *empty + records;
  Patch<int32_t>(batch, batch_field::kBatchLength, static_cast<int32_t>(batch.size() - 12));
  Patch<int32_t>(batch, batch_field::kRecordCount, count);
  Patch<int32_t>(batch, batch_field::kLastOffsetDelta, last_offset_delta);
  Patch<int64_t>(batch, batch_field::kBaseTimestamp, base_timestamp);
  Recrc(batch);
  if (codec == Codec::kNone) return batch;
  auto compressed = CompressBatch(base::AsBytes(batch), ParseOrDie(batch), codec, 0);
  EXPECT_TRUE(compressed.has_value()) << compressed.error().ToString();
  return compressed.has_value() ? *compressed : std::string();
}

// ================================================================================================
// Over every codec.

class RecordBatchCodecTest : public ::testing::TestWithParam<Codec> {
 protected:
  Codec codec() const { return GetParam(); }
};

TEST_P(RecordBatchCodecTest, BuildThenParseRoundTrips) {
  const std::vector<TestRecord> records = SampleRecords();
  const std::string batch = Build(records, codec());
  const BatchHeader h = ParseOrDie(batch);
  EXPECT_EQ(h.base_offset, 0);
  EXPECT_EQ(h.size_bytes(), batch.size());
  EXPECT_EQ(h.codec(), codec());
  EXPECT_EQ(h.record_count, 7);
  EXPECT_EQ(h.last_offset_delta, 6);
  EXPECT_EQ(h.base_timestamp, 1000);
  EXPECT_EQ(h.max_timestamp, 2000);
  EXPECT_EQ(h.producer_id, -1);
  EXPECT_EQ(h.producer_epoch, -1);
  EXPECT_EQ(h.base_sequence, -1);
  EXPECT_FALSE(h.transactional());
  EXPECT_FALSE(h.control());
  EXPECT_FALSE(h.log_append_time());
  EXPECT_OK(VerifyBatchCrc(base::AsBytes(batch), h));
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(batch));
  EXPECT_EQ(decoded, records);
}

TEST_P(RecordBatchCodecTest, EmptyBatchRoundTrips) {
  const std::string batch = Build({}, codec());
  const BatchHeader h = ParseOrDie(batch);
  EXPECT_EQ(h.record_count, 0);
  EXPECT_EQ(h.last_offset_delta, 0);
  EXPECT_EQ(h.max_timestamp, kNoTimestamp);
  EXPECT_OK(VerifyBatchCrc(base::AsBytes(batch), h));
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(batch));
  EXPECT_TRUE(decoded.empty());
}

TEST_P(RecordBatchCodecTest, ManyRecordsRoundTrip) {
  auto rng = testing::SeededRng(static_cast<uint64_t>(codec()));
  std::vector<TestRecord> records;
  for (int i = 0; i < 2000; ++i) {
    TestRecord r{i,
                 1'700'000'000'000 + static_cast<int64_t>(rng() % 100000),
                 std::nullopt,
                 std::string(rng() % 200, static_cast<char>('a' + i % 26)),
                 {}};
    if (i % 3 != 0) r.key = "key-" + std::to_string(i);
    if (i % 7 == 0) r.headers.emplace_back("trace", std::to_string(rng()));
    records.push_back(std::move(r));
  }
  const std::string batch = Build(records, codec());
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(batch));
  EXPECT_EQ(decoded, records);
}

TEST_P(RecordBatchCodecTest, DecodedOffsetsFollowTheBaseOffset) {
  std::string batch = Build(SampleRecords(), codec());
  SetBaseOffset({MutableData(batch), batch.size()}, Offset(123456789));
  const BatchHeader h = ParseOrDie(batch);
  EXPECT_EQ(h.base_offset, 123456789);
  EXPECT_EQ(h.last_offset(), 123456789 + 6);
  // The base offset is outside the CRC: setting it keeps the batch valid.
  EXPECT_OK(VerifyBatchCrc(base::AsBytes(batch), h));
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(batch));
  ASSERT_EQ(decoded.size(), 7u);
  for (size_t i = 0; i < decoded.size(); ++i) {
    EXPECT_EQ(decoded[i].offset, 123456789 + static_cast<int64_t>(i));
  }
}

TEST_P(RecordBatchCodecTest, ProducerFieldsRoundTrip) {
  const std::string batch = Build(SampleRecords(), codec(), {77, 3, 1000});
  const BatchHeader h = ParseOrDie(batch);
  EXPECT_EQ(h.producer_id, 77);
  EXPECT_EQ(h.producer_epoch, 3);
  EXPECT_EQ(h.base_sequence, 1000);
  EXPECT_OK(VerifyBatchCrc(base::AsBytes(batch), h));
}

TEST_P(RecordBatchCodecTest, BuilderIsReusableAfterBuild) {
  BatchBuilder b;
  b.Add("a", "1", 5000);
  b.Add("b", "2", 7000);
  ASSERT_OK_AND_ASSIGN(std::string first, b.Build(codec()));
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.record_count(), 0);
  b.Add("c", "3", 100);
  ASSERT_OK_AND_ASSIGN(std::string second, b.Build(codec()));
  const BatchHeader h = ParseOrDie(second);
  EXPECT_EQ(h.record_count, 1);
  EXPECT_EQ(h.base_timestamp, 100);
  EXPECT_EQ(h.max_timestamp, 100);
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(second));
  EXPECT_EQ(decoded, (std::vector<TestRecord>{{0, 100, "c", "3", {}}}));
}

TEST_P(RecordBatchCodecTest, CompressBatchKeepsRecordsAndAttributes) {
  std::string plain = Build(SampleRecords(), Codec::kNone, {9, 1, 0});
  // A transactional batch: the flag must survive recompression.
  Patch<int16_t>(plain, batch_field::kAttributes, 0x10);
  Recrc(plain);
  const BatchHeader ph = ParseOrDie(plain);
  ASSERT_OK_AND_ASSIGN(std::string packed, CompressBatch(base::AsBytes(plain), ph, codec(), 0));
  const BatchHeader h = ParseOrDie(packed);
  EXPECT_EQ(h.codec(), codec());
  EXPECT_TRUE(h.transactional());
  EXPECT_EQ(h.record_count, ph.record_count);
  EXPECT_EQ(h.last_offset_delta, ph.last_offset_delta);
  EXPECT_EQ(h.base_timestamp, ph.base_timestamp);
  EXPECT_EQ(h.max_timestamp, ph.max_timestamp);
  EXPECT_EQ(h.producer_id, 9);
  EXPECT_OK(VerifyBatchCrc(base::AsBytes(packed), h));
  if (codec() == Codec::kNone) {
    EXPECT_EQ(packed, plain);
  }
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(packed));
  EXPECT_EQ(decoded, SampleRecords());
}

TEST_P(RecordBatchCodecTest, DecompressBatchUndoesCompressBatch) {
  std::string plain = Build(SampleRecords(), Codec::kNone, {9, 1, 17});
  // Fields a stored batch carries that must survive: base offset, leader epoch, attribute bits.
  Patch<int16_t>(plain, batch_field::kAttributes, 0x18);  // transactional, log append time
  Recrc(plain);
  SetBaseOffset({MutableData(plain), plain.size()}, Offset(1234));
  Patch<int32_t>(plain, batch_field::kLeaderEpoch, 7);
  ASSERT_OK_AND_ASSIGN(std::string packed,
                       CompressBatch(base::AsBytes(plain), ParseOrDie(plain), codec(), 0));
  const BatchHeader ph = ParseOrDie(packed);
  ASSERT_OK_AND_ASSIGN(std::string unpacked, DecompressBatch(base::AsBytes(packed), ph));
  // Byte for byte the batch before compression: header fields, records, length and CRC-32C.
  EXPECT_EQ(unpacked, plain);
  const BatchHeader h = ParseOrDie(unpacked);
  EXPECT_EQ(h.codec(), Codec::kNone);
  EXPECT_OK(VerifyBatchCrc(base::AsBytes(unpacked), h));
  EXPECT_EQ(h.base_offset, 1234);
  EXPECT_EQ(h.partition_leader_epoch, 7);
  EXPECT_EQ(h.attributes, 0x18);
  EXPECT_EQ(h.producer_id, 9);
  EXPECT_EQ(h.producer_epoch, 1);
  EXPECT_EQ(h.base_sequence, 17);
  EXPECT_EQ(h.record_count, ph.record_count);
  EXPECT_EQ(h.last_offset_delta, ph.last_offset_delta);
  EXPECT_EQ(h.base_timestamp, ph.base_timestamp);
  EXPECT_EQ(h.max_timestamp, ph.max_timestamp);
}

TEST_P(RecordBatchCodecTest, DecompressBatchOfABuiltBatchDecodesTheSameRecords) {
  const std::string packed = Build(SampleRecords(), codec());
  ASSERT_OK_AND_ASSIGN(std::string unpacked,
                       DecompressBatch(base::AsBytes(packed), ParseOrDie(packed)));
  EXPECT_EQ(unpacked, Build(SampleRecords(), Codec::kNone));
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(unpacked));
  EXPECT_EQ(decoded, SampleRecords());
  // An empty batch too.
  const std::string empty = Build({}, codec());
  ASSERT_OK_AND_ASSIGN(std::string empty_unpacked,
                       DecompressBatch(base::AsBytes(empty), ParseOrDie(empty)));
  EXPECT_EQ(empty_unpacked, Build({}, Codec::kNone));
}

TEST_P(RecordBatchCodecTest, DecompressBatchOfDamagedRecordsIsAnError) {
  const std::string packed = Build(SampleRecords(), codec());
  if (codec() == Codec::kNone) {  // nothing to decompress: an unchanged copy
    ASSERT_OK_AND_ASSIGN(std::string copy,
                         DecompressBatch(base::AsBytes(packed), ParseOrDie(packed)));
    EXPECT_EQ(copy, packed);
    return;
  }
  // The compressed records cut in half, and replaced by bytes that are not compressed data.
  const size_t body = packed.size() - kBatchHeaderSize;
  std::string truncated = packed.substr(0, kBatchHeaderSize + body / 2);
  std::string garbage = packed.substr(0, kBatchHeaderSize) + std::string(body, '\x5a');
  for (std::string* b : {&truncated, &garbage}) {
    Patch<int32_t>(*b, batch_field::kBatchLength, static_cast<int32_t>(b->size() - 12));
    Recrc(*b);
    auto r = DecompressBatch(base::AsBytes(*b), ParseOrDie(*b));
    EXPECT_TRUE(IsError(r, ErrorCode::kCorruption)) << (b == &truncated ? "truncated" : "garbage");
  }
}

TEST_P(RecordBatchCodecTest, ComputeMaxTimestampReadsTheRecords) {
  std::string batch = Build(SampleRecords(), codec());
  // A producer that left maxTimestamp at -1.
  Patch<int64_t>(batch, batch_field::kMaxTimestamp, kNoTimestamp);
  Recrc(batch);
  const BatchHeader h = ParseOrDie(batch);
  ASSERT_OK_AND_ASSIGN(int64_t max_ts, ComputeMaxTimestamp(base::AsBytes(batch), h));
  EXPECT_EQ(max_ts, 2000);

  const std::string empty = Build({}, codec());
  ASSERT_OK_AND_ASSIGN(int64_t none, ComputeMaxTimestamp(base::AsBytes(empty), ParseOrDie(empty)));
  EXPECT_EQ(none, kNoTimestamp);
}

TEST_P(RecordBatchCodecTest, ComputeMaxTimestampFailsOnMalformedRecords) {
  const std::string batch = BatchWithRecords(Rec(GoodBody()) + Rec(""), 2, 1, codec());
  EXPECT_TRUE(IsError(ComputeMaxTimestamp(base::AsBytes(batch), ParseOrDie(batch)),
                      ErrorCode::kCorruption));
}

TEST_P(RecordBatchCodecTest, HandEncodedRecordDecodes) {
  // Validates the helpers the malformed-record tests build on.
  const std::string batch =
      BatchWithRecords(Rec(GoodBody(0, 5)) + Rec(GoodBody(2, -3)), 2, 2, codec());
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(batch));
  EXPECT_EQ(decoded, (std::vector<TestRecord>{{0, 1005, "k", "v", {}}, {2, 997, "k", "v", {}}}));
}

struct MalformedCase {
  const char* name;
  std::string records;
  int32_t count;
  int32_t last_offset_delta;
};

std::vector<MalformedCase> MalformedCases() {
  const std::string good = Rec(GoodBody());
  const std::string pre = BodyBeforeHeaders();
  const std::string zero(1, '\0');
  return {
      {"no records where one is counted", "", 1, 0},
      {"fewer records than counted", good, 2, 1},
      {"bytes after the last record", good + zero, 1, 0},
      {"records where none are counted", good, 0, 0},
      {"negative record length", V(-1) + GoodBody(), 1, 0},
      {"record length past the end", V(static_cast<int64_t>(GoodBody().size()) + 5) + GoodBody(), 1,
       0},
      {"record length wider than 32 bits", V(int64_t{1} << 33) + GoodBody(), 1, 0},
      {"truncated record length varint", "\x80", 1, 0},
      {"empty record", Rec(""), 1, 0},
      {"extra bytes inside the record", Rec(GoodBody() + "X"), 1, 0},
      {"record ends before its key", Rec(zero + V(0) + V(0)), 1, 0},
      {"overlong timestamp delta", Rec(zero + std::string(11, '\x80') + V(0)), 1, 0},
      {"key length below -1", Rec(zero + V(0) + V(0) + V(-2) + "k" + V(1) + "v" + V(0)), 1, 0},
      {"key longer than the record", Rec(zero + V(0) + V(0) + V(50) + "k" + V(1) + "v" + V(0)), 1,
       0},
      {"value length below -1", Rec(zero + V(0) + V(0) + V(1) + "k" + V(-7) + V(0)), 1, 0},
      {"value longer than the record", Rec(zero + V(0) + V(0) + V(1) + "k" + V(9) + "v" + V(0)), 1,
       0},
      {"missing header count", Rec(pre), 1, 0},
      {"negative header count", Rec(pre + V(-1)), 1, 0},
      {"header count beyond the record", Rec(pre + V(100)), 1, 0},
      {"negative header key length", Rec(pre + V(1) + V(-1) + V(0)), 1, 0},
      {"truncated header key", Rec(pre + V(1) + V(10) + "ab"), 1, 0},
      {"header value length below -1", Rec(pre + V(1) + V(1) + "h" + V(-2)), 1, 0},
      {"truncated header value", Rec(pre + V(1) + V(1) + "h" + V(5) + "ab"), 1, 0},
      {"fewer headers than counted", Rec(pre + V(2) + V(1) + "h" + V(1) + "x"), 1, 0},
      {"negative offset delta", Rec(GoodBody(-1)), 1, 0},
      {"offset delta beyond the last offset delta", Rec(GoodBody(5)), 1, 1},
      {"offset delta wider than 32 bits", Rec(GoodBody(int64_t{1} << 40)), 1, 0},
      {"second record malformed", good + Rec(""), 2, 1},
  };
}

TEST_P(RecordBatchCodecTest, DecoderRejectsMalformedRecords) {
  for (const MalformedCase& c : MalformedCases()) {
    SCOPED_TRACE(c.name);
    const std::string batch = BatchWithRecords(c.records, c.count, c.last_offset_delta, codec());
    ASSERT_OK(ParseBatchHeader(base::AsBytes(batch)));
    EXPECT_TRUE(IsError(DecodeAll(batch), ErrorCode::kCorruption));
  }
}

TEST_P(RecordBatchCodecTest, TruncatedRecordsSectionIsCorruption) {
  const std::string plain = Build(SampleRecords(), Codec::kNone);
  const std::string records = plain.substr(kBatchHeaderSize);
  for (size_t cut = 1; cut <= records.size(); cut += (cut < 64 ? 1 : 97)) {
    SCOPED_TRACE("cut " + std::to_string(cut) + " of " + std::to_string(records.size()));
    const std::string batch =
        BatchWithRecords(records.substr(0, records.size() - cut), 7, 6, codec());
    EXPECT_TRUE(IsError(DecodeAll(batch), ErrorCode::kCorruption));
  }
}

TEST_P(RecordBatchCodecTest, WrongRecordCountIsCorruption) {
  const std::string records = Build(SampleRecords(), Codec::kNone).substr(kBatchHeaderSize);
  for (int32_t count : {0, 1, 6, 8, 100}) {
    SCOPED_TRACE("count " + std::to_string(count));
    const std::string batch = BatchWithRecords(records, count, std::max(6, count - 1), codec());
    EXPECT_TRUE(IsError(DecodeAll(batch), ErrorCode::kCorruption));
  }
}

TEST_P(RecordBatchCodecTest, TimestampOverflowIsCorruption) {
  const std::string up = BatchWithRecords(Rec(GoodBody(0, 1)), 1, 0, codec(), kInt64Max);
  EXPECT_TRUE(IsError(DecodeAll(up), ErrorCode::kCorruption, "timestamp"));
  const std::string down = BatchWithRecords(Rec(GoodBody(0, kInt64Min)), 1, 0, codec(), -1);
  EXPECT_TRUE(IsError(DecodeAll(down), ErrorCode::kCorruption, "timestamp"));
  // The extremes themselves are fine.
  const std::string edge = BatchWithRecords(Rec(GoodBody(0, -1)), 1, 0, codec(), kInt64Max);
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(edge));
  EXPECT_EQ(decoded.at(0).timestamp, kInt64Max - 1);
}

TEST_P(RecordBatchCodecTest, OffsetOverflowIsCorruption) {
  std::string batch = BatchWithRecords(Rec(GoodBody(0)) + Rec(GoodBody(1)), 2, 1, codec());
  SetBaseOffset({MutableData(batch), batch.size()}, Offset(kInt64Max));
  EXPECT_TRUE(IsError(DecodeAll(batch), ErrorCode::kCorruption, "offset"));
}

TEST_P(RecordBatchCodecTest, DecoderIsReusableAcrossBatches) {
  RecordDecoder decoder;
  const std::string a = Build(SampleRecords(), codec());
  const std::string b = Build({{0, 42, "x", "y", {}}}, Codec::kNone);
  for (const std::string* batch : {&a, &b, &a}) {
    ASSERT_OK(decoder.Reset(base::AsBytes(*batch)));
    int n = 0;
    for (;;) {
      ASSERT_OK_AND_ASSIGN(auto rec, decoder.Next());
      if (!rec) break;
      ++n;
    }
    EXPECT_EQ(n, decoder.header().record_count);
    // Past the end, Next keeps saying so.
    ASSERT_OK_AND_ASSIGN(auto again, decoder.Next());
    EXPECT_FALSE(again.has_value());
  }
}

std::string CodecParamName(const ::testing::TestParamInfo<Codec>& param) {
  return std::string(base::CodecName(param.param));
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, RecordBatchCodecTest, ::testing::ValuesIn(kAllCodecs),
                         CodecParamName);

// ================================================================================================
// Header parsing and CRC.

class RecordBatchTest : public ::testing::Test {
 protected:
  std::string good_ = testing::MakeBatch(3);
};

TEST_F(RecordBatchTest, ParsesMinimalAndUnusualValidHeaders) {
  const std::string empty = Build({}, Codec::kNone);
  ASSERT_EQ(empty.size(), kBatchHeaderSize);
  EXPECT_OK(ParseBatchHeader(base::AsBytes(empty)));

  // A compacted batch: fewer records than its offset range.
  std::string compacted = good_;
  Patch<int32_t>(compacted, batch_field::kLastOffsetDelta, 10);
  EXPECT_OK(ParseBatchHeader(base::AsBytes(compacted)));

  // Transactional control batch with log-append time, uncompressed.
  std::string flags = good_;
  Patch<int16_t>(flags, batch_field::kAttributes, 0x38);
  ASSERT_OK_AND_ASSIGN(BatchHeader h, ParseBatchHeader(base::AsBytes(flags)));
  EXPECT_TRUE(h.transactional());
  EXPECT_TRUE(h.control());
  EXPECT_TRUE(h.log_append_time());
  EXPECT_EQ(h.codec(), Codec::kNone);
}

TEST_F(RecordBatchTest, ShortBatchIsCorruption) {
  for (size_t len : {size_t{0}, size_t{1}, size_t{12}, size_t{17}, kBatchHeaderSize - 1}) {
    EXPECT_TRUE(IsError(ParseBatchHeader(base::AsBytes(good_).first(len)), ErrorCode::kCorruption,
                        "shorter than its header"))
        << len;
  }
}

TEST_F(RecordBatchTest, BadMagicIsCorruption) {
  for (int magic : {0, 1, 3, -1, 127}) {
    std::string b = good_;
    b[batch_field::kMagic] = static_cast<char>(magic);
    EXPECT_TRUE(IsError(ParseBatchHeader(base::AsBytes(b)), ErrorCode::kCorruption, "magic"))
        << magic;
  }
}

TEST_F(RecordBatchTest, LengthMismatchIsCorruption) {
  const auto length = static_cast<int32_t>(good_.size() - 12);
  for (int32_t bad : {length + 1, length - 1, -1, -5, std::numeric_limits<int32_t>::min(),
                      std::numeric_limits<int32_t>::max(), 0}) {
    std::string b = good_;
    Patch<int32_t>(b, batch_field::kBatchLength, bad);
    EXPECT_TRUE(IsError(ParseBatchHeader(base::AsBytes(b)), ErrorCode::kCorruption, "length"))
        << bad;
  }
  // The field is right but the span holds more or fewer bytes.
  EXPECT_TRUE(
      IsError(ParseBatchHeader(base::AsBytes(good_ + "x")), ErrorCode::kCorruption, "length"));
  EXPECT_TRUE(IsError(ParseBatchHeader(base::AsBytes(good_).first(good_.size() - 1)),
                      ErrorCode::kCorruption, "length"));
}

TEST_F(RecordBatchTest, NegativeRecordCountIsCorruption) {
  for (int32_t count : {-1, std::numeric_limits<int32_t>::min()}) {
    std::string b = good_;
    Patch<int32_t>(b, batch_field::kRecordCount, count);
    EXPECT_TRUE(IsError(ParseBatchHeader(base::AsBytes(b)), ErrorCode::kCorruption,
                        "negative record count"))
        << count;
  }
}

TEST_F(RecordBatchTest, NegativeLastOffsetDeltaIsCorruption) {
  std::string b = good_;
  Patch<int32_t>(b, batch_field::kLastOffsetDelta, -1);
  EXPECT_TRUE(IsError(ParseBatchHeader(base::AsBytes(b)), ErrorCode::kCorruption,
                      "negative last offset delta"));
  // Also with no records.
  std::string empty = Build({}, Codec::kNone);
  Patch<int32_t>(empty, batch_field::kLastOffsetDelta, -1);
  EXPECT_TRUE(IsError(ParseBatchHeader(base::AsBytes(empty)), ErrorCode::kCorruption,
                      "negative last offset delta"));
}

TEST_F(RecordBatchTest, LastOffsetDeltaBelowRecordCountIsCorruption) {
  for (int32_t delta : {0, 1}) {  // 3 records need a delta of at least 2
    std::string b = good_;
    Patch<int32_t>(b, batch_field::kLastOffsetDelta, delta);
    EXPECT_TRUE(
        IsError(ParseBatchHeader(base::AsBytes(b)), ErrorCode::kCorruption, "last offset delta"))
        << delta;
  }
}

TEST_F(RecordBatchTest, UnknownCodecIsCorruption) {
  for (int16_t attributes : {5, 6, 7, 0x0f, 0x3f}) {
    std::string b = good_;
    Patch<int16_t>(b, batch_field::kAttributes, attributes);
    EXPECT_TRUE(IsError(ParseBatchHeader(base::AsBytes(b)), ErrorCode::kCorruption, "codec"))
        << attributes;
  }
}

TEST_F(RecordBatchTest, VerifyBatchCrcDetectsEveryFlippedByteItCovers) {
  const BatchHeader h = ParseOrDie(good_);
  ASSERT_OK(VerifyBatchCrc(base::AsBytes(good_), h));
  for (size_t pos = batch_field::kAttributes; pos < good_.size(); ++pos) {
    std::string b = good_;
    FlipByte(b, pos);
    EXPECT_TRUE(IsError(VerifyBatchCrc(base::AsBytes(b), h), ErrorCode::kCorruption, "CRC"))
        << "byte " << pos;
  }
  for (size_t pos = batch_field::kCrc; pos < batch_field::kAttributes; ++pos) {
    std::string b = good_;
    FlipByte(b, pos, 0x80);
    EXPECT_TRUE(IsError(VerifyBatchCrc(base::AsBytes(b), ParseOrDie(b)), ErrorCode::kCorruption))
        << "CRC byte " << pos;
  }
}

TEST_F(RecordBatchTest, CrcDoesNotCoverBaseOffsetOrLeaderEpoch) {
  // That is what the frame checksum is for (FORMAT.md, "Frames").
  std::string b = good_;
  Patch<int64_t>(b, batch_field::kBaseOffset, 999);
  Patch<int32_t>(b, batch_field::kLeaderEpoch, 7);
  EXPECT_OK(VerifyBatchCrc(base::AsBytes(b), ParseOrDie(b)));
}

TEST_F(RecordBatchTest, UpdateBatchCrcRepairsAfterAnEdit) {
  std::string b = good_;
  Patch<int64_t>(b, batch_field::kMaxTimestamp, 123);
  EXPECT_FALSE(VerifyBatchCrc(base::AsBytes(b), ParseOrDie(b)).has_value());
  Recrc(b);
  EXPECT_OK(VerifyBatchCrc(base::AsBytes(b), ParseOrDie(b)));
}

TEST_F(RecordBatchTest, CompressBatchRejectsCompressedInput) {
  const std::string packed = testing::MakeBatch(3, "v", 1000, Codec::kZstd);
  EXPECT_TRUE(IsError(CompressBatch(base::AsBytes(packed), ParseOrDie(packed), Codec::kLz4, 0),
                      ErrorCode::kInvalidArgument));
}

TEST_F(RecordBatchTest, LogAppendTimeGivesEveryRecordTheBatchTimestamp) {
  std::string b = Build(SampleRecords(), Codec::kNone);
  Patch<int16_t>(b, batch_field::kAttributes, 0x08);
  Patch<int64_t>(b, batch_field::kMaxTimestamp, 5555);
  Recrc(b);
  ASSERT_OK_AND_ASSIGN(auto decoded, DecodeAll(b));
  ASSERT_EQ(decoded.size(), 7u);
  for (const TestRecord& r : decoded) EXPECT_EQ(r.timestamp, 5555);
  ASSERT_OK_AND_ASSIGN(int64_t max_ts, ComputeMaxTimestamp(base::AsBytes(b), ParseOrDie(b)));
  EXPECT_EQ(max_ts, 5555);
}

TEST_F(RecordBatchTest, GarbageCompressedRecordsAreCorruption) {
  for (Codec c : {Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd}) {
    // Claims `c` but holds uncompressed records.
    std::string b = good_;
    Patch<int16_t>(b, batch_field::kAttributes, static_cast<int16_t>(c));
    Recrc(b);
    RecordDecoder decoder;
    EXPECT_TRUE(IsError(decoder.Reset(base::AsBytes(b)), ErrorCode::kCorruption))
        << base::CodecName(c);
  }
}

TEST_F(RecordBatchTest, DecoderResetRejectsABadHeader) {
  std::string b = good_;
  b[batch_field::kMagic] = 1;
  RecordDecoder decoder;
  EXPECT_TRUE(IsError(decoder.Reset(base::AsBytes(b)), ErrorCode::kCorruption, "magic"));
}

TEST_F(RecordBatchTest, MakeBatchHelperProducesValues) {
  EXPECT_EQ(testing::BatchValues(testing::MakeBatch(3, "x")),
            (std::vector<std::string>{"x-0", "x-1", "x-2"}));
}

}  // namespace
}  // namespace sluice::segment
