// The Kafka administration APIs of issue 13: IncrementalAlterConfigs, CreatePartitions,
// DeleteRecords, OffsetDelete, DescribeCluster, DescribeLogDirs and DescribeProducers (PROTOCOL.md
// says what each serves). Authorisation as Kafka's KafkaApis asks for it: ALTER_CONFIGS on the
// topic (IncrementalAlterConfigs), ALTER on the topic (CreatePartitions), DELETE on the topic
// (DeleteRecords), DELETE on the group and READ on the topic (OffsetDelete), DESCRIBE on the
// cluster (DescribeLogDirs), READ on the topic (DescribeProducers); DescribeCluster needs none.

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "engine/group_offsets.h"
#include "net/broker_impl.h"
#include "segment/base/log.h"

namespace sluice::net {

using base::ErrorCode;

namespace {

constexpr int8_t kResourceTopic = 2;
constexpr int8_t kResourceBroker = 4;

enum class ConfigOp : int8_t { kSet = 0, kDelete = 1, kAppend = 2, kSubtract = 3 };

std::vector<std::string> SplitList(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= value.size() && !value.empty()) {
    const size_t comma = value.find(',', start);
    const std::string item =
        value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string JoinList(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

const engine::ConfigKeyInfo* FindConfigKey(const std::string& name) {
  for (const engine::ConfigKeyInfo& k : engine::TopicConfigKeys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// The topics a consumer-protocol member subscribes to (ConsumerProtocolSubscription: version,
// then an array of topic names; later fields are not needed). nullopt when it cannot be read.
std::optional<std::vector<std::string>> SubscribedTopics(const std::string& metadata) {
  WireReader r(base::AsBytes(metadata));
  r.Int16();  // version
  const int32_t n = r.ArrayCount(2);
  std::vector<std::string> topics;
  for (int32_t i = 0; i < n && r.ok(); ++i) topics.push_back(r.String());
  if (!r.ok()) return std::nullopt;
  return topics;
}

}  // namespace

// --- IncrementalAlterConfigs (44) ---------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const IncrementalAlterConfigsRequest& req,
                          Responder& responder) {
  IncrementalAlterConfigsResponse resp;
  const RequestAuth auth = Auth(responder);
  for (const auto& r : req.resources) {
    IncrementalAlterConfigsResponse::Resource result;
    result.resource_type = r.resource_type;
    result.resource_name = r.resource_name;
    auto fail = [&](KafkaError code, std::string message) {
      result.error_code = code;
      result.error_message = std::move(message);
    };
    std::set<std::string> keys;
    bool duplicate = false;
    for (const auto& c : r.configs) duplicate |= !keys.insert(c.name).second;
    if (r.resource_type == kResourceBroker && !auth.AllowedOnCluster(AclOperation::kAlterConfigs)) {
      fail(KafkaError::kClusterAuthorizationFailed, "not authorized to ALTER_CONFIGS the cluster");
    } else if (r.resource_type == kResourceTopic &&
               !auth.Allowed(AclOperation::kAlterConfigs, AclResourceType::kTopic,
                             r.resource_name)) {
      fail(KafkaError::kTopicAuthorizationFailed,
           "not authorized to ALTER_CONFIGS topic '" + r.resource_name + "'");
    } else if (r.resource_type != kResourceTopic) {
      fail(KafkaError::kInvalidRequest, "only topic configs (resource type 2) can be altered");
    } else if (duplicate) {
      fail(KafkaError::kInvalidRequest, "Error due to duplicate config keys");
    } else if (engine::IsInternalTopic(r.resource_name)) {
      fail(KafkaError::kInvalidTopicException,
           "topic '" + r.resource_name + "' is internal and its configuration cannot be changed");
    } else if (auto current = engine_->GetTopicConfig(r.resource_name); !current) {
      fail(KafkaError::kUnknownTopicOrPartition, "unknown topic '" + r.resource_name + "'");
    } else {
      // The topic's own keys, changed by each operation; then validated as a whole and stored as
      // the topic's configuration (defaults plus exactly these keys), as AlterConfigs stores one.
      const auto values = engine::ConfigToMap(*current);
      std::map<std::string, std::string> own;
      for (const std::string& k : current->overrides) own[k] = values.at(k);
      std::optional<std::pair<KafkaError, std::string>> error;
      for (const auto& c : r.configs) {
        const engine::ConfigKeyInfo* key = FindConfigKey(c.name);
        const auto op = static_cast<ConfigOp>(c.config_operation);
        if (c.config_operation < 0 || c.config_operation > 3) {
          error = {KafkaError::kInvalidRequest,
                   "unknown config operation " + std::to_string(c.config_operation)};
        } else if (key == nullptr) {
          error = {KafkaError::kInvalidConfig, "Unknown topic config name: " + c.name};
        } else if (op == ConfigOp::kDelete) {
          own.erase(c.name);
          continue;
        } else if (!c.value) {
          error = {KafkaError::kInvalidRequest,
                   "Null value not supported for topic config " + c.name};
        } else if (op == ConfigOp::kSet) {
          own[c.name] = *c.value;
          continue;
        } else if (key->type != engine::ConfigValueType::kList) {
          error = {KafkaError::kInvalidConfig,
                   std::string("Config value ") +
                       (op == ConfigOp::kAppend ? "append" : "subtract") +
                       " is not allowed for config key: " + c.name};
        } else {
          auto it = own.find(c.name);
          std::vector<std::string> list =
              SplitList(it != own.end() ? it->second : values.at(c.name));
          for (const std::string& item : SplitList(*c.value)) {
            auto at = std::find(list.begin(), list.end(), item);
            if (op == ConfigOp::kAppend && at == list.end()) list.push_back(item);
            if (op == ConfigOp::kSubtract && at != list.end()) list.erase(at);
          }
          own[c.name] = JoinList(list);
          continue;
        }
        break;
      }
      if (error) {
        fail(error->first, error->second);
      } else if (auto config = engine::ApplyConfig(engine_->default_topic_config(), own); !config) {
        fail(KafkaError::kInvalidConfig, config.error().context);
      } else if (!req.validate_only) {
        if (Status s = engine_->ReplaceTopicConfig(r.resource_name, own); !s) {
          fail(s.error().code == ErrorCode::kInvalidArgument ? KafkaError::kInvalidConfig
                                                             : ToKafkaError(s.error()),
               s.error().context);
        } else {
          base::LogInfo("serve: altered the config of topic " + r.resource_name +
                        " (incrementally)");
        }
      }
    }
    resp.responses.push_back(std::move(result));
  }
  Reply(responder, h.api_version, resp);
}

// --- CreatePartitions (37) ----------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const CreatePartitionsRequest& req,
                          Responder& responder) {
  CreatePartitionsResponse resp;
  const RequestAuth auth = Auth(responder);
  std::map<std::string, int> named;
  for (const auto& t : req.topics) ++named[t.name];
  for (const auto& t : req.topics) {
    CreatePartitionsResponse::Result result;
    result.name = t.name;
    auto fail = [&](KafkaError code, std::string message) {
      result.error_code = code;
      result.error_message = std::move(message);
    };
    auto described = VisibleTopic(t.name) ? engine_->DescribeTopic(t.name)
                                          : Result<engine::TopicDescription>(base::MakeError(
                                                ErrorCode::kNotFound, "internal topic"));
    if (named[t.name] > 1) {
      fail(KafkaError::kInvalidRequest, "Duplicate topic in request.");
    } else if (!auth.Allowed(AclOperation::kAlter, AclResourceType::kTopic, t.name)) {
      fail(KafkaError::kTopicAuthorizationFailed, "not authorized to ALTER topic '" + t.name + "'");
    } else if (!described) {
      fail(KafkaError::kUnknownTopicOrPartition, "The topic '" + t.name + "' does not exist.");
    } else {
      const int32_t old_count = described->info.partitions;
      bool assignments_ok = true;
      if (t.assignments && t.count > old_count) {
        if (static_cast<int64_t>(t.assignments->size()) != t.count - old_count) {
          assignments_ok = false;
          fail(KafkaError::kInvalidReplicaAssignment,
               "Attempted to add " + std::to_string(t.count - old_count) +
                   " additional partition(s), but only " + std::to_string(t.assignments->size()) +
                   " assignment(s) were specified.");
        } else {
          for (const auto& brokers : *t.assignments) {
            if (brokers != std::vector<int32_t>{options_.node_id}) {
              assignments_ok = false;
              fail(KafkaError::kInvalidReplicaAssignment,
                   "each new partition must be assigned to broker " +
                       std::to_string(options_.node_id) + " alone (the only broker)");
              break;
            }
          }
        }
      }
      if (assignments_ok) {
        const auto mode =
            req.validate_only ? engine::ValidateOnly::kYes : engine::ValidateOnly::kNo;
        if (Status s = engine_->CreatePartitions(t.name, t.count, mode); !s) {
          fail(s.error().code == ErrorCode::kInvalidArgument ? KafkaError::kInvalidPartitions
               : s.error().code == ErrorCode::kNotFound      ? KafkaError::kUnknownTopicOrPartition
                                                             : ToKafkaError(s.error()),
               s.error().context);
        } else if (!req.validate_only) {
          base::LogInfo("serve: topic " + t.name + " grew from " + std::to_string(old_count) +
                        " to " + std::to_string(t.count) + " partitions");
        }
      }
    }
    resp.results.push_back(std::move(result));
  }
  Reply(responder, h.api_version, resp);
}

// --- DeleteRecords (21) -------------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const DeleteRecordsRequest& req,
                          Responder& responder) {
  DeleteRecordsResponse resp;
  const RequestAuth auth = Auth(responder);
  for (const auto& t : req.topics) {
    DeleteRecordsResponse::Topic topic;
    topic.name = t.name;
    const bool may_delete = auth.Allowed(AclOperation::kDelete, AclResourceType::kTopic, t.name);
    for (const auto& p : t.partitions) {
      DeleteRecordsResponse::Partition part;
      part.partition_index = p.partition_index;
      if (!may_delete) {
        part.error_code = KafkaError::kTopicAuthorizationFailed;
      } else if (!VisibleTopic(t.name)) {
        part.error_code = KafkaError::kUnknownTopicOrPartition;
      } else if (p.offset < -1) {
        part.error_code = KafkaError::kOffsetOutOfRange;
      } else if (auto start =
                     engine_->DeleteRecords(t.name, p.partition_index, base::Offset(p.offset));
                 !start) {
        part.error_code = ToKafkaError(start.error());
        if (start.error().code != ErrorCode::kOutOfRange &&
            start.error().code != ErrorCode::kNotFound) {
          base::LogError("serve: DeleteRecords " + t.name + "-" +
                         std::to_string(p.partition_index) + ": " + start.error().ToString());
        }
      } else {
        part.low_watermark = start->value();
      }
      topic.partitions.push_back(part);
    }
    resp.topics.push_back(std::move(topic));
  }
  Reply(responder, h.api_version, resp);
}

// --- OffsetDelete (47) --------------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const OffsetDeleteRequest& req,
                          Responder& responder) {
  OffsetDeleteResponse resp;
  const RequestAuth auth = Auth(responder);
  auto reply_error = [&](KafkaError code) {
    resp.error_code = code;
    Reply(responder, h.api_version, resp);
  };
  if (!auth.Allowed(AclOperation::kDelete, AclResourceType::kGroup, req.group_id)) {
    return reply_error(KafkaError::kGroupAuthorizationFailed);
  }
  auto store = engine_->GroupOffsets();
  if (!store) return reply_error(KafkaError::kCoordinatorNotAvailable);
  const DescribedGroup group = groups_->Describe(req.group_id);
  const bool has_members = !group.members.empty();
  if (!has_members && (*store)->FetchAll(req.group_id).empty()) {
    return reply_error(KafkaError::kGroupIdNotFound);
  }
  if (has_members && group.protocol_type != "consumer") {
    return reply_error(KafkaError::kNonEmptyGroup);
  }
  // The topics the members subscribe to (Kafka refuses deleting their offsets while the group is
  // active). Members' metadata is known once the group is Stable; while it rebalances every
  // topic counts as subscribed.
  std::set<std::string> subscribed;
  bool subscribed_unknown = false;
  for (const DescribedMember& m : group.members) {
    auto topics = m.metadata.empty() ? std::nullopt : SubscribedTopics(m.metadata);
    if (!topics) {
      subscribed_unknown = true;
      continue;
    }
    subscribed.insert(topics->begin(), topics->end());
  }
  std::vector<std::pair<std::string, int32_t>> doomed;
  for (const auto& t : req.topics) {
    OffsetDeleteResponse::Topic topic;
    topic.name = t.name;
    KafkaError topic_error = KafkaError::kNone;
    if (!auth.Allowed(AclOperation::kRead, AclResourceType::kTopic, t.name)) {
      topic_error = KafkaError::kTopicAuthorizationFailed;
    } else if (!VisibleTopic(t.name) || !engine_->DescribeTopic(t.name)) {
      topic_error = KafkaError::kUnknownTopicOrPartition;
    } else if (has_members && (subscribed_unknown || subscribed.count(t.name) != 0)) {
      topic_error = KafkaError::kGroupSubscribedToTopic;
    }
    for (int32_t p : t.partitions) {
      topic.partitions.push_back({p, topic_error});
      if (topic_error == KafkaError::kNone) doomed.push_back({t.name, p});
    }
    resp.topics.push_back(std::move(topic));
  }
  if (auto deleted = (*store)->DeleteOffsets(req.group_id, doomed); !deleted) {
    base::LogError("serve: OffsetDelete of group " + req.group_id + ": " +
                   deleted.error().ToString());
    for (auto& t : resp.topics) {
      for (auto& p : t.partitions) {
        if (p.error_code == KafkaError::kNone) p.error_code = ToKafkaError(deleted.error());
      }
    }
  } else if (*deleted > 0) {
    base::LogInfo("serve: deleted " + std::to_string(*deleted) + " committed offset(s) of group " +
                  req.group_id);
  }
  Reply(responder, h.api_version, resp);
}

// --- DescribeCluster (60) -----------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const DescribeClusterRequest& req,
                          Responder& responder) {
  DescribeClusterResponse resp;
  resp.endpoint_type = req.endpoint_type;
  if (req.endpoint_type != 1) {
    // Kafka's broker answers UNSUPPORTED_ENDPOINT_TYPE (120) for the controllers' endpoints.
    resp.error_code = static_cast<KafkaError>(120);
    resp.error_message = "The broker does not serve controller endpoints";
    Reply(responder, h.api_version, resp);
    return;
  }
  resp.cluster_id = options_.cluster_id;
  resp.controller_id = options_.node_id;
  resp.brokers.push_back({options_.node_id, AdvertisedHost(responder.session()),
                          AdvertisedPort(responder.session()), std::nullopt});
  if (req.include_cluster_authorized_operations) {
    const RequestAuth auth = Auth(responder);
    int32_t ops = 0;
    for (AclOperation op : {AclOperation::kCreate, AclOperation::kAlter, AclOperation::kDescribe,
                            AclOperation::kClusterAction, AclOperation::kDescribeConfigs,
                            AclOperation::kAlterConfigs, AclOperation::kIdempotentWrite}) {
      if (auth.AllowedOnCluster(op, LogDenial::kNo)) ops |= 1 << static_cast<int>(op);
    }
    resp.cluster_authorized_operations = ops;
  }
  Reply(responder, h.api_version, resp);
}

