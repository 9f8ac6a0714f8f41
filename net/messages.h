#pragma once

// The Kafka requests and responses `sluice serve` handles, as plain structs, with the request
// decoder and the response encoders. Non-flexible versions (kSupportedApis), but for the two
// SCRAM-credential APIs, which exist only in flexible versions (net/wire.h's compact fields),
// ApiVersions v3-v4 (any later version gets the KIP-511 fallback), and the flexible versions of the
// admin APIs of issue 13 and ListOffsets v6-7 (IsFlexibleVersion). Field names are the snake_case
// of Apache Kafka's message specs (clients/src/main/resources/common/message/*.json); a comment
// "vN+" marks a field that exists on the wire only from version N (and keeps its default below
// that).
//
// Decoding never trusts the bytes: a short, malformed or oversized field is an Error, never a crash
// or an allocation beyond O(frame size). Values are not validated (acks = 5 or a negative timeout
// come back as sent, for the handler to answer with a Kafka error code); lengths and counts are.
//
// Lifetime: the base::Bytes fields of a decoded request (Produce records) are views into the frame
// handed to DecodeRequest, which must outlive the request. Everything else is copied.

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "net/kafka_errors.h"
#include "net/out_buffer.h"
#include "net/wire.h"
#include "segment/base/result.h"

namespace sluice::net {

// Request header v1 (v2, flexible, for ApiVersions v3+: its tagged fields are skipped).
struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
};

// The authorized-operations bitfield's "not requested" value (Kafka's default, INT32_MIN).
inline constexpr int32_t kNoAuthorizedOperations = std::numeric_limits<int32_t>::min();

// --- Produce (0) -------------------------------------------------------------------------------

