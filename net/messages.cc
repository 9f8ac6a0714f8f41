// The request header, DecodeRequest's dispatch, the shared helpers of messages_internal.h, and the
// codec of the data-path APIs (Produce, Fetch, ListOffsets, Metadata, ApiVersions,
// InitProducerId). Group APIs are in messages_groups.cc, topic admin in messages_admin.cc.

#include "net/messages.h"

#include <algorithm>
#include <string>
#include <utility>

#include "net/messages_internal.h"
#include "segment/base/check.h"

namespace sluice::net {

using internal::InitialCapacity;
using internal::kArrayMinBytes;
using internal::kBytesMinBytes;
using internal::kInt32Bytes;
using internal::kStringMinBytes;
using internal::ReadArray;
using internal::WriteArray;
using internal::WriteError;

namespace internal {

std::optional<int32_t> NullableArrayCount(WireReader& r, size_t min_element_bytes) {
  const int32_t n = r.Int32();
  if (!r.ok()) return 0;
  if (n == -1) return std::nullopt;
  if (n < -1) {
    r.Fail("array count " + std::to_string(n));
    return 0;
  }
  if (static_cast<size_t>(n) > r.remaining() / (min_element_bytes == 0 ? 1 : min_element_bytes)) {
    r.Fail("array count " + std::to_string(n) + " exceeds the " + std::to_string(r.remaining()) +
           " bytes left");
    return 0;
  }
  return n;
}

std::vector<int32_t> ReadInt32Array(WireReader& r) {
  return ReadArray<int32_t>(r, kInt32Bytes, [](WireReader& rr) { return rr.Int32(); });
}

std::vector<std::string> ReadStringArray(WireReader& r) {
  return ReadArray<std::string>(r, kStringMinBytes, [](WireReader& rr) { return rr.String(); });
}

std::string ReadBytesAsString(WireReader& r) { return std::string(base::AsString(r.BytesField())); }

void WriteInt32Array(WireWriter& w, const std::vector<int32_t>& items) {
  w.ArrayCount(items.size());
  for (int32_t v : items) w.Int32(v);
}

void WriteStringArray(WireWriter& w, const std::vector<std::string>& items) {
  w.ArrayCount(items.size());
  for (const std::string& s : items) w.String(s);
}

void WriteBytes(WireWriter& w, const std::string& bytes) { w.BytesField(base::AsBytes(bytes)); }

}  // namespace internal

namespace {

// An unsigned varint (flexible versions' counts, tags and sizes) at `data[pos]`, at most 5 bytes.
std::optional<uint32_t> UnsignedVarint(Bytes data, size_t& pos) {
  uint32_t v = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (pos >= data.size()) return std::nullopt;
    const auto b = static_cast<uint8_t>(data[pos++]);
    if (shift == 28 && (b & 0xf0) != 0) return std::nullopt;  // more than 32 bits
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return std::nullopt;
}

// The length of the tagged-field section at the start of `data`, or nullopt if it is malformed.
std::optional<size_t> TaggedFieldsSize(Bytes data) {
  size_t pos = 0;
  const std::optional<uint32_t> count = UnsignedVarint(data, pos);
  if (!count) return std::nullopt;
  for (uint32_t i = 0; i < *count; ++i) {
    if (!UnsignedVarint(data, pos)) return std::nullopt;  // tag
    const std::optional<uint32_t> size = UnsignedVarint(data, pos);
    if (!size || *size > data.size() - pos) return std::nullopt;
    pos += *size;
  }
  return pos;
}

constexpr int16_t kApiVersionsFirstFlexible = 3;

std::string DescribeApi(int16_t api_key, int16_t api_version) {
  const std::optional<SupportedApi> api = FindSupportedApi(api_key);
  if (!api) {
    return "unknown api key " + std::to_string(api_key) + " (version " +
           std::to_string(api_version) + ")";
  }
  return std::string(ApiKeyName(api->key)) + " (api key " + std::to_string(api_key) + ") version " +
         std::to_string(api_version) + "; supported " + std::to_string(api->min_version) + "-" +
         std::to_string(api->max_version);
}

Request DecodeBody(ApiKey key, int16_t v, WireReader& r) {
  switch (key) {
    case ApiKey::kProduce:
      return internal::DecodeProduceRequest(v, r);
    case ApiKey::kFetch:
      return internal::DecodeFetchRequest(v, r);
    case ApiKey::kListOffsets:
      return internal::DecodeListOffsetsRequest(v, r);
    case ApiKey::kMetadata:
      return internal::DecodeMetadataRequest(v, r);
    case ApiKey::kOffsetCommit:
      return internal::DecodeOffsetCommitRequest(v, r);
    case ApiKey::kOffsetFetch:
      return internal::DecodeOffsetFetchRequest(v, r);
    case ApiKey::kFindCoordinator:
      return internal::DecodeFindCoordinatorRequest(v, r);
    case ApiKey::kJoinGroup:
      return internal::DecodeJoinGroupRequest(v, r);
    case ApiKey::kHeartbeat:
      return internal::DecodeHeartbeatRequest(v, r);
    case ApiKey::kLeaveGroup:
      return internal::DecodeLeaveGroupRequest(v, r);
    case ApiKey::kSyncGroup:
      return internal::DecodeSyncGroupRequest(v, r);
    case ApiKey::kDescribeGroups:
      return internal::DecodeDescribeGroupsRequest(v, r);
    case ApiKey::kListGroups:
      return internal::DecodeListGroupsRequest(v, r);
    case ApiKey::kApiVersions:
      return internal::DecodeApiVersionsRequest(v, r);
    case ApiKey::kCreateTopics:
      return internal::DecodeCreateTopicsRequest(v, r);
    case ApiKey::kDeleteTopics:
      return internal::DecodeDeleteTopicsRequest(v, r);
    case ApiKey::kInitProducerId:
      return internal::DecodeInitProducerIdRequest(v, r);
    case ApiKey::kDescribeConfigs:
      return internal::DecodeDescribeConfigsRequest(v, r);
    case ApiKey::kDeleteGroups:
      return internal::DecodeDeleteGroupsRequest(v, r);
    case ApiKey::kAlterConfigs:
      return internal::DecodeAlterConfigsRequest(v, r);
    case ApiKey::kDescribeAcls:
      return internal::DecodeDescribeAclsRequest(v, r);
    case ApiKey::kCreateAcls:
      return internal::DecodeCreateAclsRequest(v, r);
    case ApiKey::kDeleteAcls:
      return internal::DecodeDeleteAclsRequest(v, r);
    case ApiKey::kSaslHandshake:
      return internal::DecodeSaslHandshakeRequest(v, r);
    case ApiKey::kSaslAuthenticate:
      return internal::DecodeSaslAuthenticateRequest(v, r);
    case ApiKey::kDescribeClientQuotas:
      return internal::DecodeDescribeClientQuotasRequest(v, r);
    case ApiKey::kDescribeUserScramCredentials:
      return internal::DecodeDescribeUserScramCredentialsRequest(v, r);
    case ApiKey::kAlterUserScramCredentials:
      return internal::DecodeAlterUserScramCredentialsRequest(v, r);
    case ApiKey::kDeleteRecords:
      return internal::DecodeDeleteRecordsRequest(v, r);
    case ApiKey::kDescribeLogDirs:
      return internal::DecodeDescribeLogDirsRequest(v, r);
    case ApiKey::kCreatePartitions:
      return internal::DecodeCreatePartitionsRequest(v, r);
    case ApiKey::kIncrementalAlterConfigs:
      return internal::DecodeIncrementalAlterConfigsRequest(v, r);
    case ApiKey::kOffsetDelete:
      return internal::DecodeOffsetDeleteRequest(v, r);
    case ApiKey::kDescribeCluster:
      return internal::DecodeDescribeClusterRequest(v, r);
    case ApiKey::kDescribeProducers:
      return internal::DecodeDescribeProducersRequest(v, r);
  }
  // Unreachable: DecodeRequest only dispatches keys of kSupportedApis.
  SLUICE_CHECK(false, "no decoder for a supported api key");
  return ApiVersionsRequest{};
}

}  // namespace

// --- Header and dispatch -----------------------------------------------------------------------

Result<RequestHeader> DecodeRequestHeader(WireReader& reader) {
  RequestHeader h;
  h.api_key = reader.Int16();
  h.api_version = reader.Int16();
  h.correlation_id = reader.Int32();
  h.client_id = reader.NullableString();  // int16 length even in header v2
  RETURN_IF_ERROR(reader.status("request header"));
  if (h.api_key == static_cast<int16_t>(ApiKey::kApiVersions) &&
      h.api_version >= kApiVersionsFirstFlexible) {
    // Header v2 ends in tagged fields. Skip them when well formed; otherwise leave them (the body
    // of a flexible ApiVersions request is not parsed) rather than refuse the request.
    if (const std::optional<size_t> n = TaggedFieldsSize(reader.rest())) reader.Skip(*n);
  } else if (IsFlexibleVersion(h.api_key, h.api_version) &&
             IsSupportedVersion(h.api_key, h.api_version)) {
    // Header v2 of a flexible version we serve (one we do not is refused on its header v1 part).
    reader.SkipTaggedFields();
    RETURN_IF_ERROR(reader.status("request header tagged fields"));
  }
  return h;
}

bool IsFlexibleVersion(int16_t api_key, int16_t api_version) {
  switch (static_cast<ApiKey>(api_key)) {
    case ApiKey::kApiVersions:
      return api_version >= kApiVersionsFirstFlexible;
    case ApiKey::kSaslAuthenticate:
      return api_version >= 2;
    case ApiKey::kDescribeClientQuotas:
      return api_version >= 1;
    case ApiKey::kDescribeUserScramCredentials:
    case ApiKey::kAlterUserScramCredentials:
    case ApiKey::kDescribeCluster:
    case ApiKey::kDescribeProducers:
      return true;
    case ApiKey::kListOffsets:
      return api_version >= 6;
    case ApiKey::kDeleteRecords:
    case ApiKey::kDescribeLogDirs:
    case ApiKey::kCreatePartitions:
      return api_version >= 2;
    case ApiKey::kIncrementalAlterConfigs:
      return api_version >= 1;
    case ApiKey::kListGroups:
      return api_version >= 3;
    case ApiKey::kCreateTopics:
      return api_version >= 5;
    default:
      return false;  // every other version we serve is below its API's first flexible one
  }
}

Result<RequestHeader> PeekRequestHeader(Bytes frame) {
  WireReader reader(frame);
  return DecodeRequestHeader(reader);
}

Result<DecodedRequest> DecodeRequest(Bytes frame) {
  WireReader r(frame);
  ASSIGN_OR_RETURN(RequestHeader header, DecodeRequestHeader(r));
  const int16_t v = header.api_version;
  const std::optional<SupportedApi> api = FindSupportedApi(header.api_key);
  if (api && api->key == ApiKey::kApiVersions && v > api->max_version) {
    // KIP-511: answered with the fallback; the (flexible) body is not parsed.
    return DecodedRequest{std::move(header), ApiVersionsRequest{}};
  }
  if (!api || v < api->min_version || v > api->max_version) {
    return base::MakeError(base::ErrorCode::kUnsupportedVersion,
                           "unsupported request: " + DescribeApi(header.api_key, v));
  }
  Request body = DecodeBody(api->key, v, r);
  const std::string what =
      std::string(ApiKeyName(api->key)) + " request v" + std::to_string(v) + " body";
  RETURN_IF_ERROR(r.status(what));
  // librdkafka 2.0.x sends ListGroups v4 with a byte after the body, which Kafka ignores (its
  // parser does not look past the fields it knows); so does sluice, for that request only.
  if (r.remaining() != 0 && !(api->key == ApiKey::kListGroups && r.remaining() <= 4)) {
    return base::MakeError(base::ErrorCode::kInvalidArgument,
                           "malformed " + what + ": " + std::to_string(r.remaining()) +
                               " bytes after its end at byte " + std::to_string(r.position()));
  }
  return DecodedRequest{std::move(header), std::move(body)};
}

// --- Produce -----------------------------------------------------------------------------------

namespace internal {

ProduceRequest DecodeProduceRequest(int16_t v, WireReader& r) {
  ProduceRequest req;
  if (v >= 3) req.transactional_id = r.NullableString();
  req.acks = r.Int16();
  req.timeout_ms = r.Int32();
  req.topics =
      ReadArray<ProduceRequest::Topic>(r, kStringMinBytes + kArrayMinBytes, [](WireReader& r1) {
        ProduceRequest::Topic t;
        t.name = r1.String();
        t.partitions = ReadArray<ProduceRequest::Partition>(r1, kInt32Bytes + kBytesMinBytes,
                                                            [](WireReader& r2) {
                                                              ProduceRequest::Partition p;
                                                              p.index = r2.Int32();
                                                              p.records = r2.NullableBytes();
                                                              return p;
                                                            });
        return t;
      });
  return req;
}

}  // namespace internal

void EncodeResponse(int16_t v, const ProduceResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  WriteArray(w, resp.responses, [&](const ProduceResponse::Topic& t) {
    w.String(t.name);
    WriteArray(w, t.partitions, [&](const ProduceResponse::Partition& p) {
      w.Int32(p.index);
      WriteError(w, p.error_code);
      w.Int64(p.base_offset);
      if (v >= 2) w.Int64(p.log_append_time_ms);
      if (v >= 5) w.Int64(p.log_start_offset);
      if (v >= 8) {
        WriteArray(w, p.record_errors, [&](const ProduceResponse::RecordError& e) {
          w.Int32(e.batch_index);
          w.NullableString(e.batch_index_error_message);
        });
        w.NullableString(p.error_message);
      }
    });
  });
  if (v >= 1) w.Int32(resp.throttle_time_ms);
}

// --- Fetch -------------------------------------------------------------------------------------

namespace internal {

FetchRequest DecodeFetchRequest(int16_t v, WireReader& r) {
  FetchRequest req;
  req.replica_id = r.Int32();
  req.max_wait_ms = r.Int32();
  req.min_bytes = r.Int32();
  if (v >= 3) req.max_bytes = r.Int32();
  if (v >= 4) req.isolation_level = r.Int8();
  if (v >= 7) {
    req.session_id = r.Int32();
    req.session_epoch = r.Int32();
  }
  const size_t partition_bytes = 4 + (v >= 9 ? 4 : 0) + 8 + (v >= 5 ? 8 : 0) + 4;
  req.topics =
      ReadArray<FetchRequest::Topic>(r, kStringMinBytes + kArrayMinBytes, [&](WireReader& r1) {
        FetchRequest::Topic t;
        t.topic = r1.String();
        t.partitions = ReadArray<FetchRequest::Partition>(r1, partition_bytes, [&](WireReader& r2) {
          FetchRequest::Partition p;
          p.partition = r2.Int32();
          if (v >= 9) p.current_leader_epoch = r2.Int32();
          p.fetch_offset = r2.Int64();
          if (v >= 5) p.log_start_offset = r2.Int64();
          p.partition_max_bytes = r2.Int32();
          return p;
        });
        return t;
      });
  if (v >= 7) {
    req.forgotten_topics_data = ReadArray<FetchRequest::ForgottenTopic>(
        r, kStringMinBytes + kArrayMinBytes, [](WireReader& r1) {
          FetchRequest::ForgottenTopic t;
          t.topic = r1.String();
          t.partitions = ReadInt32Array(r1);
          return t;
        });
  }
  if (v >= 11) req.rack_id = r.String();
  return req;
}

}  // namespace internal

void EncodeResponse(int16_t v, const FetchResponse& resp, OutBuffer& out) {
  // A new writer after every AppendView: an older one would append before the view.
  {
    WireWriter w = out.writer();
    if (v >= 1) w.Int32(resp.throttle_time_ms);
    if (v >= 7) {
      WriteError(w, resp.error_code);
      w.Int32(resp.session_id);
    }
    w.ArrayCount(resp.responses.size());
  }
  for (const FetchResponse::Topic& t : resp.responses) {
    {
      WireWriter w = out.writer();
      w.String(t.topic);
      w.ArrayCount(t.partitions.size());
    }
    for (const FetchResponse::Partition& p : t.partitions) {
      WireWriter w = out.writer();
      w.Int32(p.partition_index);
      WriteError(w, p.error_code);
      w.Int64(p.high_watermark);
      if (v >= 4) w.Int64(p.last_stable_offset);
      if (v >= 5) w.Int64(p.log_start_offset);
      if (v >= 4) {
        if (!p.aborted_transactions) {
          w.Int32(-1);
        } else {
          WriteArray(w, *p.aborted_transactions, [&](const FetchResponse::AbortedTransaction& a) {
            w.Int64(a.producer_id);
            w.Int64(a.first_offset);
          });
        }
      }
      if (v >= 11) w.Int32(p.preferred_read_replica);
      size_t records_bytes = 0;
      for (Bytes b : p.batches) records_bytes += b.size();
      SLUICE_CHECK(records_bytes <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
                   "fetch response records over 2 GiB");
      w.Int32(static_cast<int32_t>(records_bytes));
      for (Bytes b : p.batches) out.AppendView(b);
    }
  }
}

// --- ListOffsets -------------------------------------------------------------------------------

namespace internal {

ListOffsetsRequest DecodeListOffsetsRequest(int16_t v, WireReader& r) {
  ListOffsetsRequest req;
  const bool flexible = v >= 6;
  req.replica_id = r.Int32();
  if (v >= 2) req.isolation_level = r.Int8();
  const size_t partition_bytes = 4 + (v >= 4 ? 4 : 0) + 8 + (v == 0 ? 4 : 0) + (flexible ? 1 : 0);
  auto read_partition = [&](WireReader& r2) {
    ListOffsetsRequest::Partition p;
    p.partition_index = r2.Int32();
    if (v >= 4) p.current_leader_epoch = r2.Int32();
    p.timestamp = r2.Int64();
    if (v == 0) p.max_num_offsets = r2.Int32();
    if (flexible) r2.SkipTaggedFields();
    return p;
  };
  auto read_topic = [&](WireReader& r1) {
    ListOffsetsRequest::Topic t;
    if (flexible) {
      t.name = r1.CompactString();
      const int32_t n = r1.CompactArrayCount(partition_bytes);
      t.partitions.reserve(InitialCapacity(n));
      for (int32_t i = 0; i < n && r1.ok(); ++i) t.partitions.push_back(read_partition(r1));
      r1.SkipTaggedFields();
    } else {
      t.name = r1.String();
      t.partitions = ReadArray<ListOffsetsRequest::Partition>(r1, partition_bytes, read_partition);
    }
    return t;
  };
  if (flexible) {
    const int32_t n = r.CompactArrayCount(1 + 1 + 1);
    req.topics.reserve(InitialCapacity(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) req.topics.push_back(read_topic(r));
    r.SkipTaggedFields();
  } else {
    req.topics =
        ReadArray<ListOffsetsRequest::Topic>(r, kStringMinBytes + kArrayMinBytes, read_topic);
  }
  return req;
}

}  // namespace internal

void EncodeResponse(int16_t v, const ListOffsetsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  const bool flexible = v >= 6;
  if (flexible) w.EmptyTaggedFields();  // response header v1
  if (v >= 2) w.Int32(resp.throttle_time_ms);
  auto count = [&](size_t n) { flexible ? w.CompactArrayCount(n) : w.ArrayCount(n); };
  count(resp.topics.size());
  for (const ListOffsetsResponse::Topic& t : resp.topics) {
    flexible ? w.CompactString(t.name) : w.String(t.name);
    count(t.partitions.size());
    for (const ListOffsetsResponse::Partition& p : t.partitions) {
      w.Int32(p.partition_index);
      WriteError(w, p.error_code);
      if (v == 0) {
        w.ArrayCount(p.old_style_offsets.size());
        for (int64_t o : p.old_style_offsets) w.Int64(o);
      } else {
        w.Int64(p.timestamp);
        w.Int64(p.offset);
      }
      if (v >= 4) w.Int32(p.leader_epoch);
      if (flexible) w.EmptyTaggedFields();
    }
    if (flexible) w.EmptyTaggedFields();
  }
  if (flexible) w.EmptyTaggedFields();
}

// --- Metadata ----------------------------------------------------------------------------------

namespace internal {

MetadataRequest DecodeMetadataRequest(int16_t v, WireReader& r) {
  MetadataRequest req;
  auto read_name = [](WireReader& r1) { return r1.String(); };
  if (v == 0) {
    std::vector<std::string> names = ReadArray<std::string>(r, kStringMinBytes, read_name);
    if (!names.empty()) req.topics = std::move(names);  // v0: empty = all topics
  } else {
    req.topics = ReadNullableArray<std::string>(r, kStringMinBytes, read_name);
  }
  if (v >= 4) req.allow_auto_topic_creation = r.Bool();
  if (v >= 8) {
    req.include_cluster_authorized_operations = r.Bool();
    req.include_topic_authorized_operations = r.Bool();
  }
  return req;
}

}  // namespace internal

void EncodeResponse(int16_t v, const MetadataResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 3) w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.brokers, [&](const MetadataResponse::Broker& b) {
    w.Int32(b.node_id);
    w.String(b.host);
    w.Int32(b.port);
    if (v >= 1) w.NullableString(b.rack);
  });
  if (v >= 2) w.NullableString(resp.cluster_id);
  if (v >= 1) w.Int32(resp.controller_id);
  WriteArray(w, resp.topics, [&](const MetadataResponse::Topic& t) {
    WriteError(w, t.error_code);
    w.String(t.name);
    if (v >= 1) w.Bool(t.is_internal);
    WriteArray(w, t.partitions, [&](const MetadataResponse::Partition& p) {
      WriteError(w, p.error_code);
      w.Int32(p.partition_index);
      w.Int32(p.leader_id);
      if (v >= 7) w.Int32(p.leader_epoch);
      internal::WriteInt32Array(w, p.replica_nodes);
      internal::WriteInt32Array(w, p.isr_nodes);
      if (v >= 5) internal::WriteInt32Array(w, p.offline_replicas);
    });
    if (v >= 8) w.Int32(t.topic_authorized_operations);
  });
  if (v >= 8) w.Int32(resp.cluster_authorized_operations);
}

