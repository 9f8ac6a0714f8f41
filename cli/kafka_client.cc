// The one wrapper of librdkafka (C API). Admin operations run on a private event queue and wait for
// their result event; a producer serves its delivery reports with rd_kafka_poll; a consumer uses
// the simple (group-less) API, one fetch queue per partition, so that its caller can take the
// partitions in turns as the embedded engine does.

#include "cli/kafka_client.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>

#include "segment/base/log.h"

namespace sluice::cli::kafka {
namespace {

using base::ErrorCode;
using base::MakeError;

// --- RAII ----------------------------------------------------------------------------------------

template <auto kFn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    if (p != nullptr) kFn(p);
  }
};
template <typename T, auto kFn>
using Owned = std::unique_ptr<T, Deleter<kFn>>;

using HandlePtr = Owned<rd_kafka_t, rd_kafka_destroy>;
using ConfPtr = Owned<rd_kafka_conf_t, rd_kafka_conf_destroy>;
using QueuePtr = Owned<rd_kafka_queue_t, rd_kafka_queue_destroy>;
using EventPtr = Owned<rd_kafka_event_t, rd_kafka_event_destroy>;
using OptionsPtr = Owned<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy>;
using NewTopicPtr = Owned<rd_kafka_NewTopic_t, rd_kafka_NewTopic_destroy>;
using DeleteTopicPtr = Owned<rd_kafka_DeleteTopic_t, rd_kafka_DeleteTopic_destroy>;
using NewPartitionsPtr = Owned<rd_kafka_NewPartitions_t, rd_kafka_NewPartitions_destroy>;
using DeleteGroupPtr = Owned<rd_kafka_DeleteGroup_t, rd_kafka_DeleteGroup_destroy>;
using ResourcePtr = Owned<rd_kafka_ConfigResource_t, rd_kafka_ConfigResource_destroy>;
using PartitionsPtr = Owned<rd_kafka_topic_partition_list_t, rd_kafka_topic_partition_list_destroy>;
using ListOffsetsPtr =
    Owned<rd_kafka_ListConsumerGroupOffsets_t, rd_kafka_ListConsumerGroupOffsets_destroy>;
using AlterOffsetsPtr =
    Owned<rd_kafka_AlterConsumerGroupOffsets_t, rd_kafka_AlterConsumerGroupOffsets_destroy>;
using HeadersPtr = Owned<rd_kafka_headers_t, rd_kafka_headers_destroy>;
using MessagePtr = Owned<rd_kafka_message_t, rd_kafka_message_destroy>;
using TopicPtr = Owned<rd_kafka_topic_t, rd_kafka_topic_destroy>;
using MetadataPtr = Owned<const struct rd_kafka_metadata, rd_kafka_metadata_destroy>;
using ErrorPtr = Owned<rd_kafka_error_t, rd_kafka_error_destroy>;
using AclPtr = Owned<rd_kafka_AclBinding_t, rd_kafka_AclBinding_destroy>;

// --- errors --------------------------------------------------------------------------------------

ErrorCode CodeOf(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR__NOENT:
      return ErrorCode::kNotFound;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return ErrorCode::kAlreadyExists;
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
    case RD_KAFKA_RESP_ERR_INVALID_COMMIT_OFFSET_SIZE:
    case RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_SECURITY_DISABLED:
      return ErrorCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return ErrorCode::kRefused;
    case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
      return ErrorCode::kBusy;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
      return ErrorCode::kTimeout;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
      return ErrorCode::kIoError;
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
      return ErrorCode::kOutOfRange;
    default:
      return ErrorCode::kInternal;
  }
}

// "<what>: <message>", the message being the broker's when it sent one.
base::Error KafkaError(rd_kafka_resp_err_t err, const std::string& what,
                       const char* message = nullptr) {
  std::string m = message != nullptr && *message != '\0' ? message : rd_kafka_err2str(err);
  return MakeError(CodeOf(err), what + ": " + m);
}

base::Error KafkaError(const rd_kafka_error_t* error, const std::string& what) {
  return KafkaError(rd_kafka_error_code(error), what, rd_kafka_error_string(error));
}

// --- client handles ------------------------------------------------------------------------------

// What librdkafka's callbacks report, for error messages. Callbacks may run on librdkafka's
// threads.
struct Callbacks {
  std::mutex mu;
  std::string last_error;  // guarded by mu: the last error_cb message
  // Since when every broker has been down (steady clock ms; 0 = a broker is up).
  std::atomic<int64_t> all_down_since_ms{0};
  std::atomic<int64_t> delivered{0};
  std::optional<int64_t> first_failed_tag;   // guarded by mu
  std::optional<base::Error> first_failure;  // guarded by mu

  std::string LastError() {
    std::lock_guard lock(mu);
    return last_error;
  }
};

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void OnLog(const rd_kafka_t*, int level, const char* facility, const char* message) {
  base::LogInfo("rdkafka " + std::to_string(level) + " " + facility + ": " + message);
}