struct ProduceRequest {
  struct Partition {
    int32_t index = 0;
    std::optional<Bytes> records;  // view into the frame; RecordBatches (v3+) or a MessageSet
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::optional<std::string> transactional_id;  // v3+
  int16_t acks = 0;
  int32_t timeout_ms = 0;
  std::vector<Topic> topics;
};

struct ProduceResponse {
  struct RecordError {
    int32_t batch_index = 0;
    std::optional<std::string> batch_index_error_message;
  };
  struct Partition {
    int32_t index = 0;
    KafkaError error_code = KafkaError::kNone;
    int64_t base_offset = -1;
    int64_t log_append_time_ms = -1;           // v2+; -1 unless the topic uses LogAppendTime
    int64_t log_start_offset = -1;             // v5+
    std::vector<RecordError> record_errors;    // v8+
    std::optional<std::string> error_message;  // v8+
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> responses;
  int32_t throttle_time_ms = 0;  // v1+ (written after the responses)
};

// --- Fetch (1) ---------------------------------------------------------------------------------

struct FetchRequest {
  struct Partition {
    int32_t partition = 0;
    int32_t current_leader_epoch = -1;  // v9+
    int64_t fetch_offset = 0;
    int64_t log_start_offset = -1;  // v5+ (followers only)
    int32_t partition_max_bytes = 0;
  };
  struct Topic {
    std::string topic;
    std::vector<Partition> partitions;
  };
  struct ForgottenTopic {
    std::string topic;
    std::vector<int32_t> partitions;
  };
  int32_t replica_id = -1;
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = std::numeric_limits<int32_t>::max();  // v3+
  int8_t isolation_level = 0;                               // v4+
  int32_t session_id = 0;                                   // v7+
  int32_t session_epoch = -1;                               // v7+
  std::vector<Topic> topics;
  std::vector<ForgottenTopic> forgotten_topics_data;  // v7+
  std::string rack_id;                                // v11+
};

struct FetchResponse {
  struct AbortedTransaction {
    int64_t producer_id = 0;
    int64_t first_offset = 0;
  };
  struct Partition {
    int32_t partition_index = 0;
    KafkaError error_code = KafkaError::kNone;
    int64_t high_watermark = -1;
    int64_t last_stable_offset = -1;                                      // v4+
    int64_t log_start_offset = -1;                                        // v5+
    std::optional<std::vector<AbortedTransaction>> aborted_transactions;  // v4+; nullopt = null
    int32_t preferred_read_replica = -1;                                  // v11+
    // The records field: these stored batches back to back, sent by reference (zero copy). The
    // views must outlive the OutBuffer (OutBuffer::AddPin). None: an empty (length 0) field.
    std::vector<Bytes> batches;
  };
  struct Topic {
    std::string topic;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;               // v1+
  KafkaError error_code = KafkaError::kNone;  // v7+
  int32_t session_id = 0;                     // v7+
  std::vector<Topic> responses;
};

// --- ListOffsets (2) ---------------------------------------------------------------------------

struct ListOffsetsRequest {
  struct Partition {
    int32_t partition_index = 0;
    int32_t current_leader_epoch = -1;  // v4+
    int64_t timestamp = 0;  // -1 latest, -2 earliest, -3 max timestamp (v7+), else a time in ms
    int32_t max_num_offsets = 1;  // v0 only
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t replica_id = -1;
  int8_t isolation_level = 0;  // v2+
  std::vector<Topic> topics;
};

struct ListOffsetsResponse {
  struct Partition {
    int32_t partition_index = 0;
    KafkaError error_code = KafkaError::kNone;
    std::vector<int64_t> old_style_offsets;  // v0 only
    int64_t timestamp = -1;                  // v1+
    int64_t offset = -1;                     // v1+
    int32_t leader_epoch = -1;               // v4+
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v2+
  std::vector<Topic> topics;
};

// --- Metadata (3) ------------------------------------------------------------------------------

struct MetadataRequest {
  // Topic names; nullopt = all topics (v0: the empty array, v1+: the null array), empty = none.
  std::optional<std::vector<std::string>> topics;
  bool allow_auto_topic_creation = true;               // v4+
  bool include_cluster_authorized_operations = false;  // v8+
  bool include_topic_authorized_operations = false;    // v8+
};

struct MetadataResponse {
  struct Broker {
    int32_t node_id = 0;
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;  // v1+
  };
  struct Partition {
    KafkaError error_code = KafkaError::kNone;
    int32_t partition_index = 0;
    int32_t leader_id = -1;
    int32_t leader_epoch = -1;  // v7+
    std::vector<int32_t> replica_nodes;
    std::vector<int32_t> isr_nodes;
    std::vector<int32_t> offline_replicas;  // v5+
  };
  struct Topic {
    KafkaError error_code = KafkaError::kNone;
    std::string name;
    bool is_internal = false;  // v1+
    std::vector<Partition> partitions;
    int32_t topic_authorized_operations = kNoAuthorizedOperations;  // v8+
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Broker> brokers;
  std::optional<std::string> cluster_id;  // v2+
  int32_t controller_id = -1;             // v1+
  std::vector<Topic> topics;
  int32_t cluster_authorized_operations = kNoAuthorizedOperations;  // v8+
};

// --- OffsetCommit (8) --------------------------------------------------------------------------

struct OffsetCommitRequest {
  struct Partition {
    int32_t partition_index = 0;
    int64_t committed_offset = 0;
    int32_t committed_leader_epoch = -1;  // v6+
    int64_t commit_timestamp = -1;        // v1 only
    std::optional<std::string> committed_metadata;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::string group_id;
  int32_t generation_id = -1;                    // v1+
  std::string member_id;                         // v1+
  std::optional<std::string> group_instance_id;  // v7+
  int64_t retention_time_ms = -1;                // v2-v4
  std::vector<Topic> topics;
};

struct OffsetCommitResponse {
  struct Partition {
    int32_t partition_index = 0;
    KafkaError error_code = KafkaError::kNone;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Topic> topics;
};

// --- OffsetFetch (9) ---------------------------------------------------------------------------

struct OffsetFetchRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partition_indexes;
  };
  std::string group_id;
  std::optional<std::vector<Topic>> topics;  // nullopt (v2+ null array) = all committed offsets
};

struct OffsetFetchResponse {
  struct Partition {
    int32_t partition_index = 0;
    int64_t committed_offset = -1;
    int32_t committed_leader_epoch = -1;  // v5+
    std::optional<std::string> metadata;
    KafkaError error_code = KafkaError::kNone;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Topic> topics;
  KafkaError error_code = KafkaError::kNone;  // v2+ (written after the topics)
};

// --- FindCoordinator (10) ----------------------------------------------------------------------

struct FindCoordinatorRequest {
  std::string key;
  int8_t key_type = 0;  // v1+: 0 group, 1 transaction
};

struct FindCoordinatorResponse {
  int32_t throttle_time_ms = 0;  // v1+
  KafkaError error_code = KafkaError::kNone;
  std::optional<std::string> error_message;  // v1+
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
};

// --- JoinGroup (11) ----------------------------------------------------------------------------

struct JoinGroupRequest {
  struct Protocol {
    std::string name;
    std::string metadata;  // opaque subscription bytes (copied)
  };
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = -1;  // v1+ (v0: use session_timeout_ms)
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v5+
  std::string protocol_type;
  std::vector<Protocol> protocols;
};

struct JoinGroupResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;  // v5+
    std::string metadata;
  };
  int32_t throttle_time_ms = 0;  // v2+
  KafkaError error_code = KafkaError::kNone;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<Member> members;  // the leader's copy only; empty for followers
};

// --- Heartbeat (12) ----------------------------------------------------------------------------

struct HeartbeatRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
};

struct HeartbeatResponse {
  int32_t throttle_time_ms = 0;  // v1+
  KafkaError error_code = KafkaError::kNone;
};

// --- LeaveGroup (13) ---------------------------------------------------------------------------

struct LeaveGroupRequest {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
  };
  std::string group_id;
  std::string member_id;        // v0-v2
  std::vector<Member> members;  // v3+
};

struct LeaveGroupResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    KafkaError error_code = KafkaError::kNone;
  };
  int32_t throttle_time_ms = 0;  // v1+
  KafkaError error_code = KafkaError::kNone;
  std::vector<Member> members;  // v3+
};

// --- SyncGroup (14) ----------------------------------------------------------------------------

struct SyncGroupRequest {
  struct Assignment {
    std::string member_id;
    std::string assignment;  // opaque (copied)
  };
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
  std::vector<Assignment> assignments;           // the leader's only
};

struct SyncGroupResponse {
  int32_t throttle_time_ms = 0;  // v1+
  KafkaError error_code = KafkaError::kNone;
  std::string assignment;
};

// --- DescribeGroups (15) -----------------------------------------------------------------------

struct DescribeGroupsRequest {
  std::vector<std::string> groups;
  bool include_authorized_operations = false;  // v3+
};

struct DescribeGroupsResponse {
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;  // v4+
    std::string client_id;
    std::string client_host;
    std::string member_metadata;
    std::string member_assignment;
  };
  struct Group {
    KafkaError error_code = KafkaError::kNone;
    std::string group_id;
    std::string group_state;
    std::string protocol_type;
    std::string protocol_data;
    std::vector<Member> members;
    int32_t authorized_operations = kNoAuthorizedOperations;  // v3+
  };
  int32_t throttle_time_ms = 0;  // v1+
  std::vector<Group> groups;
};

