#pragma once

// Helpers for the codec tests (tests/net/messages_test.cc, messages_encode_test.cc): request
// frames built by hand with WireWriter, field by field in the order of Apache Kafka's message
// specs, and byte-comparison helpers for encoded responses.

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/kafka_errors.h"
#include "net/messages.h"
#include "net/out_buffer.h"
#include "net/wire.h"
#include "tests/support/test_util.h"

namespace sluice::net::codec_test {

using base::AsBytes;
using base::AsString;

inline constexpr int32_t kCorrelationId = 0x01020304;

// Request frames (without the size prefix) ---------------------------------------------------

inline void WriteHeader(WireWriter& w, ApiKey key, int16_t v) {
  w.Int16(static_cast<int16_t>(key));
  w.Int16(v);
  w.Int32(kCorrelationId);
  w.NullableString("client-1");
}

// Builds a frame: the header, then `body` written by the caller.
inline std::string Frame(ApiKey key, int16_t v, const std::function<void(WireWriter&)>& body) {
  std::string out;
  WireWriter w(out);
  WriteHeader(w, key, v);
  body(w);
  return out;
}

// A flexible request (header v2): the header's tagged fields, then the body.
inline std::string FlexibleFrame(ApiKey key, int16_t v,
                                 const std::function<void(WireWriter&)>& body) {
  std::string out;
  WireWriter w(out);
  WriteHeader(w, key, v);
  w.EmptyTaggedFields();
  body(w);
  return out;
}

// A real RecordBatch v2, stable for the whole test binary (frames hold copies).
inline const std::string& TestBatch() {
  static const std::string batch = testing::MakeBatch(2, "produced");
  return batch;
}

inline std::string ProduceFrame(int16_t v) {
  return Frame(ApiKey::kProduce, v, [&](WireWriter& w) {
    if (v >= 3) w.NullableString(v >= 7 ? std::optional<std::string>("txn-1") : std::nullopt);
    w.Int16(-1);     // acks
    w.Int32(30000);  // timeout_ms
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.BytesField(AsBytes(TestBatch()));
    w.Int32(3);
    w.NullableBytes(std::nullopt);
  });
}

inline std::string FetchFrame(int16_t v) {
  return Frame(ApiKey::kFetch, v, [&](WireWriter& w) {
    w.Int32(-1);   // replica_id
    w.Int32(500);  // max_wait_ms
    w.Int32(1);    // min_bytes
    if (v >= 3) w.Int32(52428800);
    if (v >= 4) w.Int8(1);  // isolation_level
    if (v >= 7) {
      w.Int32(0);   // session_id
      w.Int32(-1);  // session_epoch
    }
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    for (int32_t p : {0, 1}) {
      w.Int32(p);
      if (v >= 9) w.Int32(5);  // current_leader_epoch
      w.Int64(100 * (p + 1));  // fetch_offset
      if (v >= 5) w.Int64(-1);
      w.Int32(1048576);
    }
    if (v >= 7) {
      w.ArrayCount(1);
      w.String("old");
      w.ArrayCount(2);
      w.Int32(1);
      w.Int32(2);
    }
    if (v >= 11) w.String("rack-a");
  });
}

// Writes fields in a classic or a flexible version (KIP-482), for the frames below.
struct FlexWriter {
  WireWriter& w;
  bool flexible;
  void Str(const std::string& s) { flexible ? w.CompactString(s) : w.String(s); }
  void NullableStr(const std::optional<std::string>& s) {
    flexible ? w.CompactNullableString(s) : w.NullableString(s);
  }
  void Count(size_t n) { flexible ? w.CompactArrayCount(n) : w.ArrayCount(n); }
  void NullCount() { flexible ? w.UnsignedVarint(0) : w.Int32(-1); }
  void Tags() {
    if (flexible) w.EmptyTaggedFields();
  }
};

inline std::string MaybeFlexibleFrame(ApiKey key, int16_t v, bool flexible,
                                      const std::function<void(FlexWriter&)>& body) {
  auto write = [&](WireWriter& w) {
    FlexWriter f{w, flexible};
    body(f);
  };
  return flexible ? FlexibleFrame(key, v, write) : Frame(key, v, write);
}

inline std::string ListOffsetsFrame(int16_t v) {
  return MaybeFlexibleFrame(ApiKey::kListOffsets, v, v >= 6, [&](FlexWriter& f) {
    WireWriter& w = f.w;
    w.Int32(-1);
    if (v >= 2) w.Int8(1);
    f.Count(1);
    f.Str("orders");
    f.Count(2);
    w.Int32(0);
    if (v >= 4) w.Int32(3);
    w.Int64(v >= 7 ? -3 : -1);
    f.Tags();
    w.Int32(1);
    if (v >= 4) w.Int32(-1);
    w.Int64(1700000000000);
    f.Tags();
    f.Tags();  // the topic
    f.Tags();  // the request
  });
}

inline std::string MetadataFrame(int16_t v) {
  return Frame(ApiKey::kMetadata, v, [&](WireWriter& w) {
    w.ArrayCount(2);
    w.String("a");
    w.String("b");
    if (v >= 4) w.Bool(false);
    if (v >= 8) {
      w.Bool(true);
      w.Bool(false);
    }
  });
}

inline std::string OffsetCommitFrame(int16_t v) {
  return Frame(ApiKey::kOffsetCommit, v, [&](WireWriter& w) {
    w.String("group");
    if (v >= 1) {
      w.Int32(3);
      w.String("m-1");
    }
    if (v >= 7) w.NullableString("inst");
    if (v >= 2 && v <= 4) w.Int64(86400000);
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.Int64(42);
    if (v >= 6) w.Int32(2);
    if (v == 1) w.Int64(1234);
    w.NullableString("meta");
    w.Int32(1);
    w.Int64(7);
    if (v >= 6) w.Int32(-1);
    if (v == 1) w.Int64(-1);
    w.NullableString(std::nullopt);
  });
}

inline std::string OffsetFetchFrame(int16_t v) {
  return Frame(ApiKey::kOffsetFetch, v, [&](WireWriter& w) {
    w.String("group");
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.Int32(1);
  });
}

inline std::string FindCoordinatorFrame(int16_t v) {
  return Frame(ApiKey::kFindCoordinator, v, [&](WireWriter& w) {
    w.String("group");
    if (v >= 1) w.Int8(1);
  });
}

inline std::string JoinGroupFrame(int16_t v) {
  return Frame(ApiKey::kJoinGroup, v, [&](WireWriter& w) {
    w.String("group");
    w.Int32(10000);
    if (v >= 1) w.Int32(300000);
    w.String("");
    if (v >= 5) w.NullableString("inst");
    w.String("consumer");
    w.ArrayCount(2);
    w.String("range");
    w.BytesField(AsBytes(std::string_view("\0\1abc", 5)));
    w.String("roundrobin");
    w.BytesField({});
  });
}

inline std::string HeartbeatFrame(int16_t v) {
  return Frame(ApiKey::kHeartbeat, v, [&](WireWriter& w) {
    w.String("group");
    w.Int32(3);
    w.String("m-1");
    if (v >= 3) w.NullableString(std::nullopt);
  });
}

inline std::string LeaveGroupFrame(int16_t v) {
  return Frame(ApiKey::kLeaveGroup, v, [&](WireWriter& w) {
    w.String("group");
    if (v <= 2) {
      w.String("m-1");
    } else {
      w.ArrayCount(2);
      w.String("m-1");
      w.NullableString(std::nullopt);
      w.String("m-2");
      w.NullableString("inst-2");
    }
  });
}

inline std::string SyncGroupFrame(int16_t v) {
  return Frame(ApiKey::kSyncGroup, v, [&](WireWriter& w) {
    w.String("group");
    w.Int32(3);
    w.String("m-1");
    if (v >= 3) w.NullableString("inst");
    w.ArrayCount(2);
    w.String("m-1");
    w.BytesField(AsBytes(std::string_view("\0\1assign", 8)));
    w.String("m-2");
    w.BytesField({});
  });
}

inline std::string DescribeGroupsFrame(int16_t v) {
  return Frame(ApiKey::kDescribeGroups, v, [&](WireWriter& w) {
    w.ArrayCount(2);
    w.String("g1");
    w.String("g2");
    if (v >= 3) w.Bool(true);
  });
}

// v0-2 have an empty body; v3+ are flexible, v4 adds the states filter, v5 the types filter.
inline std::string ListGroupsFrame(int16_t v) {
  if (v < 3) return Frame(ApiKey::kListGroups, v, [](WireWriter&) {});
  return FlexibleFrame(ApiKey::kListGroups, v, [v](WireWriter& w) {
    if (v >= 4) {
      w.CompactArrayCount(2);
      w.CompactString("Stable");
      w.CompactString(" empty ");
    }
    if (v >= 5) {
      w.CompactArrayCount(1);
      w.CompactString("Classic");
    }
    w.EmptyTaggedFields();
  });
}

// ApiVersions v3+ as librdkafka and Java send it: header v2 (client_id, then tagged fields), then
// a flexible body (compact strings: varint length + 1).
inline std::string ApiVersionsV3Frame(std::string_view header_tags = std::string_view("\0", 1),
                                      int16_t v = 3) {
  std::string out;
  WireWriter w(out);
  WriteHeader(w, ApiKey::kApiVersions, v);
  w.Raw(header_tags);
  w.Int8(11);
  w.Raw("librdkafka");
  w.Int8(6);
  w.Raw("2.0.2");
  w.Int8(0);
  return out;
}

inline std::string ApiVersionsFrame(int16_t v) {
  if (v >= 3) return ApiVersionsV3Frame(std::string_view("\0", 1), v);
  return Frame(ApiKey::kApiVersions, v, [](WireWriter&) {});
}

// v5+ is flexible (the same fields).
inline std::string CreateTopicsFrame(int16_t v) {
  return MaybeFlexibleFrame(ApiKey::kCreateTopics, v, v >= 5, [&](FlexWriter& f) {
    WireWriter& w = f.w;
    f.Count(2);
    f.Str("t1");
    w.Int32(3);
    w.Int16(1);
    f.Count(0);
    f.Count(2);
    f.Str("cleanup.policy");
    f.NullableStr("compact");
    f.Tags();
    f.Str("retention.ms");
    f.NullableStr(std::nullopt);
    f.Tags();
    f.Tags();
    f.Str("t2");
    w.Int32(-1);
    w.Int16(-1);
    f.Count(2);
    w.Int32(0);
    f.Count(1);
    w.Int32(1);
    f.Tags();
    w.Int32(1);
    f.Count(1);
    w.Int32(1);
    f.Tags();
    f.Count(0);
    f.Tags();
    w.Int32(30000);
    if (v >= 1) w.Bool(true);
    f.Tags();
  });
}

inline std::string DeleteTopicsFrame(int16_t v) {
  return Frame(ApiKey::kDeleteTopics, v, [](WireWriter& w) {
    w.ArrayCount(2);
    w.String("t1");
    w.String("t2");
    w.Int32(30000);
  });
}

inline std::string InitProducerIdFrame(int16_t v) {
  return Frame(ApiKey::kInitProducerId, v, [&](WireWriter& w) {
    w.NullableString(v == 0 ? std::nullopt : std::optional<std::string>("txn"));
    w.Int32(60000);
  });
}

inline std::string DescribeConfigsFrame(int16_t v) {
  return Frame(ApiKey::kDescribeConfigs, v, [&](WireWriter& w) {
    w.ArrayCount(2);
    w.Int8(2);
    w.String("orders");
    w.ArrayCount(1);
    w.String("retention.ms");
    w.Int8(4);
    w.String("1");
    w.Int32(-1);  // null: all keys
    if (v >= 1) w.Bool(true);
    if (v >= 3) w.Bool(true);
  });
}

inline std::string DeleteGroupsFrame(int16_t v) {
  return Frame(ApiKey::kDeleteGroups, v, [](WireWriter& w) {
    w.ArrayCount(1);
    w.String("g1");
  });
}

inline std::string SaslHandshakeFrame(int16_t v) {
  return Frame(ApiKey::kSaslHandshake, v, [](WireWriter& w) { w.String("SCRAM-SHA-512"); });
}

// v0 carries a SCRAM client-final message, v1 a client-first (seeds for the fuzzer's SCRAM
// parsers).
inline std::string SaslAuthenticateFrame(int16_t v) {
  return Frame(ApiKey::kSaslAuthenticate, v, [v](WireWriter& w) {
    const std::string token =
        v == 0 ? "c=biws,r=abcfuzz,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
               : "n,,n=user,r=abc";
    w.BytesField(base::AsBytes(token));
  });
}

// Two components: user "alice" exactly, and any client id (v1 is flexible).
inline std::string DescribeClientQuotasFrame(int16_t v) {
  auto body = [v](WireWriter& w) {
    const bool flexible = v >= 1;
    flexible ? w.CompactArrayCount(2) : w.ArrayCount(2);
    flexible ? w.CompactString("user") : w.String("user");
    w.Int8(0);
    flexible ? w.CompactNullableString(std::string("alice"))
             : w.NullableString(std::string("alice"));
    if (flexible) w.EmptyTaggedFields();
    flexible ? w.CompactString("client-id") : w.String("client-id");
    w.Int8(2);
    flexible ? w.CompactNullableString(std::nullopt) : w.NullableString(std::nullopt);
    if (flexible) w.EmptyTaggedFields();
    w.Bool(true);  // strict
    if (flexible) w.EmptyTaggedFields();
  };
  return v >= 1 ? FlexibleFrame(ApiKey::kDescribeClientQuotas, v, body)
                : Frame(ApiKey::kDescribeClientQuotas, v, body);
}

inline std::string DescribeUserScramCredentialsFrame(int16_t v) {
  return FlexibleFrame(ApiKey::kDescribeUserScramCredentials, v, [](WireWriter& w) {
    w.CompactArrayCount(1);
    w.CompactString("alice");
    w.EmptyTaggedFields();
    w.EmptyTaggedFields();
  });
}

inline std::string AlterUserScramCredentialsFrame(int16_t v) {
  return FlexibleFrame(ApiKey::kAlterUserScramCredentials, v, [](WireWriter& w) {
    w.CompactArrayCount(1);  // deletions
    w.CompactString("old");
    w.Int8(1);
    w.EmptyTaggedFields();
    w.CompactArrayCount(1);  // upsertions
    w.CompactString("new");
    w.Int8(2);
    w.Int32(4096);
    w.CompactBytes(base::AsBytes(std::string("salt")));
    w.CompactBytes(base::AsBytes(std::string(64, 'p')));
    w.EmptyTaggedFields();
    w.EmptyTaggedFields();
  });
}

inline std::string AlterConfigsFrame(int16_t v) {
  return Frame(ApiKey::kAlterConfigs, v, [](WireWriter& w) {
    w.ArrayCount(1);
    w.Int8(2);
    w.String("orders");
    w.ArrayCount(2);
    w.String("retention.ms");
    w.NullableString(std::string("60000"));
    w.String("cleanup.policy");
    w.NullableString(std::nullopt);
    w.Bool(true);  // validate_only
  });
}

// An ACL filter: TOPIC, name "orders", (v1: PREFIXED), principal null, host "*", READ, ALLOW.
inline void WriteAclFilter(WireWriter& w, int16_t v) {
  w.Int8(2);
  w.NullableString(std::string("orders"));
  if (v >= 1) w.Int8(4);
  w.NullableString(std::nullopt);
  w.NullableString(std::string("*"));
  w.Int8(3);
  w.Int8(3);
}

inline std::string DescribeAclsFrame(int16_t v) {
  return Frame(ApiKey::kDescribeAcls, v, [v](WireWriter& w) { WriteAclFilter(w, v); });
}

inline std::string CreateAclsFrame(int16_t v) {
  return Frame(ApiKey::kCreateAcls, v, [v](WireWriter& w) {
    w.ArrayCount(1);
    w.Int8(3);  // GROUP
    w.String("app-");
    if (v >= 1) w.Int8(4);  // PREFIXED
    w.String("User:alice");
    w.String("10.0.0.1");
    w.Int8(8);  // DESCRIBE
    w.Int8(2);  // DENY
  });
}

inline std::string DeleteAclsFrame(int16_t v) {
  return Frame(ApiKey::kDeleteAcls, v, [v](WireWriter& w) {
    w.ArrayCount(2);
    WriteAclFilter(w, v);
    WriteAclFilter(w, v);
  });
}

// --- The admin APIs of issue 13 ---------------------------------------------------------------

inline std::string DeleteRecordsFrame(int16_t v) {
  return MaybeFlexibleFrame(ApiKey::kDeleteRecords, v, v >= 2, [&](FlexWriter& f) {
    f.Count(1);
    f.Str("orders");
    f.Count(2);
    f.w.Int32(0);
    f.w.Int64(42);
    f.Tags();
    f.w.Int32(1);
    f.w.Int64(-1);
    f.Tags();
    f.Tags();
    f.w.Int32(30000);
    f.Tags();
  });
}

inline std::string DescribeLogDirsFrame(int16_t v) {
  return MaybeFlexibleFrame(ApiKey::kDescribeLogDirs, v, v >= 2, [&](FlexWriter& f) {
    if (v == 0) {
      f.NullCount();  // every partition
    } else {
      f.Count(1);
      f.Str("orders");
      f.Count(2);
      f.w.Int32(0);
      f.w.Int32(3);
      f.Tags();
    }
    f.Tags();
  });
}

inline std::string CreatePartitionsFrame(int16_t v) {
  return MaybeFlexibleFrame(ApiKey::kCreatePartitions, v, v >= 2, [&](FlexWriter& f) {
    f.Count(2);
    f.Str("orders");
    f.w.Int32(4);
    f.NullCount();  // the broker assigns
    f.Tags();
    f.Str("events");
    f.w.Int32(3);
    f.Count(1);
    f.Count(1);
    f.w.Int32(1);
    f.Tags();  // the assignment
    f.Tags();  // the topic
    f.w.Int32(30000);
    f.w.Bool(v >= 1);
    f.Tags();
  });
}

inline std::string IncrementalAlterConfigsFrame(int16_t v) {
  return MaybeFlexibleFrame(ApiKey::kIncrementalAlterConfigs, v, v >= 1, [&](FlexWriter& f) {
    f.Count(1);
    f.w.Int8(2);
    f.Str("orders");
    f.Count(2);
    f.Str("retention.ms");
    f.w.Int8(0);
    f.NullableStr(std::string("1000"));
    f.Tags();
    f.Str("cleanup.policy");
    f.w.Int8(1);
    f.NullableStr(std::nullopt);
    f.Tags();
    f.Tags();
    f.w.Bool(true);
    f.Tags();
  });
}

inline std::string OffsetDeleteFrame(int16_t v) {
  return Frame(ApiKey::kOffsetDelete, v, [](WireWriter& w) {
    w.String("g1");
    w.ArrayCount(1);
    w.String("orders");
    w.ArrayCount(2);
    w.Int32(0);
    w.Int32(5);
  });
}

inline std::string DescribeClusterFrame(int16_t v) {
  return FlexibleFrame(ApiKey::kDescribeCluster, v, [v](WireWriter& w) {
    w.Bool(true);
    if (v >= 1) w.Int8(1);
    w.EmptyTaggedFields();
  });
}

inline std::string DescribeProducersFrame(int16_t v) {
  return FlexibleFrame(ApiKey::kDescribeProducers, v, [](WireWriter& w) {
    w.CompactArrayCount(1);
    w.CompactString("orders");
    w.CompactArrayCount(2);
    w.Int32(0);
    w.Int32(2);
    w.EmptyTaggedFields();
    w.EmptyTaggedFields();
  });
}

struct FrameCase {
  std::string name;
  std::string frame;
};

// One valid frame per supported API at its lowest and highest version (the fuzz seeds too).
inline std::vector<FrameCase> AllFrames() {
  std::vector<FrameCase> out;
  using Builder = std::string (*)(int16_t);
  const std::vector<std::pair<ApiKey, Builder>> builders = {
      {ApiKey::kProduce, ProduceFrame},
      {ApiKey::kFetch, FetchFrame},
      {ApiKey::kListOffsets, ListOffsetsFrame},
      {ApiKey::kMetadata, MetadataFrame},
      {ApiKey::kOffsetCommit, OffsetCommitFrame},
      {ApiKey::kOffsetFetch, OffsetFetchFrame},
      {ApiKey::kFindCoordinator, FindCoordinatorFrame},
      {ApiKey::kJoinGroup, JoinGroupFrame},
      {ApiKey::kHeartbeat, HeartbeatFrame},
      {ApiKey::kLeaveGroup, LeaveGroupFrame},
      {ApiKey::kSyncGroup, SyncGroupFrame},
      {ApiKey::kDescribeGroups, DescribeGroupsFrame},
      {ApiKey::kListGroups, ListGroupsFrame},
      {ApiKey::kApiVersions, ApiVersionsFrame},
      {ApiKey::kCreateTopics, CreateTopicsFrame},
      {ApiKey::kDeleteTopics, DeleteTopicsFrame},
      {ApiKey::kInitProducerId, InitProducerIdFrame},
      {ApiKey::kDescribeConfigs, DescribeConfigsFrame},
      {ApiKey::kDeleteGroups, DeleteGroupsFrame},
      {ApiKey::kAlterConfigs, AlterConfigsFrame},
      {ApiKey::kDescribeAcls, DescribeAclsFrame},
      {ApiKey::kCreateAcls, CreateAclsFrame},
      {ApiKey::kDeleteAcls, DeleteAclsFrame},
      {ApiKey::kSaslHandshake, SaslHandshakeFrame},
      {ApiKey::kSaslAuthenticate, SaslAuthenticateFrame},
      {ApiKey::kDescribeClientQuotas, DescribeClientQuotasFrame},
      {ApiKey::kDescribeUserScramCredentials, DescribeUserScramCredentialsFrame},
      {ApiKey::kAlterUserScramCredentials, AlterUserScramCredentialsFrame},
      {ApiKey::kDeleteRecords, DeleteRecordsFrame},
      {ApiKey::kDescribeLogDirs, DescribeLogDirsFrame},
      {ApiKey::kCreatePartitions, CreatePartitionsFrame},
      {ApiKey::kIncrementalAlterConfigs, IncrementalAlterConfigsFrame},
      {ApiKey::kOffsetDelete, OffsetDeleteFrame},
      {ApiKey::kDescribeCluster, DescribeClusterFrame},
      {ApiKey::kDescribeProducers, DescribeProducersFrame},
  };
  EXPECT_EQ(builders.size(), std::size(kSupportedApis));
  for (const auto& [key, build] : builders) {
    const std::optional<SupportedApi> api = FindSupportedApi(static_cast<int16_t>(key));
    if (!api) {
      ADD_FAILURE() << ApiKeyName(key) << " is not in kSupportedApis";
      continue;
    }
    for (int16_t v : {api->min_version, api->max_version}) {
      out.push_back({std::string(ApiKeyName(key)) + "-v" + std::to_string(v), build(v)});
    }
  }
  return out;
}

// Decodes `frame`, expecting success and a body of type T.
template <typename T>
std::optional<T> DecodeAs(const std::string& frame, RequestHeader* header = nullptr) {
  Result<DecodedRequest> r = DecodeRequest(AsBytes(frame));
  if (!r.has_value()) {
    ADD_FAILURE() << r.error().ToString();
    return std::nullopt;
  }
  if (!std::holds_alternative<T>(r->body)) {
    ADD_FAILURE() << "decoded to variant index " << r->body.index();
    return std::nullopt;
  }
  if (header != nullptr) *header = r->header;
  return std::get<T>(std::move(r->body));
}

// The bytes of an OutBuffer, views included.
inline std::string Flatten(const OutBuffer& out) {
  std::vector<iovec> iov;
  out.Iovecs(0, iov);
  std::string s;
  for (const iovec& v : iov) s.append(static_cast<const char*>(v.iov_base), v.iov_len);
  EXPECT_EQ(s.size(), out.size());
  return s;
}

template <typename Response>
inline std::string Encode(int16_t v, const Response& response) {
  OutBuffer out;
  EncodeResponse(v, response, out);
  return Flatten(out);
}

// Builds expected bytes with a WireWriter.
inline std::string Expected(const std::function<void(WireWriter&)>& fill) {
  std::string out;
  WireWriter w(out);
  fill(w);
  return out;
}

// Expected hex with spaces between fields for reading: H("0000 00000002") == "000000000002".
inline std::string H(std::string_view spaced) {
  std::string out;
  for (char c : spaced) {
    if (c != ' ') out.push_back(c);
  }
  return out;
}

inline std::string Hex(std::string_view s) {
  static const char* const kDigits = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    out.push_back(kDigits[(static_cast<unsigned char>(c) >> 4) & 0xf]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

}  // namespace sluice::net::codec_test