void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* cb = static_cast<Callbacks*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    int64_t expected = 0;
    cb->all_down_since_ms.compare_exchange_strong(expected, SteadyMs());
    return;  // "1/1 brokers are down" says less than the transport error before it
  }
  std::lock_guard lock(cb->mu);
  cb->last_error = reason;
}

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* cb = static_cast<Callbacks*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    cb->delivered.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(cb->mu);
  if (!cb->first_failed_tag) {
    cb->first_failed_tag = reinterpret_cast<intptr_t>(m->_private);
    const std::string where = std::string("produce to ") + rd_kafka_topic_name(m->rkt) + "-" +
                              std::to_string(m->partition);
    cb->first_failure = KafkaError(m->err, where, rd_kafka_message_errstr(m));
  }
}

Status Set(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("client config ") + name + "=" + value + ": " + errstr);
  }
  return {};
}

// A configured client handle. `callbacks` must outlive it.
Result<HandlePtr> NewHandle(rd_kafka_type_t type, const ClientConfig& config,
                            const std::vector<std::pair<const char*, std::string>>& settings,
                            Callbacks& callbacks, bool delivery_reports = false) {
  ConfPtr conf(rd_kafka_conf_new());
  const std::string timeout = std::to_string(config.timeout_ms);
  RETURN_IF_ERROR(Set(conf.get(), "bootstrap.servers", config.bootstrap));
  RETURN_IF_ERROR(Set(conf.get(), "client.id", "sluice-cli"));
  RETURN_IF_ERROR(Set(conf.get(), "socket.timeout.ms", timeout));
  RETURN_IF_ERROR(Set(conf.get(), "allow.auto.create.topics", "false"));
  RETURN_IF_ERROR(Set(conf.get(), "log.connection.close", "false"));
  RETURN_IF_ERROR(Set(conf.get(), "reconnect.backoff.max.ms", "1000"));
  for (const auto& [name, value] : settings) RETURN_IF_ERROR(Set(conf.get(), name, value));
  for (const auto& [name, value] : config.properties) {
    char errstr[512];
    if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      return MakeError(ErrorCode::kInvalidArgument, "client property " + name + ": " + errstr);
    }
  }
  if (!config.debug.empty()) {
    RETURN_IF_ERROR(Set(conf.get(), "debug", config.debug));  // librdkafka's contexts: -vv
  }
  rd_kafka_conf_set_log_cb(conf.get(), OnLog);
  rd_kafka_conf_set_error_cb(conf.get(), OnError);
  if (delivery_reports) rd_kafka_conf_set_dr_msg_cb(conf.get(), OnDelivery);
  rd_kafka_conf_set_opaque(conf.get(), &callbacks);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("kafka client: ") + errstr);
  }
  (void)conf.release();  // rd_kafka_new took it
  return HandlePtr(rk);
}

// The error for a request that failed because the broker did not answer: librdkafka's reason,
// e.g. "Connect to ipv4#127.0.0.1:1 failed: Connection refused".
base::Error Unreachable(rd_kafka_resp_err_t err, const std::string& bootstrap,
                        Callbacks& callbacks) {
  std::string reason = callbacks.LastError();
  if (reason.empty()) reason = rd_kafka_err2str(err);
  return MakeError(ErrorCode::kIoError, "cannot reach broker " + bootstrap + ": " + reason);
}

bool IsUnreachable(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE;
}

}  // namespace

// --- AdminClient ---------------------------------------------------------------------------------

struct AdminClient::Impl {
  ClientConfig config;
  Callbacks callbacks;
  HandlePtr rk;
  QueuePtr queue;

  Result<OptionsPtr> Options(rd_kafka_admin_op_t op) {
    OptionsPtr o(rd_kafka_AdminOptions_new(rk.get(), op));
    char errstr[256];
    const int timeout = static_cast<int>(config.timeout_ms);
    if (rd_kafka_AdminOptions_set_request_timeout(o.get(), timeout, errstr, sizeof(errstr)) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return MakeError(ErrorCode::kInternal, errstr);
    }
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS ||
        op == RD_KAFKA_ADMIN_OP_CREATEPARTITIONS) {
      if (rd_kafka_AdminOptions_set_operation_timeout(o.get(), timeout, errstr, sizeof(errstr)) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        return MakeError(ErrorCode::kInternal, errstr);
      }
    }
    return o;
  }

  // Waits for the result event of the admin request just sent.
  Result<EventPtr> Await(const std::string& what) {
    EventPtr ev(rd_kafka_queue_poll(queue.get(), static_cast<int>(config.timeout_ms + 2000)));
    if (!ev) return MakeError(ErrorCode::kTimeout, what + ": no answer from the broker");
    if (const rd_kafka_resp_err_t err = rd_kafka_event_error(ev.get()); err) {
      rd_kafka_poll(rk.get(), 0);  // serve error_cb for a better reason
      if (IsUnreachable(err)) return Unreachable(err, config.bootstrap, callbacks);
      return KafkaError(err, what, rd_kafka_event_error_string(ev.get()));
    }
    return ev;
  }
};

AdminClient::AdminClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminClient::~AdminClient() = default;

