// The consumer-group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups. Membership lives in the
// GroupCoordinator; committed offsets in the engine's GroupOffsetStore.

#include <cctype>
#include <set>
#include <string>

#include "engine/group_offsets.h"
#include "net/broker_impl.h"
#include "segment/base/log.h"

namespace sluice::net {

namespace {

constexpr size_t kMaxOffsetMetadataBytes = 4096;  // Kafka offset.metadata.max.bytes

KafkaError FromGroupError(int16_t code) { return static_cast<KafkaError>(code); }

// "127.0.0.1:5555" -> "/127.0.0.1", as Kafka reports client hosts.
std::string ClientHost(const std::string& peer) {
  const auto colon = peer.rfind(':');
  return "/" + (colon == std::string::npos ? peer : peer.substr(0, colon));
}

GroupProtocols ToProtocols(const std::vector<JoinGroupRequest::Protocol>& protocols) {
  GroupProtocols out;
  out.reserve(protocols.size());
  for (const auto& p : protocols) out.emplace_back(p.name, p.metadata);
  return out;
}

}  // namespace

void Broker::Impl::Handle(const RequestHeader& h, const FindCoordinatorRequest& req,
                          Responder& responder) {
  FindCoordinatorResponse resp;
  auto store = engine_->GroupOffsets();
  if (req.key_type != 0) {
    resp.error_code = KafkaError::kCoordinatorNotAvailable;
    resp.error_message = "transactions are not supported";
  } else if (!Auth(responder).Allowed(AclOperation::kDescribe, AclResourceType::kGroup, req.key)) {
    resp.error_code = KafkaError::kGroupAuthorizationFailed;
  } else if (!store) {
    // Committed offsets cannot be read (__consumer_offsets is offline): no group can be
    // coordinated without them. Everything that needs no group keeps working.
    resp.error_code = KafkaError::kCoordinatorNotAvailable;
    resp.error_message = store.error().ToString();
  } else {
    resp.node_id = options_.node_id;
    resp.host = AdvertisedHost(responder.session());
    resp.port = AdvertisedPort(responder.session());
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const JoinGroupRequest& req,
                          Responder& responder) {
  if (!Auth(responder).Allowed(AclOperation::kRead, AclResourceType::kGroup, req.group_id)) {
    JoinGroupResponse resp;
    resp.error_code = KafkaError::kGroupAuthorizationFailed;
    resp.member_id = req.member_id;
    Reply(responder, h.api_version, resp);
    return;
  }
  JoinParams params;
  params.group_id = req.group_id;
  params.session_timeout_ms = req.session_timeout_ms;
  params.rebalance_timeout_ms =
      h.api_version >= 1 ? req.rebalance_timeout_ms : req.session_timeout_ms;
  params.member_id = req.member_id;
  params.group_instance_id = req.group_instance_id;
  params.protocol_type = req.protocol_type;
  params.protocols = ToProtocols(req.protocols);
  params.client_id = h.client_id.value_or("");
  params.client_host = ClientHost(responder.peer());
  params.require_known_member_id = h.api_version >= 4;
  const int16_t version = h.api_version;
  // The answer may come later from another thread; the callback owns the responder.
  auto shared = std::make_shared<Responder>(std::move(responder));
  groups_->Join(std::move(params), [shared, version](JoinResult r) {
    JoinGroupResponse resp;
    resp.error_code = FromGroupError(r.error_code);
    resp.generation_id = r.generation_id;
    resp.protocol_name = r.protocol_name;
    resp.leader = r.leader_id;
    resp.member_id = r.member_id;
    for (auto& m : r.members) {
      resp.members.push_back(
          {std::move(m.member_id), std::move(m.group_instance_id), std::move(m.metadata)});
    }
    Reply(*shared, version, resp);
  });
}

void Broker::Impl::Handle(const RequestHeader& h, const SyncGroupRequest& req,
                          Responder& responder) {
  if (!Auth(responder).Allowed(AclOperation::kRead, AclResourceType::kGroup, req.group_id)) {
    SyncGroupResponse resp;
    resp.error_code = KafkaError::kGroupAuthorizationFailed;
    Reply(responder, h.api_version, resp);
    return;
  }
  SyncParams params;
  params.group_id = req.group_id;
  params.generation_id = req.generation_id;
  params.member_id = req.member_id;
  params.group_instance_id = req.group_instance_id;
  for (const auto& a : req.assignments) params.assignments.emplace_back(a.member_id, a.assignment);
  const int16_t version = h.api_version;
  auto shared = std::make_shared<Responder>(std::move(responder));
  groups_->Sync(std::move(params), [shared, version](SyncResult r) {
    SyncGroupResponse resp;
    resp.error_code = FromGroupError(r.error_code);
    resp.assignment = std::move(r.assignment);
    Reply(*shared, version, resp);
  });
}

void Broker::Impl::Handle(const RequestHeader& h, const HeartbeatRequest& req,
                          Responder& responder) {
  HeartbeatResponse resp;
  if (!Auth(responder).Allowed(AclOperation::kRead, AclResourceType::kGroup, req.group_id)) {
    resp.error_code = KafkaError::kGroupAuthorizationFailed;
  } else {
    resp.error_code = FromGroupError(
        groups_->Heartbeat(req.group_id, req.generation_id, req.member_id, req.group_instance_id));
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const LeaveGroupRequest& req,
                          Responder& responder) {
  if (!Auth(responder).Allowed(AclOperation::kRead, AclResourceType::kGroup, req.group_id)) {
    LeaveGroupResponse resp;
    resp.error_code = KafkaError::kGroupAuthorizationFailed;
    Reply(responder, h.api_version, resp);
    return;
  }
  std::vector<LeavingMember> leaving;
  if (h.api_version >= 3) {
    for (const auto& m : req.members) leaving.push_back({m.member_id, m.group_instance_id});
  } else {
    leaving.push_back({req.member_id, std::nullopt});
  }
  const std::vector<int16_t> errors = groups_->Leave(req.group_id, leaving);
  LeaveGroupResponse resp;
  if (h.api_version >= 3) {
    for (size_t i = 0; i < leaving.size(); ++i) {
      resp.members.push_back(
          {leaving[i].member_id, leaving[i].group_instance_id, FromGroupError(errors[i])});
    }
    // A whole-request error (bad group id, no coordinator) is repeated for every member.
    if (!errors.empty() && (errors[0] == group_error::kInvalidGroupId ||
                            errors[0] == group_error::kCoordinatorNotAvailable)) {
      resp.error_code = FromGroupError(errors[0]);
    }
  } else if (!errors.empty()) {
    resp.error_code = FromGroupError(errors[0]);
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const OffsetCommitRequest& req,
                          Responder& responder) {
  OffsetCommitResponse resp;
  const RequestAuth auth = Auth(responder);
  int16_t group_error = group_error::kNone;
  if (!auth.Allowed(AclOperation::kRead, AclResourceType::kGroup, req.group_id)) {
    group_error = static_cast<int16_t>(KafkaError::kGroupAuthorizationFailed);
  } else if (req.group_id.empty()) {
    group_error = group_error::kInvalidGroupId;
  } else {
    group_error =
        groups_->CheckCommit(req.group_id, req.generation_id, req.member_id, req.group_instance_id);
  }
  std::vector<engine::OffsetCommit> commits;
  std::vector<OffsetCommitResponse::Partition*> committed;  // the results the commit decides
  for (const auto& t : req.topics) {
    OffsetCommitResponse::Topic topic;
    topic.name = t.name;
    topic.partitions.reserve(t.partitions.size());
    const bool may_read = group_error != group_error::kNone ||
                          auth.Allowed(AclOperation::kRead, AclResourceType::kTopic, t.name);
    for (const auto& p : t.partitions) {
      OffsetCommitResponse::Partition& part = topic.partitions.emplace_back();
      part.partition_index = p.partition_index;
      const std::string metadata = p.committed_metadata.value_or("");
      if (group_error != group_error::kNone) {
        part.error_code = FromGroupError(group_error);
      } else if (!may_read) {
        part.error_code = KafkaError::kTopicAuthorizationFailed;
      } else if (!VisibleTopic(t.name) || !engine_->GetPartitionStats(t.name, p.partition_index)) {
        part.error_code = KafkaError::kUnknownTopicOrPartition;
      } else if (metadata.size() > kMaxOffsetMetadataBytes) {
        part.error_code = KafkaError::kOffsetMetadataTooLarge;
      } else {  // a negative offset is stored as given, as Kafka does (GroupOffsetStore::Commit)
        commits.push_back({t.name, p.partition_index, base::Offset(p.committed_offset), metadata});
      }
    }
    resp.topics.push_back(std::move(topic));
  }
  if (!commits.empty()) {
    Status s = engine_->GroupOffsets().and_then(
        [&](engine::GroupOffsetStore* store) { return store->Commit(req.group_id, commits); });
    if (!s) {
      // A full disk fails every commit of every group until space returns.
      static base::RateLimitedLog log(base::LogLevel::kError);
      log.Log("serve: commit of group " + req.group_id + " failed: " + s.error().ToString());
      const KafkaError code = ToKafkaError(s.error());
      for (auto& t : resp.topics) {
        for (auto& p : t.partitions) {
          if (p.error_code == KafkaError::kNone) p.error_code = code;
        }
      }
    }
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const OffsetFetchRequest& req,
                          Responder& responder) {
  OffsetFetchResponse resp;
  const RequestAuth auth = Auth(responder);
  const bool may_describe_group =
      auth.Allowed(AclOperation::kDescribe, AclResourceType::kGroup, req.group_id);
  auto opened = engine_->GroupOffsets();
  if (!may_describe_group || !opened) {
    // One error for the whole request: at the top (v2+) and on every partition asked for.
    const KafkaError code = !may_describe_group ? KafkaError::kGroupAuthorizationFailed
                                                : KafkaError::kCoordinatorNotAvailable;
    if (may_describe_group) {
      base::LogError("serve: offsets of group " + req.group_id + ": " + opened.error().ToString());
    }
    resp.error_code = code;
    if (req.topics) {
      for (const auto& t : *req.topics) {
        OffsetFetchResponse::Topic topic;
        topic.name = t.name;
        for (int32_t index : t.partition_indexes) {
          OffsetFetchResponse::Partition p;
          p.partition_index = index;
          p.metadata = "";
          p.error_code = code;
          topic.partitions.push_back(std::move(p));
        }
        resp.topics.push_back(std::move(topic));
      }
    }
    Reply(responder, h.api_version, resp);
    return;
  }
  const engine::GroupOffsetStore& store = **opened;
  auto partition = [](int32_t index, const std::optional<engine::CommittedOffset>& c) {
    OffsetFetchResponse::Partition p;
    p.partition_index = index;
    p.metadata = "";
    if (c) {
      p.committed_offset = c->offset.value();
      p.metadata = c->metadata;
    }
    return p;
  };
  if (!req.topics) {  // v2+: every committed offset of the group
    std::map<std::string, OffsetFetchResponse::Topic> by_topic;
    for (const auto& [key, committed] : store.FetchAll(req.group_id)) {
      // Topics the client may not DESCRIBE are left out, as in Kafka.
      if (!auth.Allowed(AclOperation::kDescribe, AclResourceType::kTopic, key.first,
                        LogDenial::kNo)) {
        continue;
      }
      auto& topic = by_topic[key.first];
      topic.name = key.first;
      topic.partitions.push_back(partition(key.second, committed));
    }
    for (auto& [name, topic] : by_topic) resp.topics.push_back(std::move(topic));
  } else {
    for (const auto& t : *req.topics) {
      OffsetFetchResponse::Topic topic;
      topic.name = t.name;
      const bool may_describe =
          auth.Allowed(AclOperation::kDescribe, AclResourceType::kTopic, t.name);
      for (int32_t index : t.partition_indexes) {
        if (!may_describe) {
          OffsetFetchResponse::Partition p = partition(index, std::nullopt);
          p.error_code = KafkaError::kTopicAuthorizationFailed;
          topic.partitions.push_back(std::move(p));
          continue;
        }
        topic.partitions.push_back(partition(index, store.Fetch(req.group_id, t.name, index)));
      }
      resp.topics.push_back(std::move(topic));
    }
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const DescribeGroupsRequest& req,
                          Responder& responder) {
  DescribeGroupsResponse resp;
  auto store = engine_->GroupOffsets();
  const auto with_offsets = store ? (*store)->ListGroups() : std::vector<std::string>();
  const RequestAuth auth = Auth(responder);
  for (const std::string& id : req.groups) {
    if (!auth.Allowed(AclOperation::kDescribe, AclResourceType::kGroup, id)) {
      DescribeGroupsResponse::Group g;
      g.error_code = KafkaError::kGroupAuthorizationFailed;
      g.group_id = id;
      resp.groups.push_back(std::move(g));
      continue;
    }
    DescribedGroup d = groups_->Describe(id);
    DescribeGroupsResponse::Group g;
    g.error_code = FromGroupError(d.error_code);
    g.group_id = id;
    g.group_state = d.state;
    // A group known only by its committed offsets is Empty, as in Kafka.
    if (d.state == "Dead" &&
        std::find(with_offsets.begin(), with_offsets.end(), id) != with_offsets.end()) {
      g.group_state = "Empty";
      g.protocol_type = "consumer";
    } else {
      g.protocol_type = d.protocol_type;
    }
    g.protocol_data = d.protocol;
    for (auto& m : d.members) {
      g.members.push_back({std::move(m.member_id), std::move(m.group_instance_id),
                           std::move(m.client_id), std::move(m.client_host), std::move(m.metadata),
                           std::move(m.assignment)});
    }
    resp.groups.push_back(std::move(g));
  }
  Reply(responder, h.api_version, resp);
}

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\n\r\f\v");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\n\r\f\v") - first + 1);
}

// Every group here is a classic one (JoinGroup/SyncGroup): KIP-848's consumer groups are not
// served.
constexpr char kClassicGroupType[] = "classic";

}  // namespace

// ListGroups, with v4's states filter (KIP-518) and v5's types filter (KIP-848) applied as Kafka's
// GroupMetadataManager applies them: an empty filter matches all; states are compared ignoring
// case and surrounding blanks, types ignoring case.
void Broker::Impl::Handle(const RequestHeader& h, const ListGroupsRequest& req,
                          Responder& responder) {
  ListGroupsResponse resp;
  // DESCRIBE on the cluster lists every group; otherwise those the client may DESCRIBE.
  const RequestAuth auth = Auth(responder);
  const bool all = auth.AllowedOnCluster(AclOperation::kDescribe, LogDenial::kNo);
  std::set<std::string> states;
  for (const std::string& s : req.states_filter) states.insert(Lower(Trim(s)));
  bool classic_wanted = req.types_filter.empty();
  for (const std::string& t : req.types_filter) classic_wanted |= Lower(t) == kClassicGroupType;
  auto add = [&](const std::string& id, const std::string& protocol_type,
                 const std::string& state) {
    if (!all &&
        !auth.Allowed(AclOperation::kDescribe, AclResourceType::kGroup, id, LogDenial::kNo)) {
      return;
    }
    if (!states.empty() && states.count(Lower(state)) == 0) return;
    if (!classic_wanted) return;
    resp.groups.push_back({id, protocol_type, state, kClassicGroupType});
  };
  std::set<std::string> listed;
  for (const ListedGroup& g : groups_->List()) {
    if (g.state == "Dead") continue;
    listed.insert(g.group_id);
    add(g.group_id, g.protocol_type, g.state);
  }
  auto store = engine_->GroupOffsets();
  if (!store) resp.error_code = KafkaError::kCoordinatorNotAvailable;
  for (const std::string& id : store ? (*store)->ListGroups() : std::vector<std::string>()) {
    // A group known only by its committed offsets is Empty, as in Kafka.
    if (listed.insert(id).second) add(id, "consumer", "Empty");
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const DeleteGroupsRequest& req,
                          Responder& responder) {
  DeleteGroupsResponse resp;
  const RequestAuth auth = Auth(responder);
  for (const std::string& id : req.groups_names) {
    DeleteGroupsResponse::GroupResult r;
    r.group_id = id;
    if (!auth.Allowed(AclOperation::kDelete, AclResourceType::kGroup, id)) {
      r.error_code = KafkaError::kGroupAuthorizationFailed;
      resp.results.push_back(std::move(r));
      continue;
    }
    const int16_t code = groups_->Delete(id);
    if (code == group_error::kNone || code == group_error::kGroupIdNotFound) {
      Status s = engine_->GroupOffsets().and_then(
          [&](engine::GroupOffsetStore* store) { return store->DeleteGroup(id); });
      if (s) {
        r.error_code = KafkaError::kNone;
        base::LogInfo("serve: deleted group " + id);
      } else if (s.error().code == base::ErrorCode::kNotFound) {
        r.error_code = FromGroupError(code);
      } else {
        r.error_code = ToKafkaError(s.error());
      }
    } else {
      r.error_code = FromGroupError(code);
    }
    resp.results.push_back(std::move(r));
  }
  Reply(responder, h.api_version, resp);
}

}  // namespace sluice::net