// --- ListGroups (16) ---------------------------------------------------------------------------

// v3+ is flexible. An empty filter matches every group.
struct ListGroupsRequest {
  std::vector<std::string> states_filter;  // v4+ (KIP-518): state names, matched ignoring case
  std::vector<std::string> types_filter;   // v5+ (KIP-848): "classic", "consumer", ...
};

struct ListGroupsResponse {
  struct Group {
    std::string group_id;
    std::string protocol_type;
    std::string group_state;  // v4+
    std::string group_type;   // v5+ ("classic": sluice has no other kind)
  };
  int32_t throttle_time_ms = 0;  // v1+
  KafkaError error_code = KafkaError::kNone;
  std::vector<Group> groups;
};

// --- ApiVersions (18) --------------------------------------------------------------------------

// v0-v2 have an empty body; v3+ (flexible) names the client's software. Above kSupportedApis'
// maximum the body is not parsed: the request decodes with only its header, for the KIP-511
// fallback answer (EncodeApiVersionsFallback). A v3+ body that does not parse still decodes, with
// `well_formed` false (answered INVALID_REQUEST, not by closing the connection).
struct ApiVersionsRequest {
  std::string client_software_name;     // v3+
  std::string client_software_version;  // v3+
  bool well_formed = true;
};

// Whether a v3+ client_software_name or _version is what Kafka accepts: letters, digits, '-' and
// '.', starting and ending with a letter or digit (Kafka answers INVALID_REQUEST otherwise).
bool ValidClientSoftwareField(std::string_view s);