Result<std::unique_ptr<AdminClient>> AdminClient::Connect(const ClientConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  ASSIGN_OR_RETURN(impl->rk, NewHandle(RD_KAFKA_PRODUCER, config, {}, impl->callbacks));
  impl->queue.reset(rd_kafka_queue_new(impl->rk.get()));
  std::unique_ptr<AdminClient> client(new AdminClient(std::move(impl)));
  RETURN_IF_ERROR(client->ListTopicsWithin(std::min(config.timeout_ms, config.connect_timeout_ms)));
  return client;
}

Result<std::vector<TopicMetadata>> AdminClient::ListTopics() {
  return ListTopicsWithin(impl_->config.timeout_ms);
}

Result<std::vector<TopicMetadata>> AdminClient::ListTopicsWithin(int64_t timeout_ms) {
  const struct rd_kafka_metadata* raw = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(impl_->rk.get(), 1, nullptr, &raw, static_cast<int>(timeout_ms));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_poll(impl_->rk.get(), 0);
    if (IsUnreachable(err)) return Unreachable(err, impl_->config.bootstrap, impl_->callbacks);
    return KafkaError(err, "metadata");
  }
  MetadataPtr md(raw);
  std::vector<TopicMetadata> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    TopicMetadata topic{t.topic, t.partition_cnt, {}};
    for (int j = 0; j < t.partition_cnt; ++j) {
      const auto& p = t.partitions[j];
      if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR || p.leader < 0) {
        topic.offline[p.id] =
            p.err != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2name(p.err) : "no leader";
      }
    }
    out.push_back(std::move(topic));
  }
  return out;
}

Status AdminClient::CreateTopic(const std::string& name, int32_t partitions,
                                const std::map<std::string, std::string>& config) {
  char errstr[512];
  NewTopicPtr topic(rd_kafka_NewTopic_new(name.c_str(), partitions, 1, errstr, sizeof(errstr)));
  if (!topic) return MakeError(ErrorCode::kInvalidArgument, errstr);
  for (const auto& [k, v] : config) {
    if (auto err = rd_kafka_NewTopic_set_config(topic.get(), k.c_str(), v.c_str()); err) {
      return KafkaError(err, "config " + k);
    }
  }
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_NewTopic_t* topics[] = {topic.get()};
  rd_kafka_CreateTopics(impl_->rk.get(), topics, 1, options.get(), impl_->queue.get());
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await("create topic " + name));
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (auto err = rd_kafka_topic_result_error(results[i]); err) {
      const char* message = rd_kafka_topic_result_error_string(results[i]);
      // The broker's message is the engine's own (e.g. "topic 'x' already exists").
      if (message != nullptr && *message != '\0') return MakeError(CodeOf(err), message);
      return KafkaError(err, "create topic " + name);
    }
  }
  return {};
}

Status AdminClient::DeleteTopic(const std::string& name) {
  DeleteTopicPtr topic(rd_kafka_DeleteTopic_new(name.c_str()));
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_DELETETOPICS));
  rd_kafka_DeleteTopic_t* topics[] = {topic.get()};
  rd_kafka_DeleteTopics(impl_->rk.get(), topics, 1, options.get(), impl_->queue.get());
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await("delete topic " + name));
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (auto err = rd_kafka_topic_result_error(results[i]); err) {
      return KafkaError(err, "delete topic " + name,
                        rd_kafka_topic_result_error_string(results[i]));
    }
  }
  return {};
}

Status AdminClient::CreatePartitions(const std::string& name, int32_t count) {
  char errstr[256];
  NewPartitionsPtr np(
      rd_kafka_NewPartitions_new(name.c_str(), static_cast<size_t>(count), errstr, sizeof(errstr)));
  if (!np) return MakeError(ErrorCode::kInvalidArgument, errstr);
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_CREATEPARTITIONS));
  rd_kafka_NewPartitions_t* list[] = {np.get()};
  rd_kafka_CreatePartitions(impl_->rk.get(), list, 1, options.get(), impl_->queue.get());
  const std::string what = "add partitions to topic " + name;
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await(what));
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (auto err = rd_kafka_topic_result_error(results[i]); err) {
      return KafkaError(err, what, rd_kafka_topic_result_error_string(results[i]));
    }
  }
  return {};
}

Result<std::map<std::string, std::string>> AdminClient::DescribeTopicConfig(
    const std::string& name) {
  ResourcePtr resource(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  rd_kafka_DescribeConfigs(impl_->rk.get(), resources, 1, options.get(), impl_->queue.get());
  const std::string what = "describe config of topic " + name;
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await(what));
  size_t n = 0;
  const rd_kafka_ConfigResource_t** results = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(ev.get()), &n);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < n; ++i) {
    if (auto err = rd_kafka_ConfigResource_error(results[i]); err) {
      return KafkaError(err, what, rd_kafka_ConfigResource_error_string(results[i]));
    }
    size_t entries = 0;
    const rd_kafka_ConfigEntry_t** e = rd_kafka_ConfigResource_configs(results[i], &entries);
    for (size_t j = 0; j < entries; ++j) {
      const char* value = rd_kafka_ConfigEntry_value(e[j]);
      out[rd_kafka_ConfigEntry_name(e[j])] = value != nullptr ? value : "";
    }
  }
  return out;
}