// --- DescribeLogDirs (35) -----------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const DescribeLogDirsRequest& req,
                          Responder& responder) {
  DescribeLogDirsResponse resp;
  if (!Auth(responder).AllowedOnCluster(AclOperation::kDescribe)) {
    // As Kafka: v3+ says why; older versions get no log directories.
    resp.error_code = KafkaError::kClusterAuthorizationFailed;
    Reply(responder, h.api_version, resp);
    return;
  }
  DescribeLogDirsResponse::Result dir;
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(engine_->data_dir(), ec);
  dir.log_dir = ec ? engine_->data_dir() : abs.lexically_normal().string();
  if (const auto space = std::filesystem::space(engine_->data_dir(), ec); !ec) {
    dir.total_bytes = static_cast<int64_t>(space.capacity);
    dir.usable_bytes = static_cast<int64_t>(space.available);
  }
  // The partitions asked for (null: all of them) that exist here; others are left out, as Kafka
  // leaves out partitions it does not host.
  std::map<std::string, std::set<int32_t>> wanted;
  if (req.topics) {
    for (const auto& t : *req.topics)
      wanted[t.topic].insert(t.partitions.begin(), t.partitions.end());
  }
  for (const engine::TopicInfo& info : engine_->ListTopics()) {
    if (!VisibleTopic(info.name)) continue;
    auto it = wanted.find(info.name);
    if (req.topics && it == wanted.end()) continue;
    DescribeLogDirsResponse::Topic topic;
    topic.name = info.name;
    for (int32_t p = 0; p < info.partitions; ++p) {
      if (req.topics && it->second.count(p) == 0) continue;
      auto stats = engine_->GetPartitionStats(info.name, p);
      if (!stats || stats->offline) continue;
      topic.partitions.push_back({p, static_cast<int64_t>(stats->size_bytes), 0, false});
    }
    if (!topic.partitions.empty()) dir.topics.push_back(std::move(topic));
  }
  resp.results.push_back(std::move(dir));
  Reply(responder, h.api_version, resp);
}