struct ApiVersionsResponse {
  struct ApiVersion {
    int16_t api_key = 0;
    int16_t min_version = 0;
    int16_t max_version = 0;
  };
  KafkaError error_code = KafkaError::kNone;
  std::vector<ApiVersion> api_keys;
  int32_t throttle_time_ms = 0;  // v1+ (written after api_keys)
};

// The api_keys array for kSupportedApis.
std::vector<ApiVersionsResponse::ApiVersion> SupportedApiVersions();

// --- CreateTopics (19) -------------------------------------------------------------------------

struct CreateTopicsRequest {
  struct Assignment {
    int32_t partition_index = 0;
    std::vector<int32_t> broker_ids;
  };
  struct Config {
    std::string name;
    std::optional<std::string> value;
  };
  struct Topic {
    std::string name;
    int32_t num_partitions = -1;      // -1: from the assignments or the broker default (v4+)
    int16_t replication_factor = -1;  // -1: likewise
    std::vector<Assignment> assignments;
    std::vector<Config> configs;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 60000;
  bool validate_only = false;  // v1+
};

struct CreateTopicsResponse {
  // v5+ (KIP-525): the created topic's configuration, as DescribeConfigs would describe it.
  struct Config {
    std::string name;
    std::optional<std::string> value;
    bool read_only = false;
    int8_t config_source = -1;
    bool is_sensitive = false;
  };
  struct Topic {
    std::string name;
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;  // v1+
    // v7+: the topic id (16 bytes, Kafka's Uuid); all zeros when unknown (an error).
    std::array<uint8_t, 16> topic_id{};
    // v5+, a tagged field (tag 0), written only when not NONE: why `configs` is absent
    // (TOPIC_AUTHORIZATION_FAILED without DESCRIBE_CONFIGS on the topic).
    KafkaError topic_config_error_code = KafkaError::kNone;
    int32_t num_partitions = -1;                                         // v5+; -1 on an error
    int16_t replication_factor = -1;                                     // v5+; -1 on an error
    std::optional<std::vector<Config>> configs = std::vector<Config>();  // v5+ (nullable)
  };
  int32_t throttle_time_ms = 0;  // v2+
  std::vector<Topic> topics;
};

// --- DeleteTopics (20) -------------------------------------------------------------------------

struct DeleteTopicsRequest {
  std::vector<std::string> topic_names;
  int32_t timeout_ms = 0;
};

struct DeleteTopicsResponse {
  struct TopicResult {
    std::string name;
    KafkaError error_code = KafkaError::kNone;
  };
  int32_t throttle_time_ms = 0;  // v1+
  std::vector<TopicResult> responses;
};

// --- InitProducerId (22) -----------------------------------------------------------------------

struct InitProducerIdRequest {
  std::optional<std::string> transactional_id;
  int32_t transaction_timeout_ms = 0;
};

struct InitProducerIdResponse {
  int32_t throttle_time_ms = 0;
  KafkaError error_code = KafkaError::kNone;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
};

// --- DescribeConfigs (32) ----------------------------------------------------------------------

struct DescribeConfigsRequest {
  struct Resource {
    int8_t resource_type = 0;  // 2 topic, 4 broker, 8 broker logger
    std::string resource_name;
    std::optional<std::vector<std::string>> configuration_keys;  // nullopt = all
  };
  std::vector<Resource> resources;
  bool include_synonyms = false;       // v1+
  bool include_documentation = false;  // v3+
};

struct DescribeConfigsResponse {
  struct Synonym {
    std::string name;
    std::optional<std::string> value;
    int8_t source = 0;
  };
  struct Config {
    std::string name;
    std::optional<std::string> value;
    bool read_only = false;
    bool is_default = false;    // v0 only
    int8_t config_source = -1;  // v1+
    bool is_sensitive = false;
    std::vector<Synonym> synonyms;             // v1+
    int8_t config_type = 0;                    // v3+
    std::optional<std::string> documentation;  // v3+
  };
  struct ResourceResult {
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
    int8_t resource_type = 0;
    std::string resource_name;
    std::vector<Config> configs;
  };
  int32_t throttle_time_ms = 0;
  std::vector<ResourceResult> results;
};

// --- AlterConfigs (33) ------------------------------------------------------------------------

// Replaces the whole dynamic configuration of each resource (keys not named return to their
// defaults), as Kafka's non-incremental AlterConfigs does.
struct AlterConfigsRequest {
  struct Config {
    std::string name;
    std::optional<std::string> value;
  };
  struct Resource {
    int8_t resource_type = 0;  // 2 topic, 4 broker
    std::string resource_name;
    std::vector<Config> configs;
  };
  std::vector<Resource> resources;
  bool validate_only = false;
};

struct AlterConfigsResponse {
  struct Resource {
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
    int8_t resource_type = 0;
    std::string resource_name;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Resource> responses;
};

// --- DeleteGroups (42) -------------------------------------------------------------------------

struct DeleteGroupsRequest {
  std::vector<std::string> groups_names;
};

struct DeleteGroupsResponse {
  struct GroupResult {
    std::string group_id;
    KafkaError error_code = KafkaError::kNone;
  };
  int32_t throttle_time_ms = 0;
  std::vector<GroupResult> results;
};

// --- DescribeAcls (29), CreateAcls (30), DeleteAcls (31) ---------------------------------------
// Enum fields carry the wire codes of engine/acl_store.h (resource type, pattern type, operation,
// permission), unchecked: the handler refuses unknown values. v0 has no pattern type: LITERAL.

struct AclFilterFields {
  int8_t resource_type_filter = 0;
  std::optional<std::string> resource_name_filter;
  int8_t pattern_type_filter = 3;  // v1+
  std::optional<std::string> principal_filter;
  std::optional<std::string> host_filter;
  int8_t operation = 0;
  int8_t permission_type = 0;
};

struct DescribeAclsRequest {
  AclFilterFields filter;
};

struct AclDescription {
  std::string principal;
  std::string host;
  int8_t operation = 0;
  int8_t permission_type = 0;
};

struct DescribeAclsResponse {
  struct Resource {
    int8_t resource_type = 0;
    std::string resource_name;
    int8_t pattern_type = 3;  // v1+
    std::vector<AclDescription> acls;
  };
  int32_t throttle_time_ms = 0;
  KafkaError error_code = KafkaError::kNone;
  std::optional<std::string> error_message;
  std::vector<Resource> resources;
};

struct CreateAclsRequest {
  struct Creation {
    int8_t resource_type = 0;
    std::string resource_name;
    int8_t resource_pattern_type = 3;  // v1+
    std::string principal;
    std::string host;
    int8_t operation = 0;
    int8_t permission_type = 0;
  };
  std::vector<Creation> creations;
};

struct CreateAclsResponse {
  struct Result {
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Result> results;
};

struct DeleteAclsRequest {
  std::vector<AclFilterFields> filters;
};

struct DeleteAclsResponse {
  struct MatchingAcl {
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
    int8_t resource_type = 0;
    std::string resource_name;
    int8_t pattern_type = 3;  // v1+
    std::string principal;
    std::string host;
    int8_t operation = 0;
    int8_t permission_type = 0;
  };
  struct FilterResult {
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
    std::vector<MatchingAcl> matching_acls;
  };
  int32_t throttle_time_ms = 0;
  std::vector<FilterResult> filter_results;
};

// --- SaslHandshake (17) -----------------------------------------------------------------------

struct SaslHandshakeRequest {
  std::string mechanism;
};

struct SaslHandshakeResponse {
  KafkaError error_code = KafkaError::kNone;
  std::vector<std::string> mechanisms;  // the enabled ones
};

// --- SaslAuthenticate (36) ---------------------------------------------------------------------

struct SaslAuthenticateRequest {
  std::string auth_bytes;  // one SASL token
};

struct SaslAuthenticateResponse {
  KafkaError error_code = KafkaError::kNone;
  std::optional<std::string> error_message;
  std::string auth_bytes;
  int64_t session_lifetime_ms = 0;  // v1+; 0 = no re-authentication (KIP-368)
};

// --- DescribeClientQuotas (48); v1 flexible -----------------------------------------------------
// sluice has no client quotas: a valid filter matches nothing (see PROTOCOL.md).

struct DescribeClientQuotasRequest {
  struct Component {
    std::string entity_type;           // "user", "client-id" or "ip"
    int8_t match_type = 0;             // 0 exact name, 1 the default entity, 2 any specified
    std::optional<std::string> match;  // the name, for match_type 0
  };
  std::vector<Component> components;
  bool strict = false;
};

struct DescribeClientQuotasResponse {
  struct EntityPart {
    std::string entity_type;
    std::optional<std::string> entity_name;  // null: the default entity
  };
  struct Value {
    std::string key;
    double value = 0;
  };
  struct Entry {
    std::vector<EntityPart> entity;
    std::vector<Value> values;
  };
  int32_t throttle_time_ms = 0;
  KafkaError error_code = KafkaError::kNone;
  std::optional<std::string> error_message;
  std::optional<std::vector<Entry>> entries;  // null with an error
};

// --- DescribeUserScramCredentials (50), flexible only -------------------------------------------

struct DescribeUserScramCredentialsRequest {
  std::optional<std::vector<std::string>> users;  // null or empty = every user
};

struct DescribeUserScramCredentialsResponse {
  struct CredentialInfo {
    int8_t mechanism = 0;  // 1 SCRAM-SHA-256, 2 SCRAM-SHA-512
    int32_t iterations = 0;
  };
  struct UserResult {
    std::string user;
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
    std::vector<CredentialInfo> credential_infos;
  };
  int32_t throttle_time_ms = 0;
  KafkaError error_code = KafkaError::kNone;
  std::optional<std::string> error_message;
  std::vector<UserResult> results;
};

// --- AlterUserScramCredentials (51), flexible only ----------------------------------------------

struct AlterUserScramCredentialsRequest {
  struct Deletion {
    std::string name;
    int8_t mechanism = 0;
  };
  struct Upsertion {
    std::string name;
    int8_t mechanism = 0;
    int32_t iterations = 0;
    std::string salt;
    std::string salted_password;
  };
  std::vector<Deletion> deletions;
  std::vector<Upsertion> upsertions;
};

struct AlterUserScramCredentialsResponse {
  struct UserResult {
    std::string user;
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
  };
  int32_t throttle_time_ms = 0;
  std::vector<UserResult> results;
};

// --- The admin APIs of issue 13 (messages_admin.cc) ---------------------------------------------
// Flexible versions as Kafka's specs say (IsFlexibleVersion): compact strings and arrays, tagged
// fields (skipped on reading, none written) at the end of every structure.

// --- DeleteRecords (21); v2 flexible ------------------------------------------------------------

struct DeleteRecordsRequest {
  struct Partition {
    int32_t partition_index = 0;
    int64_t offset = 0;  // the new log start offset; -1 = the high watermark
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 0;
};

struct DeleteRecordsResponse {
  struct Partition {
    int32_t partition_index = 0;
    int64_t low_watermark = -1;
    KafkaError error_code = KafkaError::kNone;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Topic> topics;
};

// --- DescribeLogDirs (35); v2+ flexible ---------------------------------------------------------

struct DescribeLogDirsRequest {
  struct Topic {
    std::string topic;
    std::vector<int32_t> partitions;
  };
  std::optional<std::vector<Topic>> topics;  // null = every partition
};

struct DescribeLogDirsResponse {
  struct Partition {
    int32_t partition_index = 0;
    int64_t partition_size = 0;
    int64_t offset_lag = 0;
    bool is_future_key = false;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  struct Result {
    KafkaError error_code = KafkaError::kNone;
    std::string log_dir;
    std::vector<Topic> topics;
    int64_t total_bytes = -1;   // v4+
    int64_t usable_bytes = -1;  // v4+
  };
  int32_t throttle_time_ms = 0;
  KafkaError error_code = KafkaError::kNone;  // v3+
  std::vector<Result> results;
};

// --- CreatePartitions (37); v2+ flexible --------------------------------------------------------

struct CreatePartitionsRequest {
  struct Topic {
    std::string name;
    int32_t count = 0;  // the new partition count
    // Broker ids per new partition; null = the broker chooses.
    std::optional<std::vector<std::vector<int32_t>>> assignments;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 0;
  bool validate_only = false;
};

struct CreatePartitionsResponse {
  struct Result {
    std::string name;
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Result> results;
};

// --- IncrementalAlterConfigs (44); v1 flexible --------------------------------------------------

struct IncrementalAlterConfigsRequest {
  struct Config {
    std::string name;
    int8_t config_operation = 0;  // 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT
    std::optional<std::string> value;
  };
  struct Resource {
    int8_t resource_type = 0;
    std::string resource_name;
    std::vector<Config> configs;
  };
  std::vector<Resource> resources;
  bool validate_only = false;
};

struct IncrementalAlterConfigsResponse {
  struct Resource {
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
    int8_t resource_type = 0;
    std::string resource_name;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Resource> responses;
};

// --- OffsetDelete (47) --------------------------------------------------------------------------

struct OffsetDeleteRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partitions;
  };
  std::string group_id;
  std::vector<Topic> topics;
};

struct OffsetDeleteResponse {
  struct Partition {
    int32_t partition_index = 0;
    KafkaError error_code = KafkaError::kNone;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  KafkaError error_code = KafkaError::kNone;
  int32_t throttle_time_ms = 0;
  std::vector<Topic> topics;
};

// --- DescribeCluster (60); flexible only --------------------------------------------------------

struct DescribeClusterRequest {
  bool include_cluster_authorized_operations = false;
  int8_t endpoint_type = 1;  // v1+: 1 brokers, 2 controllers
};

struct DescribeClusterResponse {
  struct Broker {
    int32_t broker_id = 0;
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;
  };
  int32_t throttle_time_ms = 0;
  KafkaError error_code = KafkaError::kNone;
  std::optional<std::string> error_message;
  int8_t endpoint_type = 1;  // v1+
  std::string cluster_id;
  int32_t controller_id = -1;
  std::vector<Broker> brokers;
  int32_t cluster_authorized_operations = std::numeric_limits<int32_t>::min();
};

// --- DescribeProducers (61); flexible only ------------------------------------------------------

struct DescribeProducersRequest {
  struct Topic {
    std::string name;
    std::vector<int32_t> partition_indexes;
  };
  std::vector<Topic> topics;
};

struct DescribeProducersResponse {
  struct Producer {
    int64_t producer_id = 0;
    int32_t producer_epoch = 0;
    int32_t last_sequence = -1;
    int64_t last_timestamp = -1;
    int32_t coordinator_epoch = -1;
    int64_t current_txn_start_offset = -1;
  };
  struct Partition {
    int32_t partition_index = 0;
    KafkaError error_code = KafkaError::kNone;
    std::optional<std::string> error_message;
    std::vector<Producer> active_producers;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;
  std::vector<Topic> topics;
};

// --- Decoding ----------------------------------------------------------------------------------

using Request =
    std::variant<ProduceRequest, FetchRequest, ListOffsetsRequest, MetadataRequest,
                 OffsetCommitRequest, OffsetFetchRequest, FindCoordinatorRequest, JoinGroupRequest,
                 HeartbeatRequest, LeaveGroupRequest, SyncGroupRequest, DescribeGroupsRequest,
                 ListGroupsRequest, ApiVersionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
                 InitProducerIdRequest, DescribeConfigsRequest, DeleteGroupsRequest,
                 AlterConfigsRequest, DescribeAclsRequest, CreateAclsRequest, DeleteAclsRequest,
                 SaslHandshakeRequest, SaslAuthenticateRequest, DescribeUserScramCredentialsRequest,
                 AlterUserScramCredentialsRequest, DescribeClientQuotasRequest,
                 DeleteRecordsRequest, DescribeLogDirsRequest, CreatePartitionsRequest,
                 IncrementalAlterConfigsRequest, OffsetDeleteRequest, DescribeClusterRequest,
                 DescribeProducersRequest>;

struct DecodedRequest {
  RequestHeader header;
  Request body;
};

// Reads a request header from `reader` (positioned at the start of a frame): v1, or v2 for the
// flexible versions (IsFlexibleVersion), whose tagged fields are skipped (for ApiVersions v3+ they
// never fail the decode). Does not check that
// the API or version is supported. kInvalidArgument when the header itself is cut short.
Result<RequestHeader> DecodeRequestHeader(WireReader& reader);

// The header of `frame` (one request without its 4-byte size prefix), for answering a request
// that DecodeRequest refused (the correlation id) or logging it.
Result<RequestHeader> PeekRequestHeader(Bytes frame);

// Decodes one request (`frame` without its size prefix). Errors:
//   kUnsupportedVersion - an api_key we do not serve, or a version outside kSupportedApis (the
//                         context names both); ApiVersions above its maximum is NOT an error: it
//                         decodes to an ApiVersionsRequest for the KIP-511 fallback;
//   kInvalidArgument    - a malformed or truncated body, or bytes left after it.
// The Bytes views in the result point into `frame`.
Result<DecodedRequest> DecodeRequest(Bytes frame);

// --- Encoding ----------------------------------------------------------------------------------

// Each writes the response BODY for `api_version` (the one the request was decoded at) to `out`:
// the caller writes the size prefix and the response header (correlation id; ApiVersions always
// uses header v0, and so do all the non-flexible versions here).
void EncodeResponse(int16_t api_version, const ProduceResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const FetchResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const ListOffsetsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const MetadataResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const OffsetCommitResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const OffsetFetchResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const FindCoordinatorResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const JoinGroupResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const HeartbeatResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const LeaveGroupResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const SyncGroupResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const DescribeGroupsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const ListGroupsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const ApiVersionsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const CreateTopicsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const DeleteTopicsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const InitProducerIdResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const DescribeConfigsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const DeleteGroupsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const AlterConfigsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const DescribeAclsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const CreateAclsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const DeleteAclsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const SaslHandshakeResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const SaslAuthenticateResponse& response, OutBuffer& out);
// v1 is flexible: its body starts with response header v1's (empty) tagged fields.
void EncodeResponse(int16_t api_version, const DescribeClientQuotasResponse& response,
                    OutBuffer& out);
// Flexible: these bodies start with response header v1's tagged fields (empty), the part of the
// header after the correlation id that the server writes.
void EncodeResponse(int16_t api_version, const DescribeUserScramCredentialsResponse& response,
                    OutBuffer& out);
void EncodeResponse(int16_t api_version, const AlterUserScramCredentialsResponse& response,
                    OutBuffer& out);

// The admin APIs of issue 13; a flexible version's body starts with response header v1's (empty)
// tagged fields.
void EncodeResponse(int16_t api_version, const DeleteRecordsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const DescribeLogDirsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const CreatePartitionsResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const IncrementalAlterConfigsResponse& response,
                    OutBuffer& out);
void EncodeResponse(int16_t api_version, const OffsetDeleteResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const DescribeClusterResponse& response, OutBuffer& out);
void EncodeResponse(int16_t api_version, const DescribeProducersResponse& response, OutBuffer& out);

// Whether `api_key` at `api_version` uses a flexible version (request header v2, response header
// v1 but for ApiVersions, compact fields, tagged fields).
bool IsFlexibleVersion(int16_t api_key, int16_t api_version);

// Request encoders for the SCRAM-credential APIs, for the CLI's --broker mode and tests: the whole
// frame without its size prefix (request header v2 with `correlation_id` and `client_id`).
std::string EncodeRequestFrame(int32_t correlation_id, const std::string& client_id,
                               const DescribeUserScramCredentialsRequest& request);
std::string EncodeRequestFrame(int32_t correlation_id, const std::string& client_id,
                               const AlterUserScramCredentialsRequest& request);
// DescribeClientQuotas at `api_version` (0 or 1), for tests: the whole frame as above (header v1
// for v0, v2 for v1).
std::string EncodeRequestFrame(int32_t correlation_id, const std::string& client_id,
                               int16_t api_version, const DescribeClientQuotasRequest& request);
// Response decoders for the same (the body after the correlation id, header tagged fields
// included).
Result<DescribeUserScramCredentialsResponse> DecodeDescribeUserScramCredentialsResponse(Bytes body);
Result<AlterUserScramCredentialsResponse> DecodeAlterUserScramCredentialsResponse(Bytes body);
Result<DescribeClientQuotasResponse> DecodeDescribeClientQuotasResponse(int16_t api_version,
                                                                        Bytes body);

// The KIP-511 answer to an ApiVersions request above our maximum: a v0-format body with
// UNSUPPORTED_VERSION and the full api_keys array, so the client retries at a version we serve.
void EncodeApiVersionsFallback(OutBuffer& out);

}  // namespace sluice::net
