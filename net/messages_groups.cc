// Codec of the consumer-group APIs: OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup,
// Heartbeat, LeaveGroup, SyncGroup, DescribeGroups, ListGroups, DeleteGroups.

#include <string>

#include "net/messages.h"
#include "net/messages_internal.h"

namespace sluice::net {

using internal::InitialCapacity;
using internal::kArrayMinBytes;
using internal::kBytesMinBytes;
using internal::kStringMinBytes;
using internal::ReadArray;
using internal::ReadBytesAsString;
using internal::WriteArray;
using internal::WriteBytes;
using internal::WriteError;

namespace internal {

OffsetCommitRequest DecodeOffsetCommitRequest(int16_t v, WireReader& r) {
  OffsetCommitRequest req;
  req.group_id = r.String();
  if (v >= 1) {
    req.generation_id = r.Int32();
    req.member_id = r.String();
  }
  if (v >= 7) req.group_instance_id = r.NullableString();
  if (v >= 2 && v <= 4) req.retention_time_ms = r.Int64();
  const size_t partition_bytes = 4 + 8 + (v >= 6 ? 4 : 0) + (v == 1 ? 8 : 0) + kStringMinBytes;
  req.topics = ReadArray<OffsetCommitRequest::Topic>(
      r, kStringMinBytes + kArrayMinBytes, [&](WireReader& r1) {
        OffsetCommitRequest::Topic t;
        t.name = r1.String();
        t.partitions =
            ReadArray<OffsetCommitRequest::Partition>(r1, partition_bytes, [&](WireReader& r2) {
              OffsetCommitRequest::Partition p;
              p.partition_index = r2.Int32();
              p.committed_offset = r2.Int64();
              if (v >= 6) p.committed_leader_epoch = r2.Int32();
              if (v == 1) p.commit_timestamp = r2.Int64();
              p.committed_metadata = r2.NullableString();
              return p;
            });
        return t;
      });
  return req;
}

OffsetFetchRequest DecodeOffsetFetchRequest(int16_t v, WireReader& r) {
  OffsetFetchRequest req;
  req.group_id = r.String();
  auto read_topic = [](WireReader& r1) {
    OffsetFetchRequest::Topic t;
    t.name = r1.String();
    t.partition_indexes = ReadInt32Array(r1);
    return t;
  };
  constexpr size_t kTopicBytes = kStringMinBytes + kArrayMinBytes;
  if (v >= 2) {
    req.topics = ReadNullableArray<OffsetFetchRequest::Topic>(r, kTopicBytes, read_topic);
  } else {
    req.topics = ReadArray<OffsetFetchRequest::Topic>(r, kTopicBytes, read_topic);
  }
  return req;
}

FindCoordinatorRequest DecodeFindCoordinatorRequest(int16_t v, WireReader& r) {
  FindCoordinatorRequest req;
  req.key = r.String();
  if (v >= 1) req.key_type = r.Int8();
  return req;
}

JoinGroupRequest DecodeJoinGroupRequest(int16_t v, WireReader& r) {
  JoinGroupRequest req;
  req.group_id = r.String();
  req.session_timeout_ms = r.Int32();
  if (v >= 1) req.rebalance_timeout_ms = r.Int32();
  req.member_id = r.String();
  if (v >= 5) req.group_instance_id = r.NullableString();
  req.protocol_type = r.String();
  req.protocols = ReadArray<JoinGroupRequest::Protocol>(r, kStringMinBytes + kBytesMinBytes,
                                                        [](WireReader& r1) {
                                                          JoinGroupRequest::Protocol p;
                                                          p.name = r1.String();
                                                          p.metadata = ReadBytesAsString(r1);
                                                          return p;
                                                        });
  return req;
}

HeartbeatRequest DecodeHeartbeatRequest(int16_t v, WireReader& r) {
  HeartbeatRequest req;
  req.group_id = r.String();
  req.generation_id = r.Int32();
  req.member_id = r.String();
  if (v >= 3) req.group_instance_id = r.NullableString();
  return req;
}

LeaveGroupRequest DecodeLeaveGroupRequest(int16_t v, WireReader& r) {
  LeaveGroupRequest req;
  req.group_id = r.String();
  if (v <= 2) {
    req.member_id = r.String();
  } else {
    req.members = ReadArray<LeaveGroupRequest::Member>(r, kStringMinBytes + kStringMinBytes,
                                                       [](WireReader& r1) {
                                                         LeaveGroupRequest::Member m;
                                                         m.member_id = r1.String();
                                                         m.group_instance_id = r1.NullableString();
                                                         return m;
                                                       });
  }
  return req;
}

SyncGroupRequest DecodeSyncGroupRequest(int16_t v, WireReader& r) {
  SyncGroupRequest req;
  req.group_id = r.String();
  req.generation_id = r.Int32();
  req.member_id = r.String();
  if (v >= 3) req.group_instance_id = r.NullableString();
  req.assignments = ReadArray<SyncGroupRequest::Assignment>(r, kStringMinBytes + kBytesMinBytes,
                                                            [](WireReader& r1) {
                                                              SyncGroupRequest::Assignment a;
                                                              a.member_id = r1.String();
                                                              a.assignment = ReadBytesAsString(r1);
                                                              return a;
                                                            });
  return req;
}

DescribeGroupsRequest DecodeDescribeGroupsRequest(int16_t v, WireReader& r) {
  DescribeGroupsRequest req;
  req.groups = ReadStringArray(r);
  if (v >= 3) req.include_authorized_operations = r.Bool();
  return req;
}

// v0-2: an empty body. v3+ (flexible): v4+ the states filter, v5+ the types filter, each a
// COMPACT_ARRAY of COMPACT_STRINGs, then the body's tagged fields.
ListGroupsRequest DecodeListGroupsRequest(int16_t v, WireReader& r) {
  ListGroupsRequest req;
  if (v < 3) return req;
  auto strings = [&r] {
    std::vector<std::string> out;
    const int32_t n = r.CompactArrayCount(1);  // a compact string is at least its length byte
    out.reserve(InitialCapacity(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back(r.CompactString());
    return out;
  };
  if (v >= 4) req.states_filter = strings();
  if (v >= 5) req.types_filter = strings();
  r.SkipTaggedFields();
  return req;
}

DeleteGroupsRequest DecodeDeleteGroupsRequest(int16_t /*v*/, WireReader& r) {
  DeleteGroupsRequest req;
  req.groups_names = ReadStringArray(r);
  return req;
}

}  // namespace internal

void EncodeResponse(int16_t v, const OffsetCommitResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 3) w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.topics, [&](const OffsetCommitResponse::Topic& t) {
    w.String(t.name);
    WriteArray(w, t.partitions, [&](const OffsetCommitResponse::Partition& p) {
      w.Int32(p.partition_index);
      WriteError(w, p.error_code);
    });
  });
}

void EncodeResponse(int16_t v, const OffsetFetchResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 3) w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.topics, [&](const OffsetFetchResponse::Topic& t) {
    w.String(t.name);
    WriteArray(w, t.partitions, [&](const OffsetFetchResponse::Partition& p) {
      w.Int32(p.partition_index);
      w.Int64(p.committed_offset);
      if (v >= 5) w.Int32(p.committed_leader_epoch);
      w.NullableString(p.metadata);
      WriteError(w, p.error_code);
    });
  });
  if (v >= 2) WriteError(w, resp.error_code);
}

