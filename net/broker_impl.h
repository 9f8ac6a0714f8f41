#pragma once

// The broker's insides, shared by broker.cc (lifecycle, dispatch, metadata and admin APIs),
// data_handlers.cc (Produce, Fetch, ListOffsets) and group_handlers.cc (the consumer-group APIs).
// Not part of net/'s public API.

#include <memory>
#include <string>

#include "engine/engine.h"
#include "net/authorizer.h"
#include "net/broker.h"
#include "net/fetch_waiters.h"
#include "net/group_coordinator.h"
#include "net/messages.h"
#include "net/server.h"

namespace sluice::net {

// Encodes `response` at `version` and sends it.
template <typename Response>
void Reply(Responder& responder, int16_t version, const Response& response) {
  OutBuffer out;
  EncodeResponse(version, response, out);
  responder.Send(std::move(out));
}

// The Kafka error code for an engine error.
KafkaError ToKafkaError(const base::Error& error);

class Broker::Impl {
 public:
  Impl(BrokerOptions options) : options_(std::move(options)) {}

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
  // A stored zstd batch decompressed for a client below Fetch v10; nullptr when it does not fit
  // the `room` left in the response (unless it is the `first` batch) or memory is short now.
  Result<std::shared_ptr<const struct TranscodedBatch>> TranscodeForOldClient(
      const std::string& topic, int32_t partition, const engine::StoredBatch& batch, bool first,
      size_t room);

  // Whether clients may see the topic (internal topics, "__*", are hidden from them).
  bool VisibleTopic(const std::string& name) const;
  // A partition's offsets for a client: kNotFound for internal topics too.
  Result<engine::PartitionStats> ClientPartitionStats(const std::string& topic,
                                                      int32_t partition) const;
  // The address advertised to a client of `session`'s listener.
  std::string AdvertisedHost(const Session& session) const;
  int32_t AdvertisedPort(const Session& session) const;
  const Listener* AdvertisedListener(const Session& session) const;

  BrokerOptions options_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<FetchWaiters> waiters_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<Authorizer> authorizer_;  // null without an authorizer; borrows engine_
  std::unique_ptr<Server> server_;
  bool stopped_ = false;
};

}  // namespace sluice::net
