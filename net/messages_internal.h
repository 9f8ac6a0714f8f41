#pragma once

// Helpers shared by the messages*.cc files (the codec of net/messages.h, split by API family).
// Not part of the public API.

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "net/messages.h"
#include "net/wire.h"

namespace sluice::net::internal {

// Minimum wire sizes, for bounding array counts by the bytes left (WireReader::ArrayCount).
inline constexpr size_t kInt32Bytes = 4;
inline constexpr size_t kStringMinBytes = 2;  // an int16 length
inline constexpr size_t kBytesMinBytes = 4;   // an int32 length
inline constexpr size_t kArrayMinBytes = 4;   // an int32 count

// A nullable ARRAY's count: nullopt for -1; otherwise as WireReader::ArrayCount (bounded by the
// bytes left, at least `min_element_bytes` per element; a failure reads as an empty array).
std::optional<int32_t> NullableArrayCount(WireReader& r, size_t min_element_bytes);

// Space reserved up front for an array: the count is bounded by the bytes left, but memory should
// grow with the elements actually read, not with what a hostile count claims.
inline size_t InitialCapacity(int32_t count) {
  return std::min<size_t>(static_cast<size_t>(count), 64);
}

// Reads an ARRAY of elements of at least `min_element_bytes` each with `read_one(r)`, stopping
// at the first error.
template <typename T, typename F>
std::vector<T> ReadArray(WireReader& r, size_t min_element_bytes, F&& read_one) {
  std::vector<T> out;
  const int32_t n = r.ArrayCount(min_element_bytes);
  out.reserve(InitialCapacity(n));
  for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back(read_one(r));
  return out;
}

// A nullable ARRAY: nullopt for the null array (-1).
template <typename T, typename F>
std::optional<std::vector<T>> ReadNullableArray(WireReader& r, size_t min_element_bytes,
                                                F&& read_one) {
  const std::optional<int32_t> n = NullableArrayCount(r, min_element_bytes);
  if (!n) return std::nullopt;
  std::vector<T> out;
  out.reserve(InitialCapacity(*n));
  for (int32_t i = 0; i < *n && r.ok(); ++i) out.push_back(read_one(r));
  return out;
}

std::vector<int32_t> ReadInt32Array(WireReader& r);
std::vector<std::string> ReadStringArray(WireReader& r);
// BYTES copied into a string (opaque group metadata and assignments); null reads as empty.
std::string ReadBytesAsString(WireReader& r);

template <typename T, typename F>
void WriteArray(WireWriter& w, const std::vector<T>& items, F&& write_one) {
  w.ArrayCount(items.size());
  for (const T& item : items) write_one(item);
}
void WriteInt32Array(WireWriter& w, const std::vector<int32_t>& items);
void WriteStringArray(WireWriter& w, const std::vector<std::string>& items);
void WriteBytes(WireWriter& w, const std::string& bytes);
inline void WriteError(WireWriter& w, KafkaError error) { w.Int16(static_cast<int16_t>(error)); }

// Body decoders: read the body of a request at version `v`. Errors stay in `r` (checked once by
// DecodeRequest). messages.cc:
ProduceRequest DecodeProduceRequest(int16_t v, WireReader& r);
FetchRequest DecodeFetchRequest(int16_t v, WireReader& r);
ListOffsetsRequest DecodeListOffsetsRequest(int16_t v, WireReader& r);
MetadataRequest DecodeMetadataRequest(int16_t v, WireReader& r);
InitProducerIdRequest DecodeInitProducerIdRequest(int16_t v, WireReader& r);
// messages_groups.cc:
OffsetCommitRequest DecodeOffsetCommitRequest(int16_t v, WireReader& r);
OffsetFetchRequest DecodeOffsetFetchRequest(int16_t v, WireReader& r);
FindCoordinatorRequest DecodeFindCoordinatorRequest(int16_t v, WireReader& r);
JoinGroupRequest DecodeJoinGroupRequest(int16_t v, WireReader& r);
HeartbeatRequest DecodeHeartbeatRequest(int16_t v, WireReader& r);
LeaveGroupRequest DecodeLeaveGroupRequest(int16_t v, WireReader& r);
SyncGroupRequest DecodeSyncGroupRequest(int16_t v, WireReader& r);
DescribeGroupsRequest DecodeDescribeGroupsRequest(int16_t v, WireReader& r);
ListGroupsRequest DecodeListGroupsRequest(int16_t v, WireReader& r);
ApiVersionsRequest DecodeApiVersionsRequest(int16_t v, WireReader& r);
DeleteGroupsRequest DecodeDeleteGroupsRequest(int16_t v, WireReader& r);
// messages_admin.cc:
CreateTopicsRequest DecodeCreateTopicsRequest(int16_t v, WireReader& r);
DeleteTopicsRequest DecodeDeleteTopicsRequest(int16_t v, WireReader& r);
DescribeConfigsRequest DecodeDescribeConfigsRequest(int16_t v, WireReader& r);
AlterConfigsRequest DecodeAlterConfigsRequest(int16_t v, WireReader& r);
DescribeClientQuotasRequest DecodeDescribeClientQuotasRequest(int16_t v, WireReader& r);
DeleteRecordsRequest DecodeDeleteRecordsRequest(int16_t v, WireReader& r);
DescribeLogDirsRequest DecodeDescribeLogDirsRequest(int16_t v, WireReader& r);
CreatePartitionsRequest DecodeCreatePartitionsRequest(int16_t v, WireReader& r);
IncrementalAlterConfigsRequest DecodeIncrementalAlterConfigsRequest(int16_t v, WireReader& r);
OffsetDeleteRequest DecodeOffsetDeleteRequest(int16_t v, WireReader& r);
DescribeClusterRequest DecodeDescribeClusterRequest(int16_t v, WireReader& r);
DescribeProducersRequest DecodeDescribeProducersRequest(int16_t v, WireReader& r);
// messages_acls.cc:
DescribeAclsRequest DecodeDescribeAclsRequest(int16_t v, WireReader& r);
CreateAclsRequest DecodeCreateAclsRequest(int16_t v, WireReader& r);
DeleteAclsRequest DecodeDeleteAclsRequest(int16_t v, WireReader& r);
// messages_sasl.cc:
SaslHandshakeRequest DecodeSaslHandshakeRequest(int16_t v, WireReader& r);
SaslAuthenticateRequest DecodeSaslAuthenticateRequest(int16_t v, WireReader& r);
DescribeUserScramCredentialsRequest DecodeDescribeUserScramCredentialsRequest(int16_t v,
                                                                              WireReader& r);
AlterUserScramCredentialsRequest DecodeAlterUserScramCredentialsRequest(int16_t v, WireReader& r);

}  // namespace sluice::net::internal