Status AdminClient::ReplaceTopicConfig(const std::string& name,
                                       const std::map<std::string, std::string>& config) {
  ResourcePtr resource(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
  for (const auto& [key, value] : config) {
    if (auto err = rd_kafka_ConfigResource_set_config(resource.get(), key.c_str(), value.c_str());
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(err, "config " + key);
    }
  }
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_ALTERCONFIGS));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  rd_kafka_AlterConfigs(impl_->rk.get(), resources, 1, options.get(), impl_->queue.get());
  const std::string what = "alter config of topic " + name;
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await(what));
  size_t n = 0;
  const rd_kafka_ConfigResource_t** results =
      rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (auto err = rd_kafka_ConfigResource_error(results[i]); err) {
      return KafkaError(err, what, rd_kafka_ConfigResource_error_string(results[i]));
    }
  }
  return {};
}

Result<std::vector<int64_t>> AdminClient::ListOffsets(
    const std::string& topic, const std::vector<std::pair<int32_t, int64_t>>& queries) {
  PartitionsPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(queries.size())));
  for (const auto& [partition, query] : queries) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = query;
  }
  const rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(
      impl_->rk.get(), list.get(), static_cast<int>(impl_->config.timeout_ms));
  const std::string what = "list offsets of " + topic;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_poll(impl_->rk.get(), 0);
    if (IsUnreachable(err)) return Unreachable(err, impl_->config.bootstrap, impl_->callbacks);
    return KafkaError(err, what);
  }
  std::vector<int64_t> out;
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return KafkaError(p.err, what + "-" + std::to_string(p.partition));
    }
    out.push_back(p.offset);
  }
  return out;
}

Result<std::vector<std::string>> AdminClient::ListGroups() {
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS));
  rd_kafka_ListConsumerGroups(impl_->rk.get(), options.get(), impl_->queue.get());
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await("list groups"));
  const rd_kafka_ListConsumerGroups_result_t* result =
      rd_kafka_event_ListConsumerGroups_result(ev.get());
  size_t n = 0;
  const rd_kafka_error_t** errors = rd_kafka_ListConsumerGroups_result_errors(result, &n);
  if (n > 0) return KafkaError(errors[0], "list groups");
  const rd_kafka_ConsumerGroupListing_t** groups =
      rd_kafka_ListConsumerGroups_result_valid(result, &n);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.emplace_back(rd_kafka_ConsumerGroupListing_group_id(groups[i]));
  return out;
}

Result<std::vector<GroupOffset>> AdminClient::ListGroupOffsets(
    const std::string& group, const std::vector<std::pair<std::string, int32_t>>& partitions) {
  if (partitions.empty()) return std::vector<GroupOffset>();
  PartitionsPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& [topic, p] : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
  }
  ListOffsetsPtr request(rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), list.get()));
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS));
  rd_kafka_ListConsumerGroupOffsets_t* requests[] = {request.get()};
  rd_kafka_ListConsumerGroupOffsets(impl_->rk.get(), requests, 1, options.get(),
                                    impl_->queue.get());
  const std::string what = "committed offsets of group '" + group + "'";
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await(what));
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(ev.get()), &n);
  std::vector<GroupOffset> out;
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      return KafkaError(e, what);
    }
    const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; parts != nullptr && j < parts->cnt; ++j) {
      const rd_kafka_topic_partition_t& p = parts->elems[j];
      if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaError(p.err, what + " on " + p.topic + "-" + std::to_string(p.partition));
      }
      GroupOffset o;
      o.topic = p.topic;
      o.partition = p.partition;
      o.offset = p.offset < 0 ? -1 : p.offset;
      if (p.metadata != nullptr) {
        o.metadata.assign(static_cast<const char*>(p.metadata), p.metadata_size);
      }
      out.push_back(std::move(o));
    }
  }
  return out;
}

Status AdminClient::AlterGroupOffsets(const std::string& group,
                                      const std::vector<GroupOffset>& offsets) {
  PartitionsPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const GroupOffset& o : offsets) {
    rd_kafka_topic_partition_t* p =
        rd_kafka_topic_partition_list_add(list.get(), o.topic.c_str(), o.partition);
    p->offset = o.offset;
    if (!o.metadata.empty()) {
      // Freed by rd_kafka_topic_partition_list_destroy.
      p->metadata = rd_kafka_mem_malloc(nullptr, o.metadata.size());
      std::memcpy(p->metadata, o.metadata.data(), o.metadata.size());
      p->metadata_size = o.metadata.size();
    }
  }
  AlterOffsetsPtr request(rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list.get()));
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS));
  rd_kafka_AlterConsumerGroupOffsets_t* requests[] = {request.get()};
  rd_kafka_AlterConsumerGroupOffsets(impl_->rk.get(), requests, 1, options.get(),
                                     impl_->queue.get());
  const std::string what = "commit offsets of group '" + group + "'";
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await(what));
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      return KafkaError(e, what);
    }
    const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; parts != nullptr && j < parts->cnt; ++j) {
      const rd_kafka_topic_partition_t& p = parts->elems[j];
      if (p.err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      if (CodeOf(p.err) == ErrorCode::kBusy) {
        return MakeError(ErrorCode::kBusy, what + ": the group has active members (" +
                                               rd_kafka_err2str(p.err) + "); stop them first");
      }
      return KafkaError(p.err, what + " on " + p.topic + "-" + std::to_string(p.partition));
    }
  }
  return {};
}

