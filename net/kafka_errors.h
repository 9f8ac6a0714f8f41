#pragma once

// Kafka protocol constants: error codes (https://kafka.apache.org/protocol#protocol_error_codes,
// numbers as in Apache Kafka's Errors.java), API keys, and the API versions `sluice serve`
// advertises (the ADVERTISE column of KAFKA_PROTOCOL.md: non-flexible versions only).

#include <cstdint>
#include <optional>
#include <span>

namespace sluice::net {

// A Kafka error code as sent on the wire. Values outside the named ones may appear (a response
// struct carries whatever the handler put there); KafkaErrorName names those "UNKNOWN".
enum class KafkaError : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kInvalidFetchSize = 4,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,  // NOT_LEADER_FOR_PARTITION before Kafka 2.6
  kRequestTimedOut = 7,
  kBrokerNotAvailable = 8,
  kReplicaNotAvailable = 9,
  kMessageTooLarge = 10,
  kOffsetMetadataTooLarge = 12,
  kNetworkException = 13,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopicException = 17,
  kRecordListTooLarge = 18,
  kNotEnoughReplicas = 19,
  kNotEnoughReplicasAfterAppend = 20,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kInvalidCommitOffsetSize = 28,
  kTopicAuthorizationFailed = 29,
  kGroupAuthorizationFailed = 30,
  kClusterAuthorizationFailed = 31,
  kInvalidTimestamp = 32,
  kUnsupportedSaslMechanism = 33,
  kIllegalSaslState = 34,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  kInvalidConfig = 40,
  kNotController = 41,
  kInvalidRequest = 42,
  kUnsupportedForMessageFormat = 43,
  kPolicyViolation = 44,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kInvalidTxnState = 48,
  kSecurityDisabled = 54,
  kKafkaStorageError = 56,
  kSaslAuthenticationFailed = 58,
  kUnknownProducerId = 59,
  kNonEmptyGroup = 68,
  kGroupIdNotFound = 69,
  kFetchSessionIdNotFound = 70,
  kInvalidFetchSessionEpoch = 71,
  kTopicDeletionDisabled = 73,
  kFencedLeaderEpoch = 74,
  kUnknownLeaderEpoch = 75,
  kUnsupportedCompressionType = 76,
  kOffsetNotAvailable = 78,
  kMemberIdRequired = 79,
  kGroupMaxSizeReached = 81,
  kFencedInstanceId = 82,
  kGroupSubscribedToTopic = 86,
  kInvalidRecord = 87,
  kUnstableOffsetCommit = 88,
  kThrottlingQuotaExceeded = 89,
  kProducerFenced = 90,
  kResourceNotFound = 91,
  kDuplicateResource = 92,
  kUnacceptableCredential = 93,
};

// Kafka's name for `error` ("UNKNOWN_TOPIC_OR_PARTITION"), or "UNKNOWN" for an unnamed code.
const char* KafkaErrorName(KafkaError error);

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kListGroups = 16,
  kSaslHandshake = 17,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kDeleteRecords = 21,
  kInitProducerId = 22,
  kDescribeAcls = 29,
  kCreateAcls = 30,
  kDeleteAcls = 31,
  kDescribeConfigs = 32,
  kAlterConfigs = 33,
  kDescribeLogDirs = 35,
  kSaslAuthenticate = 36,
  kCreatePartitions = 37,
  kDeleteGroups = 42,
  kIncrementalAlterConfigs = 44,
  kOffsetDelete = 47,
  kDescribeClientQuotas = 48,
  kDescribeUserScramCredentials = 50,
  kAlterUserScramCredentials = 51,
  kDescribeCluster = 60,
  kDescribeProducers = 61,
};

// Kafka's name for `key` ("Produce"), or "Unknown".
const char* ApiKeyName(ApiKey key);

// One row of the ApiVersions response: the versions of `key` that DecodeRequest accepts.
struct SupportedApi {
  ApiKey key;
  int16_t min_version;
  int16_t max_version;
};