// --- DescribeProducers (61) ---------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const DescribeProducersRequest& req,
                          Responder& responder) {
  DescribeProducersResponse resp;
  const RequestAuth auth = Auth(responder);
  for (const auto& t : req.topics) {
    DescribeProducersResponse::Topic topic;
    topic.name = t.name;
    const bool may_read = auth.Allowed(AclOperation::kRead, AclResourceType::kTopic, t.name);
    for (int32_t p : t.partition_indexes) {
      DescribeProducersResponse::Partition part;
      part.partition_index = p;
      if (!may_read) {
        part.error_code = KafkaError::kTopicAuthorizationFailed;
      } else if (!VisibleTopic(t.name)) {
        part.error_code = KafkaError::kUnknownTopicOrPartition;
      } else if (auto state = engine_->DescribeProducers(t.name, p); !state) {
        part.error_code = ToKafkaError(state.error());
        part.error_message = state.error().context;
      } else {
        for (const engine::ProducerSnapshotEntry& e : state->producers) {
          DescribeProducersResponse::Producer producer;
          producer.producer_id = e.producer_id;
          producer.producer_epoch = e.epoch;
          producer.last_sequence = e.batches.empty() ? -1 : e.batches.back().last_seq;
          producer.last_timestamp = e.last_seen_ms;
          part.active_producers.push_back(producer);
        }
      }
      topic.partitions.push_back(std::move(part));
    }
    resp.topics.push_back(std::move(topic));
  }
  Reply(responder, h.api_version, resp);
}

}  // namespace sluice::net