Status AdminClient::DeleteGroup(const std::string& group) {
  DeleteGroupPtr request(rd_kafka_DeleteGroup_new(group.c_str()));
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_DELETEGROUPS));
  rd_kafka_DeleteGroup_t* requests[] = {request.get()};
  rd_kafka_DeleteGroups(impl_->rk.get(), requests, 1, options.get(), impl_->queue.get());
  const std::string what = "delete group '" + group + "'";
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await(what));
  size_t n = 0;
  const rd_kafka_group_result_t** groups =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i])) {
      return KafkaError(e, what);
    }
  }
  return {};
}

Result<GroupDescription> AdminClient::DescribeGroup(const std::string& group) {
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS));
  const char* groups[] = {group.c_str()};
  rd_kafka_DescribeConsumerGroups(impl_->rk.get(), groups, 1, options.get(), impl_->queue.get());
  const std::string what = "describe group '" + group + "'";
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await(what));
  size_t n = 0;
  const rd_kafka_ConsumerGroupDescription_t** found = rd_kafka_DescribeConsumerGroups_result_groups(
      rd_kafka_event_DescribeConsumerGroups_result(ev.get()), &n);
  if (n != 1) return MakeError(ErrorCode::kInternal, what + ": no description in the answer");
  const rd_kafka_ConsumerGroupDescription_t* d = found[0];
  if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(d)) {
    return KafkaError(e, what);
  }
  GroupDescription out;
  switch (rd_kafka_ConsumerGroupDescription_state(d)) {
    case RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE:
      out.state = "PreparingRebalance";
      break;
    case RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE:
      out.state = "CompletingRebalance";
      break;
    case RD_KAFKA_CONSUMER_GROUP_STATE_STABLE:
      out.state = "Stable";
      break;
    case RD_KAFKA_CONSUMER_GROUP_STATE_DEAD:
      out.state = "Dead";
      break;
    case RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY:
      out.state = "Empty";
      break;
    default:
      out.state = "Unknown";
      break;
  }
  if (const char* a = rd_kafka_ConsumerGroupDescription_partition_assignor(d)) out.assignor = a;
  const size_t members = rd_kafka_ConsumerGroupDescription_member_count(d);
  for (size_t i = 0; i < members; ++i) {
    const rd_kafka_MemberDescription_t* m = rd_kafka_ConsumerGroupDescription_member(d, i);
    GroupMember gm;
    if (const char* v = rd_kafka_MemberDescription_consumer_id(m)) gm.member_id = v;
    if (const char* v = rd_kafka_MemberDescription_client_id(m)) gm.client_id = v;
    if (const char* v = rd_kafka_MemberDescription_host(m)) gm.host = v;
    if (const rd_kafka_MemberAssignment_t* a = rd_kafka_MemberDescription_assignment(m)) {
      if (const rd_kafka_topic_partition_list_t* l = rd_kafka_MemberAssignment_partitions(a)) {
        for (int j = 0; j < l->cnt; ++j) {
          gm.assignment.emplace_back(l->elems[j].topic, l->elems[j].partition);
        }
      }
    }
    out.members.push_back(std::move(gm));
  }
  return out;
}

// --- ACLs ----------------------------------------------------------------------------------------
// librdkafka's ACL enums carry Kafka's wire codes, as engine/acl_store.h's do.

namespace {

Result<AclPtr> ToRdkafka(const engine::AclBinding& b) {
  char errstr[256] = "";
  AclPtr acl(rd_kafka_AclBinding_new(
      static_cast<rd_kafka_ResourceType_t>(b.resource_type), b.resource_name.c_str(),
      static_cast<rd_kafka_ResourcePatternType_t>(b.pattern_type), b.principal.c_str(),
      b.host.c_str(), static_cast<rd_kafka_AclOperation_t>(b.operation),
      static_cast<rd_kafka_AclPermissionType_t>(b.permission), errstr, sizeof(errstr)));
  if (!acl) return MakeError(ErrorCode::kInvalidArgument, "ACL " + b.ToString() + ": " + errstr);
  return acl;
}

Result<AclPtr> ToRdkafka(const engine::AclBindingFilter& f) {
  char errstr[256] = "";
  auto c_str = [](const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; };
  AclPtr acl(rd_kafka_AclBindingFilter_new(
      static_cast<rd_kafka_ResourceType_t>(f.resource_type), c_str(f.resource_name),
      static_cast<rd_kafka_ResourcePatternType_t>(f.pattern_type), c_str(f.principal),
      c_str(f.host), static_cast<rd_kafka_AclOperation_t>(f.operation),
      static_cast<rd_kafka_AclPermissionType_t>(f.permission), errstr, sizeof(errstr)));
  if (!acl) return MakeError(ErrorCode::kInvalidArgument, std::string("ACL filter: ") + errstr);
  return acl;
}

engine::AclBinding FromRdkafka(const rd_kafka_AclBinding_t* acl) {
  engine::AclBinding b;
  b.resource_type = static_cast<engine::AclResourceType>(rd_kafka_AclBinding_restype(acl));
  b.resource_name = rd_kafka_AclBinding_name(acl);
  b.pattern_type =
      static_cast<engine::AclPatternType>(rd_kafka_AclBinding_resource_pattern_type(acl));
  b.principal = rd_kafka_AclBinding_principal(acl);
  b.host = rd_kafka_AclBinding_host(acl);
  b.operation = static_cast<engine::AclOperation>(rd_kafka_AclBinding_operation(acl));
  b.permission = static_cast<engine::AclPermission>(rd_kafka_AclBinding_permission_type(acl));
  return b;
}

}  // namespace

