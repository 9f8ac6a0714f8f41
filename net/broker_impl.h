#pragma once

// The broker's insides, shared by broker.cc (lifecycle, dispatch, metadata and admin APIs),
// data_handlers.cc (Produce, Fetch, ListOffsets) and group_handlers.cc (the consumer-group APIs).
// Not part of net/'s public API.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>

#include "engine/engine.h"
#include "net/admin_http.h"
#include "net/authorizer.h"
#include "net/broker.h"
#include "net/broker_metrics.h"
#include "net/fetch_waiters.h"
#include "net/group_coordinator.h"
#include "net/messages.h"
#include "net/server.h"

namespace sluice::net {

// Calls fn(code) with each error code in `r`: its own and those of the topics, partitions,
// groups, members and results it holds (as Kafka's errorCounts() for its ErrorsPerSec metric).
template <typename T, typename Fn>
void ForEachErrorCode(const T& r, const Fn& fn) {
  if constexpr (requires { r.error_code; }) {
    if constexpr (std::is_same_v<std::decay_t<decltype(r.error_code)>, KafkaError>) {
      fn(r.error_code);
    }
  }
  auto each = [&](const auto& list) {
    if constexpr (requires { list.begin(); }) {
      for (const auto& e : list) ForEachErrorCode(e, fn);
    }
  };
  if constexpr (requires { r.topics; }) each(r.topics);
  if constexpr (requires { r.responses; }) each(r.responses);
  if constexpr (requires { r.partitions; }) each(r.partitions);
  if constexpr (requires { r.results; }) each(r.results);
  if constexpr (requires { r.groups; }) each(r.groups);
  if constexpr (requires { r.members; }) each(r.members);
  if constexpr (requires { r.filter_results; }) each(r.filter_results);
}

// Counts the response's errors with the request's observer (metrics).
template <typename Response>
void NoteErrors(const Responder& responder, const Response& response) {
  ForEachErrorCode(response, [&](KafkaError code) {
    if (code != KafkaError::kNone) responder.NoteError(static_cast<int16_t>(code));
  });
}

// Encodes `response` at `version` and sends it.
template <typename Response>
void Reply(Responder& responder, int16_t version, const Response& response) {
  NoteErrors(responder, response);
  OutBuffer out;
  EncodeResponse(version, response, out);
  responder.Send(std::move(out));
}

// The Kafka error code for an engine error.
KafkaError ToKafkaError(const base::Error& error);

class Broker::Impl {
 public:
  Impl(BrokerOptions options)
      : options_(std::move(options)), requests_(base::SystemClock::Instance()) {}

  // Decodes and answers one request (a worker thread; see RequestHandlerFn).
  void Handle(std::shared_ptr<const RequestFrame> frame, Responder responder);

  // --- per API (each answers through `responder`) -----------------------------------------
  void Handle(const RequestHeader& h, const ApiVersionsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const MetadataRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const CreateTopicsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DeleteTopicsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DescribeConfigsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const AlterConfigsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DescribeClientQuotasRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const InitProducerIdRequest& req, Responder& responder);
  // Returns once every partition's batches are queued (Engine::AppendBatchesAsync); answers when
  // they are all written. `frame` holds the batches' bytes until then.
  void HandleProduce(const RequestHeader& h, const ProduceRequest& req,
                     std::shared_ptr<const RequestFrame> frame, Responder& responder);
  void Handle(const RequestHeader& h, const FetchRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const ListOffsetsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const OffsetCommitRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const OffsetFetchRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const FindCoordinatorRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const JoinGroupRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const SyncGroupRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const HeartbeatRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const LeaveGroupRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DescribeGroupsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const ListGroupsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DeleteGroupsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DescribeAclsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const CreateAclsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DeleteAclsRequest& req, Responder& responder);
  // admin_api_handlers.cc (the admin APIs of issue 13):
  void Handle(const RequestHeader& h, const IncrementalAlterConfigsRequest& req,
              Responder& responder);
  void Handle(const RequestHeader& h, const CreatePartitionsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DeleteRecordsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const OffsetDeleteRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DescribeClusterRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DescribeLogDirsRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DescribeProducersRequest& req, Responder& responder);

  // The request's authorisation (allows everything without an authorizer). Before the response.
  RequestAuth Auth(const Responder& responder) const {
    return authorizer_ ? authorizer_->ForRequest(responder.session()) : RequestAuth();
  }