// Every API we serve, in ApiKey order. Most maxima are the highest non-flexible version; flexible
// versions are served for the SCRAM-credential APIs, DescribeCluster and DescribeProducers (which
// exist only in flexible versions), ApiVersions v3-v4 (what librdkafka and Java clients send
// first: their parsers cannot read the KIP-511 fallback's v0 body as their v3 answer and retry),
// DescribeClientQuotas v1, and the admin APIs of issue 13
// (ListOffsets v6-7 for max-timestamp, DeleteRecords v2, DescribeLogDirs v2-4, CreatePartitions
// v2-3, IncrementalAlterConfigs v1, ListGroups v3-5, CreateTopics v5-7; IsFlexibleVersion says
// which);
// SaslHandshake v0 is listed because librdkafka requires it to see SASL support at all, but a v0
// handshake (raw SASL tokens after it, clients before Kafka 1.0) is answered UNSUPPORTED_VERSION
// (PROTOCOL.md); there is no OffsetForLeaderEpoch (leader epochs are -1 everywhere, see
// KAFKA_PROTOCOL.md gotcha 9). Produce starts at 0 for librdkafka's exact version checks (gotcha
// 1); v0-2 get UNSUPPORTED_VERSION per partition, as from Kafka 4.0.
inline constexpr SupportedApi kSupportedApis[] = {
    {ApiKey::kProduce, 0, 8},
    {ApiKey::kFetch, 4, 11},
    {ApiKey::kListOffsets, 1, 7},
    {ApiKey::kMetadata, 0, 8},
    {ApiKey::kOffsetCommit, 0, 7},
    {ApiKey::kOffsetFetch, 1, 5},
    {ApiKey::kFindCoordinator, 0, 2},
    {ApiKey::kJoinGroup, 0, 5},
    {ApiKey::kHeartbeat, 0, 3},
    {ApiKey::kLeaveGroup, 0, 3},
    {ApiKey::kSyncGroup, 0, 3},
    {ApiKey::kDescribeGroups, 0, 4},
    {ApiKey::kListGroups, 0, 5},
    {ApiKey::kSaslHandshake, 0, 1},
    {ApiKey::kApiVersions, 0, 4},
    {ApiKey::kCreateTopics, 2, 7},
    {ApiKey::kDeleteTopics, 1, 3},
    {ApiKey::kDeleteRecords, 0, 2},
    {ApiKey::kInitProducerId, 0, 1},
    {ApiKey::kDescribeAcls, 0, 1},
    {ApiKey::kCreateAcls, 0, 1},
    {ApiKey::kDeleteAcls, 0, 1},
    {ApiKey::kDescribeConfigs, 1, 3},
    {ApiKey::kAlterConfigs, 0, 1},
    {ApiKey::kDescribeLogDirs, 0, 4},
    {ApiKey::kSaslAuthenticate, 0, 1},
    {ApiKey::kCreatePartitions, 0, 3},
    {ApiKey::kDeleteGroups, 0, 1},
    {ApiKey::kIncrementalAlterConfigs, 0, 1},
    {ApiKey::kOffsetDelete, 0, 0},
    {ApiKey::kDescribeClientQuotas, 0, 1},
    {ApiKey::kDescribeUserScramCredentials, 0, 0},
    {ApiKey::kAlterUserScramCredentials, 0, 0},
    {ApiKey::kDescribeCluster, 0, 1},
    {ApiKey::kDescribeProducers, 0, 0},
};

// The row for the raw wire value `api_key`, or nullopt when we do not serve it.
constexpr std::optional<SupportedApi> FindSupportedApi(int16_t api_key) {
  for (const SupportedApi& api : kSupportedApis) {
    if (static_cast<int16_t>(api.key) == api_key) return api;
  }
  return std::nullopt;
}

// Whether DecodeRequest decodes `api_key` at `api_version` (ApiVersions above its maximum is
// decoded too, for the KIP-511 fallback, but is not "supported" here).
constexpr bool IsSupportedVersion(int16_t api_key, int16_t api_version) {
  const std::optional<SupportedApi> api = FindSupportedApi(api_key);
  return api.has_value() && api_version >= api->min_version && api_version <= api->max_version;
}

}  // namespace sluice::net