Status AdminClient::CreateAcls(const std::vector<engine::AclBinding>& bindings) {
  std::vector<AclPtr> owned;
  std::vector<rd_kafka_AclBinding_t*> acls;
  for (const auto& b : bindings) {
    ASSIGN_OR_RETURN(AclPtr acl, ToRdkafka(b));
    acls.push_back(acl.get());
    owned.push_back(std::move(acl));
  }
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_CREATEACLS));
  rd_kafka_CreateAcls(impl_->rk.get(), acls.data(), acls.size(), options.get(), impl_->queue.get());
  const std::string what = "create ACLs";
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await(what));
  size_t n = 0;
  const rd_kafka_acl_result_t** results =
      rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_acl_result_error(results[i])) {
      return KafkaError(e, what);
    }
  }
  return {};
}

Result<std::vector<engine::AclBinding>> AdminClient::DescribeAcls(
    const engine::AclBindingFilter& filter) {
  ASSIGN_OR_RETURN(AclPtr acl, ToRdkafka(filter));
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_DESCRIBEACLS));
  rd_kafka_DescribeAcls(impl_->rk.get(), acl.get(), options.get(), impl_->queue.get());
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await("describe ACLs"));
  size_t n = 0;
  const rd_kafka_AclBinding_t** acls =
      rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(ev.get()), &n);
  std::vector<engine::AclBinding> out;
  for (size_t i = 0; i < n; ++i) out.push_back(FromRdkafka(acls[i]));
  return out;
}

Result<std::vector<std::vector<engine::AclBinding>>> AdminClient::DeleteAcls(
    const std::vector<engine::AclBindingFilter>& filters) {
  std::vector<AclPtr> owned;
  std::vector<rd_kafka_AclBindingFilter_t*> acls;
  for (const auto& f : filters) {
    ASSIGN_OR_RETURN(AclPtr acl, ToRdkafka(f));
    acls.push_back(acl.get());
    owned.push_back(std::move(acl));
  }
  ASSIGN_OR_RETURN(OptionsPtr options, impl_->Options(RD_KAFKA_ADMIN_OP_DELETEACLS));
  rd_kafka_DeleteAcls(impl_->rk.get(), acls.data(), acls.size(), options.get(), impl_->queue.get());
  const std::string what = "delete ACLs";
  ASSIGN_OR_RETURN(EventPtr ev, impl_->Await(what));
  size_t n = 0;
  const rd_kafka_DeleteAcls_result_response_t** responses =
      rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(ev.get()), &n);
  std::vector<std::vector<engine::AclBinding>> out;
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_DeleteAcls_result_response_error(responses[i])) {
      return KafkaError(e, what);
    }
    size_t m = 0;
    const rd_kafka_AclBinding_t** matching =
        rd_kafka_DeleteAcls_result_response_matching_acls(responses[i], &m);
    auto& removed = out.emplace_back();
    for (size_t j = 0; j < m; ++j) removed.push_back(FromRdkafka(matching[j]));
  }
  return out;
}

// --- Producer ------------------------------------------------------------------------------------

struct Producer::Impl {
  ClientConfig config;
  Callbacks callbacks;
  HandlePtr rk;
  // Declared after rk: a topic handle is destroyed before the client handle it belongs to.
  std::map<std::string, TopicPtr, std::less<>> topics;
  int64_t delivery_timeout_ms = 0;

  // The topic handle for `name`, made on first use with rd_kafka_topic_new. Why not produce by
  // name (RD_KAFKA_VTYPE_TOPIC): librdkafka 2.0.2 then makes the topic without asking for its
  // metadata. If the broker connection came up before the first record (its "connected" refresh
  // knew no topic), nothing asks for the topic's partitions until the 1 s topic scan, and the
  // record waits for it: `sluice --broker ... produce` took ~1 s about half the time (issue 12).
  // rd_kafka_topic_new sends the Metadata request at once (its "leader query").
  Result<rd_kafka_topic_t*> Topic(const std::string& name) {
    if (auto it = topics.find(name); it != topics.end()) return it->second.get();
    TopicPtr topic(rd_kafka_topic_new(rk.get(), name.c_str(), nullptr));
    if (!topic) return KafkaError(rd_kafka_last_error(), "produce to " + name);
    return topics.emplace(name, std::move(topic)).first->second.get();
  }

