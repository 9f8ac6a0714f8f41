// The SASL APIs (SaslHandshake, SaslAuthenticate) and the SCRAM-credential APIs
// (DescribeUserScramCredentials, AlterUserScramCredentials), with Kafka's semantics: see
// net/PROTOCOL.md, "SASL".

#include <set>

#include "net/broker_impl.h"
#include "net/scram.h"
#include "segment/base/log.h"

namespace sluice::net {

using base::ErrorCode;
using engine::ScramMechanism;

// The exchange a connection's SaslHandshake started (net/session.h holds it).
struct SaslExchange {
  std::string mechanism;
  std::unique_ptr<ScramServer> scram;  // for the SCRAM mechanisms
};

namespace {

constexpr const char kPlain[] = "PLAIN";

// Authentication failures: warnings, at most one a second (with a count of those held back).
void LogFailure(const Session& session, const std::string& mechanism, const std::string& user,
                const std::string& why) {
  static base::RateLimitedLog log(base::LogLevel::kWarning, 1000);
  log.Log("serve: SASL authentication failed from " + session.peer + " on listener " +
          session.listener->name + " (" + mechanism +
          (user.empty() ? std::string() : ", user '" + user + "'") + "): " + why);
}

void LogSuccess(const Session& session, const std::string& mechanism) {
  static base::RateLimitedLog log(base::LogLevel::kInfo, 1000);
  log.Log("serve: " + session.peer + " authenticated as " + session.principal + " with " +
          mechanism + " on listener " + session.listener->name);
}

SaslAuthenticateResponse Failure(KafkaError error, std::string message) {
  SaslAuthenticateResponse resp;
  resp.error_code = error;
  resp.error_message = std::move(message);
  return resp;
}

template <typename Response>
void ReplyThenClose(Responder& responder, int16_t version, const Response& response,
                    std::string why) {
  OutBuffer out;
  EncodeResponse(version, response, out);
  responder.SendThenClose(std::move(out), std::move(why));
}

// The message a client is told for a failed exchange, and what the log says.
std::string ClientMessage(const std::string& mechanism, const base::Error& error) {
  switch (error.code) {
    case ErrorCode::kNotFound:
    case ErrorCode::kRefused:
      return "Authentication failed during authentication due to invalid credentials with SASL "
             "mechanism " +
             mechanism + ": " + error.context;
    case ErrorCode::kInvalidArgument:
      return "Authentication failed: " + error.context;
    default:
      return "Authentication failed: the broker cannot read its users (" + error.context + ")";
  }
}

std::string LogReason(const base::Error& error) {
  switch (error.code) {
    case ErrorCode::kNotFound:
      return "unknown user";
    case ErrorCode::kRefused:
      return "bad credentials: " + error.context;
    case ErrorCode::kInvalidArgument:
      return error.context;
    default:
      return "the users file cannot be read: " + error.ToString();
  }
}

// One client token of an exchange (a SaslAuthenticate's, or a raw one after SaslHandshake v0).
struct SaslStep {
  std::optional<base::Error> error;  // the exchange failed
  std::string user;                  // who is logging in, as far as known
  std::string bytes;                 // the server's answer
  bool done = false;                 // authenticated as `user`
};

SaslStep StepExchange(engine::Engine& engine, SaslExchange& exchange, const std::string& token) {
  SaslStep step;
  if (exchange.scram == nullptr) {  // PLAIN: one token
    auto parsed = ParsePlainToken(token);
    if (!parsed) {
      step.error = parsed.error();
      return step;
    }
    step.user = parsed->user;
    if (!parsed->authzid.empty() && parsed->authzid != parsed->user) {
      step.error = base::MakeError(ErrorCode::kRefused,
                                   "the client requested an authorization id that is different "
                                   "from username");
      return step;
    }
    // Checked against the user's SCRAM credential: SHA-512's if there is one, else SHA-256's.
    std::optional<engine::ScramCredential> credential;
    ScramMechanism used = ScramMechanism::kSha512;
    for (ScramMechanism m : {ScramMechanism::kSha512, ScramMechanism::kSha256}) {
      auto found = engine.FindScramCredential(parsed->user, m);
      if (!found) {
        step.error = found.error();
        return step;
      }
      if (*found) {
        credential = std::move(*found);
        used = m;
        break;
      }
    }
    if (!credential) {
      step.error = base::MakeError(ErrorCode::kNotFound, "Invalid username or password");
    } else if (!engine::ScramPasswordMatches(used, *credential, parsed->password)) {
      step.error = base::MakeError(ErrorCode::kRefused, "Invalid username or password");
    } else {
      step.done = true;
    }
    return step;
  }
  auto answer = exchange.scram->Step(token);
  step.user = exchange.scram->user();
  if (!answer) {
    step.error = answer.error();
    return step;
  }
  step.bytes = std::move(*answer);
  step.done = exchange.scram->done();
  return step;
}

}  // namespace

bool Broker::Impl::AllowedBeforeAuthentication(int16_t api_key) {
  return api_key == static_cast<int16_t>(ApiKey::kApiVersions) ||
         api_key == static_cast<int16_t>(ApiKey::kSaslHandshake) ||
         api_key == static_cast<int16_t>(ApiKey::kSaslAuthenticate);
}

Status Broker::Impl::ValidateSaslMechanisms(const std::vector<std::string>& mechanisms) {
  std::set<std::string> seen;
  for (const std::string& m : mechanisms) {
    if (m != kPlain && !engine::ParseScramMechanism(m)) {
      return base::MakeError(
          ErrorCode::kInvalidArgument,
          "sasl.enabled.mechanisms: '" + m + "' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512");
    }
    if (!seen.insert(m).second) {
      return base::MakeError(ErrorCode::kInvalidArgument,
                             "sasl.enabled.mechanisms: '" + m + "' is listed twice");
    }
  }
  return {};
}

void Broker::Impl::Handle(const RequestHeader& h, const SaslHandshakeRequest& req,
                          Responder& responder) {
  Session& session = responder.session();
  SaslHandshakeResponse resp;
  resp.mechanisms = options_.sasl_enabled_mechanisms;
  if (!UsesSasl(session.listener->protocol) || session.authenticated || session.sasl != nullptr) {
    // Kafka: a handshake on a non-SASL listener or after authentication is ILLEGAL_SASL_STATE;
    // a second handshake during the exchange also closes the connection.
    resp.error_code = KafkaError::kIllegalSaslState;
    if (!session.authenticated) {
      ReplyThenClose(responder, h.api_version, resp, "a second SaslHandshake");
      return;
    }
    Reply(responder, h.api_version, resp);
    return;
  }
  const auto& enabled = options_.sasl_enabled_mechanisms;
  if (std::find(enabled.begin(), enabled.end(), req.mechanism) == enabled.end()) {
    resp.error_code = KafkaError::kUnsupportedSaslMechanism;
    LogFailure(session, req.mechanism, "", "mechanism not enabled");
    ReplyThenClose(responder, h.api_version, resp,
                   "SASL mechanism '" + req.mechanism + "' is not enabled");
    return;
  }
  auto exchange = std::make_shared<SaslExchange>();
  exchange->mechanism = req.mechanism;
  if (const auto scram = engine::ParseScramMechanism(req.mechanism)) {
    engine::Engine* engine = engine_.get();
    const ScramMechanism mechanism = *scram;
    exchange->scram =
        std::make_unique<ScramServer>(mechanism, [engine, mechanism](const std::string& user) {
          return engine->FindScramCredential(user, mechanism);
        });
  }
  session.sasl = std::move(exchange);
  // After v1 the tokens come in SaslAuthenticate requests; after v0 (clients before Kafka 1.0,
  // and kafka-python 2.0) as raw frames: a size prefix, then the SASL bytes (PROTOCOL.md).
  OutBuffer out;
  EncodeResponse(h.api_version, resp, out);
  responder.Send(std::move(out),
                 h.api_version == 0 ? NextFrame::kRawSaslToken : NextFrame::kRequest);
}

void Broker::Impl::Handle(const RequestHeader& h, const SaslAuthenticateRequest& req,
                          Responder& responder) {
  Session& session = responder.session();
  if (!UsesSasl(session.listener->protocol) || session.authenticated) {
    // As Kafka: answered, the connection stays.
    Reply(responder, h.api_version,
          Failure(KafkaError::kIllegalSaslState,
                  "SaslAuthenticate request received after successful authentication"));
    return;
  }
  if (session.sasl == nullptr) {
    ReplyThenClose(responder, h.api_version,
                   Failure(KafkaError::kIllegalSaslState,
                           "Unexpected SaslAuthenticate request before SaslHandshake"),
                   "SaslAuthenticate before SaslHandshake");
    return;
  }
  SaslExchange& exchange = *session.sasl;
  const std::string mechanism = exchange.mechanism;
  SaslStep step = StepExchange(*engine_, exchange, req.auth_bytes);
  if (step.error) {
    LogFailure(session, mechanism, step.user, LogReason(*step.error));
    session.sasl.reset();
    ReplyThenClose(
        responder, h.api_version,
        Failure(KafkaError::kSaslAuthenticationFailed, ClientMessage(mechanism, *step.error)),
        "SASL authentication failed");
    return;
  }
  if (step.done) Authenticated(session, step.user);
  SaslAuthenticateResponse resp;
  resp.auth_bytes = std::move(step.bytes);
  resp.session_lifetime_ms = 0;
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::HandleRawSaslToken(const RequestFrame& frame, Responder& responder) {
  Session& session = responder.session();
  if (session.sasl == nullptr || session.authenticated) {  // the server only reads one after v0
    responder.Close("a raw SASL token outside a SaslHandshake v0 exchange");
    return;
  }
  SaslExchange& exchange = *session.sasl;
  const std::string mechanism = exchange.mechanism;
  SaslStep step = StepExchange(*engine_, exchange, std::string(base::AsString(frame.bytes())));
  if (step.error) {
    // Kafka closes the connection: the raw exchange has no way to say why.
    LogFailure(session, mechanism, step.user, LogReason(*step.error));
    session.sasl.reset();
    responder.Close("SASL authentication failed", /*misbehaved=*/false);
    return;
  }
  if (step.done) Authenticated(session, step.user);
  OutBuffer out;
  out.writer().Raw(step.bytes);
  // After the last token the connection reads Kafka requests again (PLAIN's is empty).
  responder.Send(std::move(out), step.done ? NextFrame::kRequest : NextFrame::kRawSaslToken);
}

void Broker::Impl::Authenticated(Session& session, const std::string& user) {
  session.principal = "User:" + user;
  session.authenticated = true;
  const std::string mechanism = session.sasl->mechanism;
  session.sasl.reset();
  LogSuccess(session, mechanism);
}

// --- SCRAM credentials ---------------------------------------------------------------------------

void Broker::Impl::Handle(const RequestHeader& h, const DescribeUserScramCredentialsRequest& req,
                          Responder& responder) {
  DescribeUserScramCredentialsResponse resp;
  if (!Auth(responder).AllowedOnCluster(AclOperation::kDescribe)) {
    resp.error_code = KafkaError::kClusterAuthorizationFailed;
    resp.error_message = "Describe on the cluster is needed to list SCRAM users";
    Reply(responder, h.api_version, resp);
    return;
  }
  auto users = engine_->ListScramUsers();
  if (!users) {
    resp.error_code = KafkaError::kKafkaStorageError;
    resp.error_message = users.error().ToString();
    Reply(responder, h.api_version, resp);
    return;
  }
  auto describe = [&](const std::string& name,
                      const std::map<ScramMechanism, engine::ScramCredential>& creds) {
    DescribeUserScramCredentialsResponse::UserResult r;
    r.user = name;
    for (const auto& [m, c] : creds) {
      r.credential_infos.push_back({static_cast<int8_t>(m), c.iterations});
    }
    return r;
  };
  if (!req.users || req.users->empty()) {
    for (const auto& [name, creds] : *users) resp.results.push_back(describe(name, creds));
  } else {
    std::map<std::string, int> counts;
    for (const std::string& name : *req.users) ++counts[name];
    std::set<std::string> answered;
    for (const std::string& name : *req.users) {
      if (!answered.insert(name).second) continue;
      DescribeUserScramCredentialsResponse::UserResult r;
      if (counts[name] > 1) {
        r.user = name;
        r.error_code = KafkaError::kDuplicateResource;
        r.error_message =
            "Cannot describe SCRAM credentials for the same user twice in a single "
            "request: " +
            name;
      } else if (auto it = users->find(name); it == users->end()) {
        r.user = name;
        r.error_code = KafkaError::kResourceNotFound;
        r.error_message = "Attempt to describe a user credential that does not exist: " + name;
      } else {
        r = describe(name, it->second);
      }
      resp.results.push_back(std::move(r));
    }
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const AlterUserScramCredentialsRequest& req,
                          Responder& responder) {
  AlterUserScramCredentialsResponse resp;
  // Kafka: a (user, mechanism) pair named more than once in one request (deletions and
  // upsertions together) gets DUPLICATE_RESOURCE for the user, and none of its changes are made.
  std::map<std::pair<std::string, int8_t>, int> counts;
  for (const auto& d : req.deletions) ++counts[{d.name, d.mechanism}];
  for (const auto& u : req.upsertions) ++counts[{u.name, u.mechanism}];
  std::map<std::string, AlterUserScramCredentialsResponse::UserResult> results;
  auto set_error = [&](const std::string& user, KafkaError error, std::string message) {
    auto& r = results[user];
    r.user = user;
    if (r.error_code == KafkaError::kNone) {
      r.error_code = error;
      r.error_message = std::move(message);
    }
  };
  // Kafka: without Alter on the cluster every user's result is CLUSTER_AUTHORIZATION_FAILED.
  const bool allowed = Auth(responder).AllowedOnCluster(AclOperation::kAlter);
  for (const auto& [key, n] : counts) {
    const std::string& user = key.first;
    results[user].user = user;
    if (!allowed) {
      set_error(user, KafkaError::kClusterAuthorizationFailed,
                "Alter on the cluster is needed to change SCRAM users");
    } else if (n > 1) {
      set_error(user, KafkaError::kDuplicateResource,
                "A user credential cannot be altered twice in the same request");
    } else if (Status s = engine::ValidateScramUserName(user); !s) {
      set_error(user, KafkaError::kUnacceptableCredential, s.error().context);
    }
  }
  for (const auto& d : req.deletions) {
    if (results[d.name].error_code != KafkaError::kNone) continue;
    const auto mechanism = engine::ScramMechanismFromCode(d.mechanism);
    if (!mechanism) {
      set_error(d.name, KafkaError::kUnsupportedSaslMechanism, "Unknown SCRAM mechanism");
      continue;
    }
    Status s = engine_->DeleteScramCredential(d.name, *mechanism);
    if (!s && s.error().code == ErrorCode::kNotFound) {
      set_error(d.name, KafkaError::kResourceNotFound,
                "Attempt to delete a user credential that does not exist");
    } else if (!s) {
      set_error(d.name, KafkaError::kKafkaStorageError, s.error().ToString());
    } else {
      base::LogInfo("serve: SCRAM credential " +
                    std::string(engine::ScramMechanismName(*mechanism)) + " of user '" + d.name +
                    "' deleted by " + responder.session().principal + " from " + responder.peer());
    }
  }
  for (const auto& u : req.upsertions) {
    if (results[u.name].error_code != KafkaError::kNone) continue;
    const auto mechanism = engine::ScramMechanismFromCode(u.mechanism);
    if (!mechanism) {
      set_error(u.name, KafkaError::kUnsupportedSaslMechanism, "Unknown SCRAM mechanism");
      continue;
    }
    if (u.iterations < engine::kMinScramIterations) {
      set_error(u.name, KafkaError::kUnacceptableCredential, "Too few iterations");
      continue;
    }
    if (u.iterations > engine::kMaxScramIterations) {
      set_error(u.name, KafkaError::kUnacceptableCredential, "Too many iterations");
      continue;
    }
    if (u.salt.empty() ||
        u.salted_password.size() != base::DigestBytes(engine::ScramHash(*mechanism))) {
      set_error(u.name, KafkaError::kUnacceptableCredential,
                "An empty salt, or a salted password of the wrong length for the mechanism");
      continue;
    }
    const engine::ScramCredential credential = engine::ScramCredentialFromSaltedPassword(
        *mechanism, u.salted_password, u.salt, u.iterations);
    if (Status s = engine_->UpsertScramCredential(u.name, *mechanism, credential); !s) {
      set_error(u.name, KafkaError::kKafkaStorageError, s.error().ToString());
    } else {
      base::LogInfo("serve: SCRAM credential " +
                    std::string(engine::ScramMechanismName(*mechanism)) + " of user '" + u.name +
                    "' set by " + responder.session().principal + " from " + responder.peer());
    }
  }
  for (auto& [user, r] : results) resp.results.push_back(std::move(r));
  Reply(responder, h.api_version, resp);
}

}  // namespace sluice::net