void EncodeResponse(int16_t v, const FindCoordinatorResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 1) w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
  if (v >= 1) w.NullableString(resp.error_message);
  w.Int32(resp.node_id);
  w.String(resp.host);
  w.Int32(resp.port);
}

void EncodeResponse(int16_t v, const JoinGroupResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 2) w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
  w.Int32(resp.generation_id);
  w.String(resp.protocol_name);
  w.String(resp.leader);
  w.String(resp.member_id);
  WriteArray(w, resp.members, [&](const JoinGroupResponse::Member& m) {
    w.String(m.member_id);
    if (v >= 5) w.NullableString(m.group_instance_id);
    WriteBytes(w, m.metadata);
  });
}

void EncodeResponse(int16_t v, const HeartbeatResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 1) w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
}

void EncodeResponse(int16_t v, const LeaveGroupResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 1) w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
  if (v >= 3) {
    WriteArray(w, resp.members, [&](const LeaveGroupResponse::Member& m) {
      w.String(m.member_id);
      w.NullableString(m.group_instance_id);
      WriteError(w, m.error_code);
    });
  }
}

void EncodeResponse(int16_t v, const SyncGroupResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 1) w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
  WriteBytes(w, resp.assignment);
}

void EncodeResponse(int16_t v, const DescribeGroupsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 1) w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.groups, [&](const DescribeGroupsResponse::Group& g) {
    WriteError(w, g.error_code);
    w.String(g.group_id);
    w.String(g.group_state);
    w.String(g.protocol_type);
    w.String(g.protocol_data);
    WriteArray(w, g.members, [&](const DescribeGroupsResponse::Member& m) {
      w.String(m.member_id);
      if (v >= 4) w.NullableString(m.group_instance_id);
      w.String(m.client_id);
      w.String(m.client_host);
      WriteBytes(w, m.member_metadata);
      WriteBytes(w, m.member_assignment);
    });
    if (v >= 3) w.Int32(g.authorized_operations);
  });
}

void EncodeResponse(int16_t v, const ListGroupsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  const bool flexible = v >= 3;
  auto string = [&](const std::string& s) { flexible ? w.CompactString(s) : w.String(s); };
  if (flexible) w.EmptyTaggedFields();  // response header v1
  if (v >= 1) w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
  flexible ? w.CompactArrayCount(resp.groups.size()) : w.ArrayCount(resp.groups.size());
  for (const ListGroupsResponse::Group& g : resp.groups) {
    string(g.group_id);
    string(g.protocol_type);
    if (v >= 4) string(g.group_state);
    if (v >= 5) string(g.group_type);
    if (flexible) w.EmptyTaggedFields();
  }
  if (flexible) w.EmptyTaggedFields();
}

void EncodeResponse(int16_t /*v*/, const DeleteGroupsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.results, [&](const DeleteGroupsResponse::GroupResult& g) {
    w.String(g.group_id);
    WriteError(w, g.error_code);
  });
}

}  // namespace sluice::net