  Status FirstFailure() {
    std::lock_guard lock(callbacks.mu);
    if (callbacks.first_failure) return *callbacks.first_failure;
    return {};
  }

  ~Impl() {
    if (!rk) return;
    // Whatever is still queued after a failure is dropped, not waited for.
    if (rd_kafka_outq_len(rk.get()) > 0) {
      rd_kafka_purge(rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_flush(rk.get(), 1000);
    }
  }
};

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Producer::~Producer() = default;

Result<std::unique_ptr<Producer>> Producer::Create(const ClientConfig& config,
                                                   const ProducerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->delivery_timeout_ms = std::max<int64_t>(30'000, config.timeout_ms * 3);
  const int64_t max_message = std::clamp<int64_t>(options.max_message_bytes, 1000, 1'000'000'000);
  const int64_t batch_bytes = std::clamp<int64_t>(options.batch_bytes, 1, max_message);
  ASSIGN_OR_RETURN(impl->rk,
                   NewHandle(RD_KAFKA_PRODUCER, config,
                             {{"enable.idempotence", "true"},
                              {"linger.ms", "5"},
                              {"compression.codec", options.compression},
                              {"batch.num.messages", std::to_string(options.batch_records)},
                              {"batch.size", std::to_string(batch_bytes)},
                              {"message.max.bytes", std::to_string(max_message)},
                              {"message.timeout.ms", std::to_string(impl->delivery_timeout_ms)}},
                             impl->callbacks, /*delivery_reports=*/true));
  return std::unique_ptr<Producer>(new Producer(std::move(impl)));
}

Status Producer::Send(const std::string& topic, int32_t partition,
                      std::optional<std::string_view> key, std::optional<std::string_view> value,
                      std::span<const segment::RecordHeader> headers,
                      std::optional<int64_t> timestamp_ms, int64_t tag) {
  RETURN_IF_ERROR(impl_->FirstFailure());
  ASSIGN_OR_RETURN(rd_kafka_topic_t * rkt, impl_->Topic(topic));
  // A present but empty key or value needs a non-null pointer: null means "null".
  auto data = [](const std::optional<std::string_view>& v) -> const char* {
    if (!v) return nullptr;
    return v->empty() ? "" : v->data();
  };
  for (;;) {
    HeadersPtr hdrs;
    if (!headers.empty()) {
      hdrs.reset(rd_kafka_headers_new(headers.size()));
      for (const auto& h : headers) {
        rd_kafka_header_add(hdrs.get(), h.key.data(), static_cast<ssize_t>(h.key.size()),
                            data(h.value), h.value ? static_cast<ssize_t>(h.value->size()) : 0);
      }
    }
    rd_kafka_vu_t vu[8] = {};
    vu[0].vtype = RD_KAFKA_VTYPE_RKT;
    vu[0].u.rkt = rkt;
    vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[1].u.i32 = partition;
    vu[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[2].u.i = RD_KAFKA_MSG_F_COPY;
    vu[3].vtype = RD_KAFKA_VTYPE_KEY;
    vu[3].u.mem = {const_cast<char*>(data(key)), key ? key->size() : 0};
    vu[4].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[4].u.mem = {const_cast<char*>(data(value)), value ? value->size() : 0};
    vu[5].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
    vu[5].u.i64 = timestamp_ms.value_or(0);
    vu[6].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[6].u.ptr = reinterpret_cast<void*>(static_cast<intptr_t>(tag));
    vu[7].vtype = RD_KAFKA_VTYPE_HEADERS;
    vu[7].u.headers = hdrs.get();
    ErrorPtr error(rd_kafka_produceva(impl_->rk.get(), vu, hdrs ? 8 : 7));
    const rd_kafka_resp_err_t err =
        error ? rd_kafka_error_code(error.get()) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)hdrs.release();  // the message owns them now
      break;
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return KafkaError(error.get(), "produce to " + topic + "-" + std::to_string(partition));
    }
    rd_kafka_poll(impl_->rk.get(), 100);  // deliveries make room
    RETURN_IF_ERROR(impl_->FirstFailure());
  }
  rd_kafka_poll(impl_->rk.get(), 0);
  return {};
}

Status Producer::Flush() {
  const rd_kafka_resp_err_t err =
      rd_kafka_flush(impl_->rk.get(), static_cast<int>(impl_->delivery_timeout_ms + 5000));
  rd_kafka_poll(impl_->rk.get(), 0);
  RETURN_IF_ERROR(impl_->FirstFailure());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unreachable(err, impl_->config.bootstrap, impl_->callbacks);
  }
  return {};
}

int64_t Producer::delivered() const { return impl_->callbacks.delivered.load(); }

std::optional<int64_t> Producer::first_failed_tag() const {
  std::lock_guard lock(impl_->callbacks.mu);
  return impl_->callbacks.first_failed_tag;
}

// --- Consumer ------------------------------------------------------------------------------------

struct Consumer::Impl {
  struct Partition {
    std::deque<MessagePtr> fetched;  // taken from librdkafka's queue, not yet peeked
    MessagePtr message;              // the record Peek returned, until Pop
    std::vector<segment::RecordHeader> headers;
    segment::RecordView view;
  };
  static constexpr size_t kBatch = 1024;  // messages taken from librdkafka's queue at once