// --- ApiVersions -------------------------------------------------------------------------------

bool ValidClientSoftwareField(std::string_view s) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

namespace internal {

ApiVersionsRequest DecodeApiVersionsRequest(int16_t v, WireReader& r) {
  ApiVersionsRequest req;
  if (v < 3) return req;
  // Read from a copy, and the whole body consumed whatever it holds: a body that does not parse
  // is answered (INVALID_REQUEST), as the KIP-511 contract has ApiVersions always answered.
  WireReader body(r.rest());
  r.Skip(r.remaining());
  req.client_software_name = body.CompactString();
  req.client_software_version = body.CompactString();
  body.SkipTaggedFields();
  req.well_formed = body.ok() && body.remaining() == 0;
  return req;
}

}  // namespace internal

std::vector<ApiVersionsResponse::ApiVersion> SupportedApiVersions() {
  std::vector<ApiVersionsResponse::ApiVersion> out;
  for (const SupportedApi& api : kSupportedApis) {
    out.push_back({static_cast<int16_t>(api.key), api.min_version, api.max_version});
  }
  return out;
}

void EncodeResponse(int16_t v, const ApiVersionsResponse& resp, OutBuffer& out) {
  // v3+ is flexible, but its response header is v0 all the same (no tagged fields before the
  // body), so that a client reads the error code whatever version it asked for (KIP-511).
  WireWriter w = out.writer();
  const bool flexible = v >= kApiVersionsFirstFlexible;
  WriteError(w, resp.error_code);
  if (flexible) {
    w.CompactArrayCount(resp.api_keys.size());
  } else {
    w.ArrayCount(resp.api_keys.size());
  }
  for (const ApiVersionsResponse::ApiVersion& a : resp.api_keys) {
    w.Int16(a.api_key);
    w.Int16(a.min_version);
    w.Int16(a.max_version);
    if (flexible) w.EmptyTaggedFields();
  }
  if (v >= 1) w.Int32(resp.throttle_time_ms);
  if (flexible) w.EmptyTaggedFields();  // no supported or finalized features
}

void EncodeApiVersionsFallback(OutBuffer& out) {
  ApiVersionsResponse resp;
  resp.error_code = KafkaError::kUnsupportedVersion;
  resp.api_keys = SupportedApiVersions();
  EncodeResponse(0, resp, out);
}

// --- InitProducerId ----------------------------------------------------------------------------

namespace internal {

InitProducerIdRequest DecodeInitProducerIdRequest(int16_t /*v*/, WireReader& r) {
  InitProducerIdRequest req;
  req.transactional_id = r.NullableString();
  req.transaction_timeout_ms = r.Int32();
  return req;
}

}  // namespace internal

void EncodeResponse(int16_t /*v*/, const InitProducerIdResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
  w.Int64(resp.producer_id);
  w.Int16(resp.producer_epoch);
}

}  // namespace sluice::net
