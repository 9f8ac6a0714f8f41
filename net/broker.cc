#include "net/broker.h"

#include <algorithm>
#include <array>
#include <set>
#include <string>

#include "engine/catalog.h"
#include "engine/config.h"
#include "net/broker_impl.h"
#include "segment/base/log.h"

namespace sluice::net {

using base::ErrorCode;

KafkaError ToKafkaError(const base::Error& error) {
  switch (error.code) {
    case ErrorCode::kNotFound:
      return KafkaError::kUnknownTopicOrPartition;
    case ErrorCode::kOutOfRange:
      return KafkaError::kOffsetOutOfRange;
    case ErrorCode::kInvalidArgument:
      return KafkaError::kCorruptMessage;
    case ErrorCode::kTooLarge:
      return KafkaError::kMessageTooLarge;
    case ErrorCode::kRefused:
      return KafkaError::kPolicyViolation;
    case ErrorCode::kInvalidRecord:
      return KafkaError::kInvalidRecord;
    case ErrorCode::kCorruption:
      return KafkaError::kCorruptMessage;
    case ErrorCode::kProducerFenced:
      return KafkaError::kInvalidProducerEpoch;
    case ErrorCode::kOutOfOrderSequence:
      return KafkaError::kOutOfOrderSequenceNumber;
    case ErrorCode::kClosed:
      return KafkaError::kNotLeaderOrFollower;  // shutting down: the client retries elsewhere
    case ErrorCode::kTimeout:
      return KafkaError::kRequestTimedOut;
    case ErrorCode::kIoError:
    case ErrorCode::kNoSpace:
    case ErrorCode::kPoisoned:
    case ErrorCode::kOffline:
      return KafkaError::kKafkaStorageError;
    default:
      return KafkaError::kUnknownServerError;
  }
}

// --- lifecycle ----------------------------------------------------------------------------------

Result<std::unique_ptr<Broker>> Broker::Start(engine::EngineOptions engine_options,
                                              BrokerOptions options) {
  RETURN_IF_ERROR(Impl::ValidateSaslMechanisms(options.sasl_enabled_mechanisms));
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl* self = impl.get();
  if (self->options_.admin) {
    self->SetNotReady("recovering: opening the data directory and its partitions");
    AdminHttpOptions admin_options = *self->options_.admin;
    admin_options.tick_interval_ms = Impl::kThroughputIntervalMs;
    auto admin = AdminHttpServer::Start(
        admin_options, [self](const HttpRequest& req) { return self->HandleAdmin(req); },
        [self] { self->SampleThroughput(); });
    if (admin) {
      impl->admin_ = std::move(*admin);
      base::LogInfo("serve: admin listening on http://" + self->options_.admin->host + ":" +
                    std::to_string(impl->admin_->port()) +
                    " (the console at /, /livez, /readyz, /metrics, /api/v1/...)");
    } else if (self->options_.admin_bind == AdminBind::kRequired) {
      return std::move(admin).error();
    } else {
      base::LogWarning("serve: no admin listener: " + admin.error().ToString() +
                       "; give --admin-listen HOST:PORT (or none)");
    }
  }
  impl->waiters_ = std::make_unique<FetchWaiters>();
  FetchWaiters* waiters = impl->waiters_.get();
  engine_options.on_data = [waiters](const std::string& topic, int32_t partition) {
    waiters->Notify(topic, partition);
  };
  ASSIGN_OR_RETURN(impl->engine_, engine::Engine::Open(engine_options));
  // A server opens every partition (and the group offsets) before it listens, as Kafka loads its
  // logs, so that what is damaged is reported now rather than at the first request. Damage takes
  // its partition offline and nothing else.
  const auto offline = impl->engine_->OpenAllPartitions();
  for (const auto& [partition, why] : offline) base::LogError("serve: " + why.context);
  if (auto store = impl->engine_->GroupOffsets(); !store) {
    base::LogError("serve: consumer groups are unavailable (COORDINATOR_NOT_AVAILABLE): " +
                   store.error().ToString());
  }
  if (!offline.empty()) {
    base::LogWarning("serve: " + std::to_string(offline.size()) +
                     " partition(s) offline, answering KAFKA_STORAGE_ERROR; `sluice verify` "
                     "shows the damage");
  }
  if (self->options_.authorizer) {
    // Fail closed: ACLs that cannot be read would leave every decision a guess.
    if (auto acls = impl->engine_->Acls(); !acls) {
      impl->engine_->Close().IgnoreError();
      return base::MakeError(acls.error().code,
                             "the ACL authorizer is on but " + acls.error().context);
    }
    impl->authorizer_ = std::make_unique<Authorizer>(*impl->engine_, *self->options_.authorizer);
  }
  GroupCoordinatorOptions group_options;
  group_options.initial_rebalance_delay_ms = self->options_.group_initial_rebalance_delay_ms;
  group_options.min_session_timeout_ms = self->options_.group_min_session_timeout_ms;
  group_options.max_session_timeout_ms = self->options_.group_max_session_timeout_ms;
  group_options.max_group_size = self->options_.group_max_size;
  group_options.max_state_bytes = self->options_.group_max_state_bytes;
  impl->groups_ = std::make_unique<GroupCoordinator>(group_options, impl->engine_->clock());
  impl->server_ = std::make_unique<Server>(
      self->options_.server, [self](std::shared_ptr<const RequestFrame> frame, Responder r) {
        self->Handle(std::move(frame), std::move(r));
      });
  self->SetNotReady("starting the Kafka listeners");
  if (Status s = impl->server_->Start(); !s) {
    impl->groups_->Shutdown();
    impl->waiters_->Stop();
    impl->engine_->Close().IgnoreError();
    return std::move(s).error();
  }
  self->SetReady();
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Broker::~Broker() {
  if (Status s = Stop(); !s) base::LogError("serve: " + s.error().ToString());
}

Status Broker::Stop() {
  if (impl_->stopped_) return {};
  impl_->stopped_ = true;
  // The admin thread keeps answering (/readyz: 503) but no longer reads what is torn down below.
  impl_->SetNotReady("shutting down");
  // Parked fetches and waiting joins answer first (into connections that are about to close),
  // then the server joins its threads, and only then does the engine go away under them.
  impl_->waiters_->Stop();
  impl_->groups_->Shutdown();
  impl_->server_->Stop();
  Status closed = impl_->engine_->Close();
  if (impl_->admin_) impl_->admin_->Stop();
  return closed;
}

uint16_t Broker::port(size_t listener) const { return impl_->server_->port(listener); }
uint16_t Broker::admin_port() const { return impl_->admin_ ? impl_->admin_->port() : 0; }

Status Broker::ReloadTls() { return impl_->server_->ReloadTls(); }
engine::Engine& Broker::engine() { return *impl_->engine_; }

const Listener* Broker::Impl::AdvertisedListener(const Session& session) const {
  for (const Listener& l : options_.advertised) {
    if (l.name == session.listener->name) return &l;
  }
  return nullptr;
}

std::string Broker::Impl::AdvertisedHost(const Session& session) const {
  if (const Listener* adv = AdvertisedListener(session)) return adv->host;
  const std::string& host = session.listener->host;
  return host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host;
}

int32_t Broker::Impl::AdvertisedPort(const Session& session) const {
  if (const Listener* adv = AdvertisedListener(session)) return adv->port;
  return server_->port(session.listener_index);
}

bool Broker::Impl::VisibleTopic(const std::string& name) const {
  return !engine::IsInternalTopic(name);
}

// --- dispatch -----------------------------------------------------------------------------------

void Broker::Impl::Handle(std::shared_ptr<const RequestFrame> frame, Responder responder) {
  if (responder.raw_sasl_token()) {
    HandleRawSaslToken(*frame, responder);
    return;
  }
  auto decoded = DecodeRequest(frame->bytes());
  if (!decoded) {
    // An unknown API, an unsupported version or a malformed request: Kafka closes the connection
    // (the client cannot parse an answer in a version it did not ask for).
    base::LogWarning("serve: " + responder.peer() + ": " + decoded.error().ToString() +
                     "; closing the connection");
    responder.Close();
    return;
  }
  const RequestHeader& header = decoded->header;
  responder.Observe(&requests_, header.api_key, requests_.NowNs());
  if (!responder.session().authenticated && !AllowedBeforeAuthentication(header.api_key)) {
    // Kafka closes a connection on a SASL listener whose first requests are not the SASL ones.
    static base::RateLimitedLog log(base::LogLevel::kWarning, 1000);
    log.Log("serve: " + responder.peer() + ": " + ApiKeyName(static_cast<ApiKey>(header.api_key)) +
            " request before SASL authentication on listener " +
            responder.session().listener->name + "; closing the connection");
    responder.Close();
    return;
  }
  std::visit(
      [&](const auto& request) {
        if constexpr (std::is_same_v<std::decay_t<decltype(request)>, ProduceRequest>) {
          HandleProduce(header, request, frame, responder);
        } else {
          Handle(header, request, responder);
        }
      },
      decoded->body);
}

// --- ApiVersions, Metadata ----------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const ApiVersionsRequest& req,
                          Responder& responder) {
  if (h.api_version > FindSupportedApi(h.api_key)->max_version) {
    // KIP-511: answer in v0 with our versions; the client retries at one of them.
    OutBuffer out;
    EncodeApiVersionsFallback(out);
    responder.Send(std::move(out));
    return;
  }
  ApiVersionsResponse resp;
  if (!req.well_formed ||
      (h.api_version >= 3 && (!ValidClientSoftwareField(req.client_software_name) ||
                              !ValidClientSoftwareField(req.client_software_version)))) {
    // As Kafka answers it: the error and no versions.
    resp.error_code = KafkaError::kInvalidRequest;
  } else {
    resp.api_keys = SupportedApiVersions();
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const MetadataRequest& req,
                          Responder& responder) {
  MetadataResponse resp;
  resp.brokers.push_back({options_.node_id, AdvertisedHost(responder.session()),
                          AdvertisedPort(responder.session()), std::nullopt});
  resp.cluster_id = options_.cluster_id;
  resp.controller_id = options_.node_id;

  const RequestAuth auth = Auth(responder);
  std::vector<std::string> names;
  if (!req.topics) {
    // All topics: those the client may not DESCRIBE are left out, as in Kafka.
    for (const auto& t : engine_->ListTopics()) {
      if (VisibleTopic(t.name) &&
          auth.Allowed(AclOperation::kDescribe, AclResourceType::kTopic, t.name, LogDenial::kNo)) {
        names.push_back(t.name);
      }
    }
  } else {
    names = *req.topics;
  }
  const bool may_create = options_.auto_create_topics && req.allow_auto_topic_creation;
  for (const std::string& name : names) {
    MetadataResponse::Topic topic;
    topic.name = name;
    if (VisibleTopic(name) && engine::ValidateTopicName(name) &&
        !auth.Allowed(AclOperation::kDescribe, AclResourceType::kTopic, name)) {
      topic.error_code = KafkaError::kTopicAuthorizationFailed;
      resp.topics.push_back(std::move(topic));
      continue;
    }
    auto described = engine_->DescribeTopic(name);
    if (!described && described.error().code == ErrorCode::kNotFound && may_create &&
        VisibleTopic(name) && engine::ValidateTopicName(name)) {
      // Auto-creation needs CREATE on the cluster or on the topic.
      if (!auth.AllowedOnCluster(AclOperation::kCreate, LogDenial::kNo) &&
          !auth.Allowed(AclOperation::kCreate, AclResourceType::kTopic, name)) {
        topic.error_code = KafkaError::kTopicAuthorizationFailed;
        resp.topics.push_back(std::move(topic));
        continue;
      }
      Status s = engine_->CreateTopic(name, options_.default_partitions, {});
      if (s) {
        base::LogInfo("serve: auto-created topic " + name + " with " +
                      std::to_string(options_.default_partitions) + " partitions");
      }
      described = engine_->DescribeTopic(name);  // created, or created by a concurrent request
    }
    if (!VisibleTopic(name) || !engine::ValidateTopicName(name)) {
      topic.error_code = KafkaError::kInvalidTopicException;
    } else if (!described) {
      topic.error_code = ToKafkaError(described.error());
    } else {
      for (int32_t p = 0; p < described->info.partitions; ++p) {
        MetadataResponse::Partition part;
        part.partition_index = p;
        part.replica_nodes = {options_.node_id};
        if (described->partitions[static_cast<size_t>(p)].offline) {
          // As Kafka describes a partition whose only replica's log directory failed: no leader,
          // the replica offline. Produce and Fetch to it answer KAFKA_STORAGE_ERROR.
          part.error_code = KafkaError::kLeaderNotAvailable;
          part.leader_id = -1;
          part.offline_replicas = {options_.node_id};
        } else {
          part.leader_id = options_.node_id;
          part.isr_nodes = {options_.node_id};
        }
        topic.partitions.push_back(std::move(part));
      }
    }
    resp.topics.push_back(std::move(topic));
  }
  Reply(responder, h.api_version, resp);
}

// --- DeleteTopics, CreateTopics, DescribeConfigs ------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const DeleteTopicsRequest& req,
                          Responder& responder) {
  DeleteTopicsResponse resp;
  const RequestAuth auth = Auth(responder);
  for (const std::string& name : req.topic_names) {
    DeleteTopicsResponse::TopicResult result;
    result.name = name;
    if (!VisibleTopic(name)) {
      result.error_code = KafkaError::kInvalidTopicException;
    } else if (!auth.Allowed(AclOperation::kDelete, AclResourceType::kTopic, name)) {
      result.error_code = KafkaError::kTopicAuthorizationFailed;
    } else if (Status s = engine_->DeleteTopic(name); !s) {
      result.error_code = ToKafkaError(s.error());
    } else {
      traffic_.Forget(name);
      base::LogInfo("serve: deleted topic " + name);
    }
    resp.responses.push_back(std::move(result));
  }
  Reply(responder, h.api_version, resp);
}

namespace {

constexpr int8_t kResourceTopic = 2;
constexpr int8_t kResourceBroker = 4;
constexpr int8_t kSourceDynamicTopic = 1;
constexpr int8_t kSourceStaticBroker = 4;
constexpr int8_t kSourceDefault = 5;
constexpr int8_t kTypeString = 2;
constexpr int8_t kTypeLong = 5;

bool Wanted(const std::optional<std::vector<std::string>>& keys, const std::string& name) {
  if (!keys) return true;
  for (const auto& k : *keys) {
    if (k == name) return true;
  }
  return false;
}

int8_t ConfigType(const std::string& value) {
  if (value.empty()) return kTypeString;
  for (size_t i = 0; i < value.size(); ++i) {
    if (!(std::isdigit(static_cast<unsigned char>(value[i])) || (i == 0 && value[i] == '-'))) {
      return kTypeString;
    }
  }
  return kTypeLong;
}

// One topic config as Kafka describes it: DYNAMIC_TOPIC_CONFIG when set on the topic (or frozen
// at a value the broker's defaults no longer have), STATIC_BROKER_CONFIG when `serve
// --topic-config` set the broker's default, else DEFAULT_CONFIG; with synonyms, the topic's own
// value, then the broker-wide key's (Kafka's order: most specific first).
DescribeConfigsResponse::Config TopicConfigEntry(const engine::ConfigKeyInfo& key,
                                                 const std::string& value, bool set_on_topic,
                                                 const std::map<std::string, std::string>& defaults,
                                                 const std::map<std::string, std::string>& builtin,
                                                 bool include_synonyms) {
  const std::string& broker_default = defaults.at(key.name);
  const std::string& builtin_default = builtin.at(key.name);
  const bool dynamic = set_on_topic || value != broker_default;
  const bool broker_set = broker_default != builtin_default;
  DescribeConfigsResponse::Config c;
  c.name = key.name;
  c.value = value;
  c.config_source = dynamic      ? kSourceDynamicTopic
                    : broker_set ? kSourceStaticBroker
                                 : kSourceDefault;
  c.is_default = c.config_source == kSourceDefault;
  c.config_type = static_cast<int8_t>(key.type);
  if (include_synonyms) {
    if (dynamic) c.synonyms.push_back({key.name, value, kSourceDynamicTopic});
    const std::string& synonym = key.broker_synonym.empty() ? key.name : key.broker_synonym;
    if (broker_set) c.synonyms.push_back({synonym, broker_default, kSourceStaticBroker});
    if (!key.broker_synonym.empty()) {
      c.synonyms.push_back({key.broker_synonym, builtin_default, kSourceDefault});
    }
  }
  return c;
}

// A topic id (32 hex digits, engine/catalog.h) as Kafka's 16-byte Uuid; all zeros if it is not
// one (topics from before ids existed are given one when the catalog is loaded).
std::array<uint8_t, 16> TopicIdBytes(const std::string& hex) {
  std::array<uint8_t, 16> out{};
  if (hex.size() != 2 * out.size()) return out;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return {};
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string ListenersText(const std::vector<Listener>& listeners) {
  std::string out;
  for (const Listener& l : listeners) out += (out.empty() ? "" : ",") + l.ToString();
  return out;
}

}  // namespace

// CreateTopics. v5+ answers each created (or validated) topic with its partitions, replication
// factor and every config as DescribeConfigs describes it, sorted by name (KIP-525; Kafka's
// ReplicationControlManager), or TOPIC_AUTHORIZATION_FAILED in topic_config_error_code without
// DESCRIBE_CONFIGS on the topic; v7 adds the topic id. A failed topic has none of these.
void Broker::Impl::Handle(const RequestHeader& h, const CreateTopicsRequest& req,
                          Responder& responder) {
  CreateTopicsResponse resp;
  const RequestAuth auth = Auth(responder);
  const bool create_any = auth.AllowedOnCluster(AclOperation::kCreate, LogDenial::kNo);
  const auto defaults = engine::ConfigToMap(engine_->default_topic_config());
  const auto builtin = engine::ConfigToMap(engine::TopicConfig{});
  std::set<std::string> seen;
  for (const auto& t : req.topics) {
    CreateTopicsResponse::Topic result;
    result.name = t.name;
    auto fail = [&](KafkaError code, std::string message) {
      result.error_code = code;
      result.error_message = std::move(message);
    };
    int32_t partitions = t.num_partitions;
    if (partitions == -1) {
      partitions = t.assignments.empty() ? options_.default_partitions
                                         : static_cast<int32_t>(t.assignments.size());
    }
    std::map<std::string, std::string> configs;
    for (const auto& c : t.configs) {
      if (c.value) configs[c.name] = *c.value;
    }
    // The topic as created (or as it would be): its configuration and id.
    std::optional<engine::TopicConfig> created_config;
    std::string created_id;
    if (!seen.insert(t.name).second) {
      fail(KafkaError::kInvalidRequest, "topic named twice in one request");
    } else if (Status s = engine::ValidateTopicName(t.name); !s || !VisibleTopic(t.name)) {
      fail(KafkaError::kInvalidTopicException,
           s ? "names starting with __ are reserved" : s.error().context);
    } else if (!create_any &&
               !auth.Allowed(AclOperation::kCreate, AclResourceType::kTopic, t.name)) {
      fail(KafkaError::kTopicAuthorizationFailed,
           "not authorized to CREATE topic '" + t.name + "' (nor the cluster)");
    } else if (partitions <= 0) {
      fail(KafkaError::kInvalidPartitions, "partitions must be positive");
    } else if (t.replication_factor != -1 && t.replication_factor != 1 && t.assignments.empty()) {
      fail(KafkaError::kInvalidReplicationFactor, "replication factor " +
                                                      std::to_string(t.replication_factor) +
                                                      " exceeds the 1 available broker");
    } else if (auto cfg = engine::ApplyConfig(engine_->default_topic_config(), configs); !cfg) {
      fail(KafkaError::kInvalidConfig, cfg.error().context);
    } else if (req.validate_only) {
      if (engine_->DescribeTopic(t.name)) {
        fail(KafkaError::kTopicAlreadyExists, "topic '" + t.name + "' already exists");
      } else {
        created_config = std::move(*cfg);
      }
    } else if (Status c = engine_->CreateTopic(t.name, partitions, configs); !c) {
      if (c.error().code == ErrorCode::kAlreadyExists) {
        fail(KafkaError::kTopicAlreadyExists, c.error().context);
      } else if (c.error().code == ErrorCode::kInvalidArgument) {
        fail(KafkaError::kInvalidConfig, c.error().context);
      } else {
        fail(ToKafkaError(c.error()), c.error().context);
      }
    } else {
      base::LogInfo("serve: created topic " + t.name + " with " + std::to_string(partitions) +
                    " partitions");
      if (auto d = engine_->DescribeTopic(t.name)) {
        created_config = d->info.config;
        created_id = d->info.id;
      } else {
        created_config = std::move(*cfg);  // deleted at once by another client
      }
    }
    if (created_config) {
      result.topic_id = TopicIdBytes(created_id);
      if (auth.Allowed(AclOperation::kDescribeConfigs, AclResourceType::kTopic, t.name,
                       LogDenial::kNo)) {
        result.num_partitions = partitions;
        result.replication_factor = 1;
        const auto values = engine::ConfigToMap(*created_config);
        std::vector<CreateTopicsResponse::Config> described;
        for (const engine::ConfigKeyInfo& key : engine::TopicConfigKeys()) {
          DescribeConfigsResponse::Config c =
              TopicConfigEntry(key, values.at(key.name), configs.count(key.name) > 0, defaults,
                               builtin, /*include_synonyms=*/false);
          described.push_back({c.name, c.value, c.read_only, c.config_source, c.is_sensitive});
        }
        std::sort(described.begin(), described.end(),
                  [](const auto& a, const auto& b) { return a.name < b.name; });
        result.configs = std::move(described);
      } else {
        result.topic_config_error_code = KafkaError::kTopicAuthorizationFailed;
      }
    }
    resp.topics.push_back(std::move(result));
  }
  Reply(responder, h.api_version, resp);
}

// sluice has no client quotas (PROTOCOL.md): a filter is checked as Kafka's broker checks it
// (ClientQuotaMetadataManager) and matches nothing. Kafka's tools (kafka-configs --describe
// --entity-type users) ask for quotas before they list SCRAM credentials.
void Broker::Impl::Handle(const RequestHeader& h, const DescribeClientQuotasRequest& req,
                          Responder& responder) {
  DescribeClientQuotasResponse resp;
  auto fail = [&](KafkaError code, std::string message) {
    resp.error_code = code;
    resp.error_message = std::move(message);
    Reply(responder, h.api_version, resp);
  };
  if (!Auth(responder).AllowedOnCluster(AclOperation::kDescribeConfigs)) {
    return fail(KafkaError::kClusterAuthorizationFailed,
                "DescribeConfigs on the cluster is needed to describe client quotas");
  }
  std::set<std::string> types;
  for (const DescribeClientQuotasRequest::Component& c : req.components) {
    if (c.entity_type != "user" && c.entity_type != "client-id" && c.entity_type != "ip") {
      return fail(KafkaError::kInvalidRequest,
                  "Custom entity type '" + c.entity_type + "' not supported");
    }
    if (c.match_type < 0 || c.match_type > 2 || (c.match_type == 0 && !c.match)) {
      return fail(KafkaError::kInvalidRequest, "Invalid match type " +
                                                   std::to_string(c.match_type) +
                                                   " for entity type '" + c.entity_type + "'");
    }
    if (!types.insert(c.entity_type).second) {
      return fail(KafkaError::kInvalidRequest,
                  "Duplicate " + c.entity_type + " filter component entity type");
    }
  }
  if (types.count("ip") && types.size() > 1) {
    return fail(KafkaError::kInvalidRequest,
                "Invalid entity filter component combination, IP filter component should not be "
                "used with user or clientId filter component.");
  }
  resp.entries.emplace();  // no quotas
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const DescribeConfigsRequest& req,
                          Responder& responder) {
  DescribeConfigsResponse resp;
  const RequestAuth auth = Auth(responder);
  const auto defaults = engine::ConfigToMap(engine_->default_topic_config());
  const auto builtin = engine::ConfigToMap(engine::TopicConfig{});
  auto entry = [&](const std::string& name, const std::string& value, int8_t source,
                   bool is_default) {
    DescribeConfigsResponse::Config c;
    c.name = name;
    c.value = value;
    c.read_only = source != kSourceDynamicTopic && source != kSourceDefault;
    c.is_default = is_default;
    c.config_source = source;
    c.config_type = ConfigType(value);
    if (req.include_synonyms) c.synonyms.push_back({name, value, source});
    return c;
  };
  for (const auto& r : req.resources) {
    DescribeConfigsResponse::ResourceResult result;
    result.resource_type = r.resource_type;
    result.resource_name = r.resource_name;
    if (r.resource_type == kResourceTopic &&
        !auth.Allowed(AclOperation::kDescribeConfigs, AclResourceType::kTopic, r.resource_name)) {
      result.error_code = KafkaError::kTopicAuthorizationFailed;
    } else if (r.resource_type == kResourceBroker &&
               !auth.AllowedOnCluster(AclOperation::kDescribeConfigs)) {
      result.error_code = KafkaError::kClusterAuthorizationFailed;
    } else if (r.resource_type == kResourceTopic) {
      auto described = VisibleTopic(r.resource_name)
                           ? engine_->DescribeTopic(r.resource_name)
                           : Result<engine::TopicDescription>(base::MakeError(
                                 ErrorCode::kNotFound, "topic '" + r.resource_name + "'"));
      if (!described) {
        result.error_code = ToKafkaError(described.error());
        result.error_message = described.error().context;
      } else {
        const engine::TopicConfig& config = described->info.config;
        const auto values = engine::ConfigToMap(config);
        for (const engine::ConfigKeyInfo& key : engine::TopicConfigKeys()) {
          if (!Wanted(r.configuration_keys, key.name)) continue;
          result.configs.push_back(TopicConfigEntry(key, values.at(key.name),
                                                    config.overrides.count(key.name) > 0, defaults,
                                                    builtin, req.include_synonyms));
        }
      }
    } else if (r.resource_type == kResourceBroker) {
      const std::vector<std::pair<std::string, std::string>> broker_configs = {
          {"broker.id", std::to_string(options_.node_id)},
          {"auto.create.topics.enable", options_.auto_create_topics ? "true" : "false"},
          {"num.partitions", std::to_string(options_.default_partitions)},
          {"socket.request.max.bytes", std::to_string(options_.server.max_request_bytes)},
          {"queued.max.request.bytes", std::to_string(options_.server.queued_max_request_bytes)},
          {"max.connections", std::to_string(options_.server.max_connections)},
          {"max.connections.per.ip", std::to_string(options_.server.max_connections_per_ip)},
          {"connections.max.idle.ms", std::to_string(options_.server.connections_max_idle_ms)},
          {"group.initial.rebalance.delay.ms",
           std::to_string(options_.group_initial_rebalance_delay_ms)},
          {"group.max.size", std::to_string(options_.group_max_size)},
          {"listeners", ListenersText(options_.server.listeners)},
          {"log.dirs", engine_->data_dir()},
      };
      for (const auto& [name, value] : broker_configs) {
        if (Wanted(r.configuration_keys, name)) {
          result.configs.push_back(entry(name, value, kSourceStaticBroker, false));
        }
      }
    } else {
      result.error_code = KafkaError::kInvalidRequest;
      result.error_message = "resource type " + std::to_string(r.resource_type) +
                             " is not supported (topics 2 and brokers 4 are)";
    }
    resp.results.push_back(std::move(result));
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const AlterConfigsRequest& req,
                          Responder& responder) {
  AlterConfigsResponse resp;
  const RequestAuth auth = Auth(responder);
  for (const auto& r : req.resources) {
    AlterConfigsResponse::Resource result;
    result.resource_type = r.resource_type;
    result.resource_name = r.resource_name;
    std::map<std::string, std::string> set;
    for (const auto& c : r.configs) {
      if (c.value) set[c.name] = *c.value;
    }
    auto fail = [&](KafkaError code, std::string message) {
      result.error_code = code;
      result.error_message = std::move(message);
    };
    // Non-incremental: the topic's configuration becomes the defaults plus exactly these keys.
    auto config = engine::ApplyConfig(engine_->default_topic_config(), set);
    for (const auto& c : r.configs) {
      if (!c.value && config) {
        config = base::MakeError(ErrorCode::kInvalidArgument,
                                 "Null value not supported for topic configs: " + c.name);
      }
    }
    if (r.resource_type == kResourceBroker && !auth.AllowedOnCluster(AclOperation::kAlterConfigs)) {
      fail(KafkaError::kClusterAuthorizationFailed, "not authorized to ALTER_CONFIGS the cluster");
    } else if (r.resource_type == kResourceTopic &&
               !auth.Allowed(AclOperation::kAlterConfigs, AclResourceType::kTopic,
                             r.resource_name)) {
      fail(KafkaError::kTopicAuthorizationFailed,
           "not authorized to ALTER_CONFIGS topic '" + r.resource_name + "'");
    } else if (r.resource_type != kResourceTopic) {
      fail(KafkaError::kInvalidRequest, "only topic configs (resource type 2) can be altered");
    } else if (engine::IsInternalTopic(r.resource_name)) {
      // As DeleteTopics (Internal topics in PROTOCOL.md), with the reason in the message.
      fail(KafkaError::kInvalidTopicException,
           "topic '" + r.resource_name + "' is internal and its configuration cannot be changed");
    } else if (!VisibleTopic(r.resource_name) || !engine_->DescribeTopic(r.resource_name)) {
      fail(KafkaError::kUnknownTopicOrPartition, "unknown topic '" + r.resource_name + "'");
    } else if (!config) {
      fail(KafkaError::kInvalidConfig, config.error().context);
    } else if (!req.validate_only) {
      if (Status s = engine_->ReplaceTopicConfig(r.resource_name, set); !s) {
        fail(s.error().code == ErrorCode::kInvalidArgument ? KafkaError::kInvalidConfig
                                                           : ToKafkaError(s.error()),
             s.error().context);
      } else {
        base::LogInfo("serve: altered the config of topic " + r.resource_name);
      }
    }
    resp.responses.push_back(std::move(result));
  }
  Reply(responder, h.api_version, resp);
}

// --- InitProducerId -----------------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const InitProducerIdRequest& req,
                          Responder& responder) {
  InitProducerIdResponse resp;
  const RequestAuth auth = Auth(responder);
  if (req.transactional_id) {
    resp.error_code = KafkaError::kInvalidRequest;  // transactions are not supported
  } else if (!auth.AllowedOnCluster(AclOperation::kIdempotentWrite, LogDenial::kNo) &&
             !auth.AllowedOnAny(AclOperation::kWrite, AclResourceType::kTopic)) {
    // An idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic
    // (KIP-679).
    resp.error_code = KafkaError::kClusterAuthorizationFailed;
  } else if (auto id = engine_->AllocateProducerId(); !id) {
    base::LogError("serve: cannot allocate a producer id: " + id.error().ToString());
    resp.error_code = KafkaError::kKafkaStorageError;
  } else {
    resp.producer_id = *id;
    resp.producer_epoch = 0;
  }
  Reply(responder, h.api_version, resp);
}

}  // namespace sluice::net