  // sasl_handlers.cc:
  void Handle(const RequestHeader& h, const SaslHandshakeRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const SaslAuthenticateRequest& req, Responder& responder);
  void Handle(const RequestHeader& h, const DescribeUserScramCredentialsRequest& req,
              Responder& responder);
  void Handle(const RequestHeader& h, const AlterUserScramCredentialsRequest& req,
              Responder& responder);
  // A raw SASL token, after a SaslHandshake v0: answered with the server's raw token, or the
  // connection closed when authentication fails (as Kafka does).
  void HandleRawSaslToken(const RequestFrame& frame, Responder& responder);
  // The exchange in `session` ended with `user` logged in.
  static void Authenticated(Session& session, const std::string& user);
  // Whether a connection that has not authenticated yet may send this request (ApiVersions and the
  // SASL APIs); anything else closes it, as Kafka does.
  static bool AllowedBeforeAuthentication(int16_t api_key);
  // Checks sasl.enabled.mechanisms (Start).
  static Status ValidateSaslMechanisms(const std::vector<std::string>& mechanisms);

  // A fetch that may wait for data (long poll): runs, parks, runs again.
  struct ProduceCall;
  struct PendingFetch;
  void RunFetch(std::shared_ptr<PendingFetch> fetch);
  // A stored zstd batch a client cannot read as it is, made standard: decompressed (with the
  // partition's dictionary, from `dictionaries`, when it names one) for a client below Fetch v10,
  // or for a batch compressed with a dictionary; with `recompress`, compressed again with plain
  // zstd when that is smaller. nullptr when it does not fit the `room` left in the response
  // (unless it is the `first` batch) or memory is short now.
  Result<std::shared_ptr<const struct TranscodedBatch>> TranscodeForClient(
      const std::string& topic, int32_t partition, const engine::StoredBatch& batch,
      const base::ZstdDictionaries* dictionaries, bool recompress, bool first, size_t room);

  // Whether clients may see the topic (internal topics, "__*", are hidden from them).
  bool VisibleTopic(const std::string& name) const;
  // A partition's offsets for a client: kNotFound for internal topics too.
  Result<engine::PartitionStats> ClientPartitionStats(const std::string& topic,
                                                      int32_t partition) const;
  // The address advertised to a client of `session`'s listener.
  std::string AdvertisedHost(const Session& session) const;
  int32_t AdvertisedPort(const Session& session) const;
  const Listener* AdvertisedListener(const Session& session) const;

  // admin_handlers.cc: GET /livez, /readyz, /metrics (on the admin listener's thread).
  HttpResponse HandleAdmin(const HttpRequest& request);
  // The Prometheus page; with admin_mu_ held and ready_ set.
  std::string RenderMetricsLocked();
  // console_handlers.cc: the console's files and GET /api/v1/... (JSON); nullopt for other paths.
  std::optional<HttpResponse> HandleConsole(const HttpRequest& request);
  // The JSON API, with admin_mu_ held and ready_ set.
  HttpResponse HandleApiLocked(const HttpRequest& request);
  using QueryParams = std::map<std::string, std::string>;
  HttpResponse ApiTopicsLocked(const QueryParams& params);
  HttpResponse ApiTopicLocked(const std::string& topic, const QueryParams& params);
  HttpResponse ApiGroupsLocked(const QueryParams& params);
  HttpResponse ApiGroupLocked(const std::string& group, const QueryParams& params);
  HttpResponse ApiThroughputLocked(const QueryParams& params);
  HttpResponse ApiRecordsLocked(const QueryParams& params);
  struct GroupView;
  GroupView ViewGroupLocked(const std::string& group);
  // Groups with commits or members.
  std::set<std::string> GroupIdsLocked();
  // The admin listener's tick (every kThroughputIntervalMs): a sample of traffic_ into
  // throughput_. Needs no lock of the broker's (traffic_ and throughput_ outlive admin_).
  void SampleThroughput();
  static constexpr int64_t kThroughputIntervalMs = 1000;
  static constexpr int64_t kThroughputMaxMinutes = 10;
  // Partition rates span the last 10 s.
  static constexpr size_t kPartitionRateSamples = 11;

  // Why /readyz says 503 (ready_ false from now on).
  void SetNotReady(std::string why);
  void SetReady();

  BrokerOptions options_;
  RequestMetrics requests_;  // fed by every request's Responder (Handle)
  TrafficMetrics traffic_;   // fed by Produce and Fetch
  // Sampled from traffic_ by the admin listener's tick (SampleThroughput).
  ThroughputHistory throughput_{kThroughputMaxMinutes * 60'000 / kThroughputIntervalMs + 1,
                                kPartitionRateSamples};
  // Guards the admin thread's use of the broker: set (under admin_mu_) once Start is done, cleared
  // by Stop before anything is torn down; a scrape holds admin_mu_ while it reads the engine.
  std::mutex admin_mu_;
  std::atomic<bool> ready_{false};
  std::string not_ready_why_ = "starting";  // guarded by admin_mu_
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<FetchWaiters> waiters_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<Authorizer> authorizer_;  // null without an authorizer; borrows engine_
  std::unique_ptr<Server> server_;
  bool stopped_ = false;
  // Last, so that it is destroyed (its thread joined) first.
  std::unique_ptr<AdminHttpServer> admin_;
};

}  // namespace sluice::net