  ClientConfig config;
  Callbacks callbacks;
  HandlePtr rk;
  TopicPtr topic;
  std::map<int32_t, Partition> partitions;  // started ones

  ~Impl() {
    for (const auto& [p, state] : partitions) rd_kafka_consume_stop(topic.get(), p);
    partitions.clear();
    topic.reset();
  }
};

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Consumer::~Consumer() = default;

Result<std::unique_ptr<Consumer>> Consumer::Create(const ClientConfig& config,
                                                   const std::string& topic) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  // Offsets come from the caller; a deleted one (retention) restarts at the log start.
  ASSIGN_OR_RETURN(impl->rk, NewHandle(RD_KAFKA_CONSUMER, config,
                                       {{"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"enable.partition.eof", "false"},
                                        {"auto.offset.reset", "earliest"}},
                                       impl->callbacks));
  impl->topic.reset(rd_kafka_topic_new(impl->rk.get(), topic.c_str(), nullptr));
  if (!impl->topic) {
    return KafkaError(rd_kafka_last_error(), "consume " + topic);
  }
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

Status Consumer::Start(int32_t partition, int64_t offset) {
  if (rd_kafka_consume_start(impl_->topic.get(), partition, offset) != 0) {
    return KafkaError(rd_kafka_last_error(), std::string("consume ") +
                                                 rd_kafka_topic_name(impl_->topic.get()) + "-" +
                                                 std::to_string(partition));
  }
  impl_->partitions[partition];
  return {};
}

Result<const segment::RecordView*> Consumer::Peek(int32_t partition, int64_t timeout_ms) {
  auto it = impl_->partitions.find(partition);
  if (it == impl_->partitions.end()) {
    return MakeError(ErrorCode::kInternal,
                     "partition " + std::to_string(partition) + " was not started");
  }
  Impl::Partition& state = it->second;
  if (state.message) return &state.view;
  const std::string where =
      std::string(rd_kafka_topic_name(impl_->topic.get())) + "-" + std::to_string(partition);
  const int64_t deadline = SteadyMs() + timeout_ms;
  for (;;) {
    if (!state.fetched.empty()) {
      MessagePtr m = std::move(state.fetched.front());
      state.fetched.pop_front();
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return KafkaError(m->err, "consume " + where, rd_kafka_message_errstr(m.get()));
      }
      state.message = std::move(m);
      break;
    }
    rd_kafka_poll(impl_->rk.get(), 0);  // serves error_cb
    const int64_t left = std::max<int64_t>(0, deadline - SteadyMs());
    // rd_kafka_consume_batch waits for a whole batch: wait for one record, then take what is there.
    rd_kafka_message_t* batch[Impl::kBatch];
    ssize_t n = 0;
    if (left > 0) {
      batch[0] = rd_kafka_consume(impl_->topic.get(), partition, static_cast<int>(left));
      n = batch[0] != nullptr ? 1 : 0;
    }
    if (left == 0 || n == 1) {
      const ssize_t more = rd_kafka_consume_batch(impl_->topic.get(), partition, 0, batch + n,
                                                  Impl::kBatch - static_cast<size_t>(n));
      n += std::max<ssize_t>(0, more);
    }
    if (n <= 0) {
      const int64_t down_since = impl_->callbacks.all_down_since_ms.load();
      if (down_since != 0 && SteadyMs() - down_since > impl_->config.timeout_ms) {
        return MakeError(ErrorCode::kIoError, "consume " + where + ": lost broker " +
                                                  impl_->config.bootstrap + ": " +
                                                  impl_->callbacks.LastError());
      }
      if (SteadyMs() >= deadline) return nullptr;
      continue;
    }
    impl_->callbacks.all_down_since_ms.store(0);
    for (ssize_t i = 0; i < n; ++i) state.fetched.emplace_back(batch[i]);
  }
  rd_kafka_message_t* m = state.message.get();
  state.headers.clear();
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      std::optional<std::string_view> v;
      if (value != nullptr) v.emplace(static_cast<const char*>(value), size);
      state.headers.push_back({name, v});
    }
  }
  segment::RecordView& view = state.view;
  view.offset = m->offset;
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  view.timestamp = rd_kafka_message_timestamp(m, &type);
  view.key.reset();
  view.value.reset();
  if (m->key != nullptr) view.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) view.value.emplace(static_cast<const char*>(m->payload), m->len);
  view.headers = state.headers;
  return &state.view;
}

void Consumer::Pop(int32_t partition) {
  auto it = impl_->partitions.find(partition);
  if (it != impl_->partitions.end()) it->second.message.reset();
}

}  // namespace sluice::cli::kafka
