// SASL on a real broker over real sockets on 127.0.0.1 (net/broker.h, net/sasl_handlers.cc): a
// SASL_PLAINTEXT listener answers only ApiVersions and the SASL APIs before authentication and
// closes the connection on anything else; PLAIN and SCRAM-SHA-256/512 logins with users made
// through AlterUserScramCredentials (hand-made flexible requests on a PLAINTEXT listener);
// failures answer SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM or ILLEGAL_SASL_STATE and
// then close the connection; DescribeUserScramCredentials and its errors.

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "net/broker.h"
#include "net/messages.h"
#include "net/scram.h"
#include "segment/base/coding.h"
#include "segment/base/crypto.h"
#include "tests/support/loopback_socket.h"
#include "tests/support/test_util.h"

namespace sluice::net {
namespace {

using engine::ScramMechanism;

// A blocking Kafka client connection.
class Conn : public sluice::testing::LoopbackSocket {
 public:
  using LoopbackSocket::LoopbackSocket;

  // Sends `frame` (no size prefix); the response body after the correlation id, or nullopt when
  // the broker closed the connection instead.
  std::optional<std::string> RoundTrip(const std::string& frame) {
    if (!SendFrame(frame)) return std::nullopt;
    std::optional<std::string> response = ReadFrame();
    if (!response || response->size() < 4) return std::nullopt;
    return response->substr(4);
  }
};

std::string Header(ApiKey key, int16_t version, int32_t correlation_id = 7) {
  std::string f;
  WireWriter w(f);
  w.Int16(static_cast<int16_t>(key));
  w.Int16(version);
  w.Int32(correlation_id);
  w.String("sasl-test");
  return f;
}

std::string HandshakeFrame(const std::string& mechanism) {
  std::string f = Header(ApiKey::kSaslHandshake, 1);
  WireWriter(f).String(mechanism);
  return f;
}

std::string AuthenticateFrame(const std::string& token) {
  std::string f = Header(ApiKey::kSaslAuthenticate, 1);
  WireWriter(f).BytesField(base::AsBytes(token));
  return f;
}

std::string MetadataFrame() {
  std::string f = Header(ApiKey::kMetadata, 1);
  WireWriter(f).Int32(-1);  // all topics
  return f;
}

struct AuthAnswer {
  KafkaError error = KafkaError::kNone;
  std::string message;
  std::string bytes;
};

AuthAnswer ParseAuthenticate(const std::string& body) {
  WireReader r(base::AsBytes(body));
  AuthAnswer a;
  a.error = static_cast<KafkaError>(r.Int16());
  a.message = r.NullableString().value_or("");
  a.bytes = std::string(base::AsString(r.BytesField()));
  r.Int64();
  EXPECT_TRUE(r.ok() && r.remaining() == 0);
  return a;
}

KafkaError HandshakeError(const std::string& body) {
  WireReader r(base::AsBytes(body));
  return static_cast<KafkaError>(r.Int16());
}

class SaslBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BrokerOptions options;
    auto ls = ParseListeners("PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0");
    ASSERT_TRUE(ls.has_value());
    options.server.listeners = *ls;
    options.server.event_loops = 1;
    options.server.worker_threads = 2;
    auto broker = Broker::Start(testing::TestEngineOptions(dir_.path()), options);
    ASSERT_TRUE(broker.has_value()) << broker.error().ToString();
    broker_ = std::move(*broker);
    plain_port_ = broker_->port(0);
    sasl_port_ = broker_->port(1);
    // Users made as Kafka's admin client makes them: AlterUserScramCredentials with salted
    // passwords, on the PLAINTEXT listener.
    AlterUserScramCredentialsRequest alter;
    for (ScramMechanism m : engine::kScramMechanisms) {
      const std::string salt = "salt-of-alice-" + std::to_string(static_cast<int>(m));
      alter.upsertions.push_back({"alice", static_cast<int8_t>(m), 4096, salt,
                                  base::Pbkdf2(engine::ScramHash(m), "alice-secret", salt, 4096)});
    }
    const std::string salt = "bob-salt";
    alter.upsertions.push_back(
        {"bob", 1, 4096, salt, base::Pbkdf2(base::HashAlgorithm::kSha256, "bob-pw", salt, 4096)});
    Conn admin(plain_port_);
    auto body = admin.RoundTrip(EncodeRequestFrame(1, "test", alter));
    ASSERT_TRUE(body.has_value());
    auto resp = DecodeAlterUserScramCredentialsResponse(base::AsBytes(*body));
    ASSERT_TRUE(resp.has_value()) << resp.error().ToString();
    ASSERT_EQ(resp->results.size(), 2u);
    for (const auto& r : resp->results) EXPECT_EQ(r.error_code, KafkaError::kNone) << r.user;
  }
  void TearDown() override {
    if (broker_) {
      EXPECT_TRUE(broker_->Stop().has_value());
    }
  }

  // A SCRAM login on `conn`; the SaslAuthenticate error (kNone on success).
  KafkaError ScramLogin(Conn& conn, ScramMechanism m, const std::string& user,
                        const std::string& password) {
    auto hs = conn.RoundTrip(HandshakeFrame(std::string(engine::ScramMechanismName(m))));
    if (!hs || HandshakeError(*hs) != KafkaError::kNone) return KafkaError::kUnknownServerError;
    ScramClient client(m, user, password);
    auto first = conn.RoundTrip(AuthenticateFrame(client.First()));
    if (!first) return KafkaError::kUnknownServerError;
    AuthAnswer a = ParseAuthenticate(*first);
    if (a.error != KafkaError::kNone) return a.error;
    auto final_message = client.Final(a.bytes);
    if (!final_message) return KafkaError::kUnknownServerError;
    auto second = conn.RoundTrip(AuthenticateFrame(*final_message));
    if (!second) return KafkaError::kUnknownServerError;
    AuthAnswer b = ParseAuthenticate(*second);
    if (b.error == KafkaError::kNone) {
      EXPECT_TRUE(client.Verify(b.bytes).has_value());
    }
    return b.error;
  }

  testing::TempDir dir_;
  std::unique_ptr<Broker> broker_;
  uint16_t plain_port_ = 0;
  uint16_t sasl_port_ = 0;
};

TEST_F(SaslBrokerTest, ARequestBeforeAuthenticationClosesTheConnection) {
  Conn c(sasl_port_);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.RoundTrip(MetadataFrame()).has_value());
  EXPECT_TRUE(c.ClosedByServer());
  // The PLAINTEXT listener still answers without authentication.
  Conn p(plain_port_);
  EXPECT_TRUE(p.RoundTrip(MetadataFrame()).has_value());
}

TEST_F(SaslBrokerTest, ApiVersionsIsAnsweredBeforeAuthenticationAndListsTheSaslApis) {
  Conn c(sasl_port_);
  auto body = c.RoundTrip(Header(ApiKey::kApiVersions, 1));
  ASSERT_TRUE(body.has_value());
  EXPECT_NE(body->find(std::string("\x00\x11\x00\x00\x00\x01", 6)), std::string::npos);
  EXPECT_NE(body->find(std::string("\x00\x24\x00\x00\x00\x01", 6)), std::string::npos);
}

TEST_F(SaslBrokerTest, ScramLoginsWithBothMechanismsThenRequestsAreServed) {
  for (ScramMechanism m : engine::kScramMechanisms) {
    Conn c(sasl_port_);
    ASSERT_EQ(ScramLogin(c, m, "alice", "alice-secret"), KafkaError::kNone)
        << engine::ScramMechanismName(m);
    EXPECT_TRUE(c.RoundTrip(MetadataFrame()).has_value());
    // A second authentication on the same connection is ILLEGAL_SASL_STATE, answered.
    auto again = c.RoundTrip(AuthenticateFrame("n,,n=alice,r=abc"));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(ParseAuthenticate(*again).error, KafkaError::kIllegalSaslState);
    EXPECT_TRUE(c.RoundTrip(MetadataFrame()).has_value());
  }
}

TEST_F(SaslBrokerTest, ScramWrongPasswordOrUnknownUserFailsAndCloses) {
  struct Case {
    ScramMechanism m;
    std::string user;
    std::string password;
  };
  for (const Case& k : {Case{ScramMechanism::kSha512, "alice", "wrong"},
                        Case{ScramMechanism::kSha256, "nobody", "alice-secret"},
                        Case{ScramMechanism::kSha512, "bob", "bob-pw"}}) {  // bob: SHA-256 only
    Conn c(sasl_port_);
    EXPECT_EQ(ScramLogin(c, k.m, k.user, k.password), KafkaError::kSaslAuthenticationFailed)
        << k.user;
    EXPECT_TRUE(c.ClosedByServer()) << k.user;
  }
}

TEST_F(SaslBrokerTest, PlainChecksThePasswordAgainstTheScramCredential) {
  {
    Conn c(sasl_port_);
    auto hs = c.RoundTrip(HandshakeFrame("PLAIN"));
    ASSERT_TRUE(hs.has_value());
    ASSERT_EQ(HandshakeError(*hs), KafkaError::kNone);
    auto ok = c.RoundTrip(AuthenticateFrame(std::string("\0bob\0bob-pw", 11)));
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ParseAuthenticate(*ok).error, KafkaError::kNone);
    EXPECT_TRUE(c.RoundTrip(MetadataFrame()).has_value());
  }
  for (const std::string& token :
       {std::string("\0bob\0bob-PW", 11), std::string("\0eve\0bob-pw", 11),
        std::string("alice\0bob\0bob-pw", 16), std::string("garbage")}) {
    Conn c(sasl_port_);
    ASSERT_TRUE(c.RoundTrip(HandshakeFrame("PLAIN")).has_value());
    auto bad = c.RoundTrip(AuthenticateFrame(token));
    ASSERT_TRUE(bad.has_value());
    AuthAnswer a = ParseAuthenticate(*bad);
    EXPECT_EQ(a.error, KafkaError::kSaslAuthenticationFailed);
    EXPECT_FALSE(a.message.empty());
    EXPECT_TRUE(c.ClosedByServer());
  }
}

TEST_F(SaslBrokerTest, BadMechanismAndOutOfOrderRequestsAnswerThenClose) {
  {
    Conn c(sasl_port_);
    auto hs = c.RoundTrip(HandshakeFrame("GSSAPI"));
    ASSERT_TRUE(hs.has_value());
    EXPECT_EQ(HandshakeError(*hs), KafkaError::kUnsupportedSaslMechanism);
    EXPECT_NE(hs->find("SCRAM-SHA-512"), std::string::npos);  // the enabled ones are listed
    EXPECT_TRUE(c.ClosedByServer());
  }
  {
    Conn c(sasl_port_);
    auto auth = c.RoundTrip(AuthenticateFrame("n,,n=alice,r=abc"));
    ASSERT_TRUE(auth.has_value());
    EXPECT_EQ(ParseAuthenticate(*auth).error, KafkaError::kIllegalSaslState);
    EXPECT_TRUE(c.ClosedByServer());
  }
  {
    Conn c(plain_port_);  // not a SASL listener: answered, not closed
    auto hs = c.RoundTrip(HandshakeFrame("PLAIN"));
    ASSERT_TRUE(hs.has_value());
    EXPECT_EQ(HandshakeError(*hs), KafkaError::kIllegalSaslState);
    EXPECT_TRUE(c.RoundTrip(MetadataFrame()).has_value());
  }
}

TEST_F(SaslBrokerTest, DescribeAndAlterScramCredentialsFollowKafka) {
  Conn c(plain_port_);
  auto body = c.RoundTrip(EncodeRequestFrame(2, "t", DescribeUserScramCredentialsRequest{}));
  ASSERT_TRUE(body.has_value());
  auto all = DecodeDescribeUserScramCredentialsResponse(base::AsBytes(*body));
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  ASSERT_EQ(all->results.size(), 2u);
  EXPECT_EQ(all->results[0].user, "alice");
  ASSERT_EQ(all->results[0].credential_infos.size(), 2u);
  EXPECT_EQ(all->results[0].credential_infos[1].mechanism, 2);
  EXPECT_EQ(all->results[0].credential_infos[1].iterations, 4096);

  DescribeUserScramCredentialsRequest some;
  some.users = std::vector<std::string>{"bob", "nobody", "bob"};
  body = c.RoundTrip(EncodeRequestFrame(3, "t", some));
  ASSERT_TRUE(body.has_value());
  auto named = DecodeDescribeUserScramCredentialsResponse(base::AsBytes(*body));
  ASSERT_TRUE(named.has_value());
  ASSERT_EQ(named->results.size(), 2u);
  EXPECT_EQ(named->results[0].error_code, KafkaError::kDuplicateResource);
  EXPECT_EQ(named->results[1].error_code, KafkaError::kResourceNotFound);

  AlterUserScramCredentialsRequest alter;
  alter.upsertions.push_back({"carol", 2, 100, "s", std::string(64, 'x')});  // too few iterations
  alter.upsertions.push_back({"dave", 3, 4096, "s", std::string(64, 'x')});  // unknown mechanism
  alter.upsertions.push_back({"erin", 1, 4096, "s", std::string(12, 'x')});  // short password
  alter.deletions.push_back({"bob", 2});                                     // bob has no SHA-512
  alter.deletions.push_back({"alice", 1});
  alter.upsertions.push_back({"alice", 1, 4096, "s", std::string(32, 'x')});  // twice: duplicate
  body = c.RoundTrip(EncodeRequestFrame(4, "t", alter));
  ASSERT_TRUE(body.has_value());
  auto altered = DecodeAlterUserScramCredentialsResponse(base::AsBytes(*body));
  ASSERT_TRUE(altered.has_value());
  std::map<std::string, KafkaError> errors;
  for (const auto& r : altered->results) errors[r.user] = r.error_code;
  EXPECT_EQ(errors["carol"], KafkaError::kUnacceptableCredential);
  EXPECT_EQ(errors["dave"], KafkaError::kUnsupportedSaslMechanism);
  EXPECT_EQ(errors["erin"], KafkaError::kUnacceptableCredential);
  EXPECT_EQ(errors["bob"], KafkaError::kResourceNotFound);
  EXPECT_EQ(errors["alice"], KafkaError::kDuplicateResource);
  // alice's credentials were not touched.
  Conn s(sasl_port_);
  EXPECT_EQ(ScramLogin(s, ScramMechanism::kSha256, "alice", "alice-secret"), KafkaError::kNone);

  // Deleting bob's only credential removes bob: his login fails afterwards.
  AlterUserScramCredentialsRequest del;
  del.deletions.push_back({"bob", 1});
  body = c.RoundTrip(EncodeRequestFrame(5, "t", del));
  ASSERT_TRUE(body.has_value());
  auto deleted = DecodeAlterUserScramCredentialsResponse(base::AsBytes(*body));
  ASSERT_TRUE(deleted.has_value());
  ASSERT_EQ(deleted->results.size(), 1u);
  EXPECT_EQ(deleted->results[0].error_code, KafkaError::kNone);
  Conn b(sasl_port_);
  EXPECT_EQ(ScramLogin(b, ScramMechanism::kSha256, "bob", "bob-pw"),
            KafkaError::kSaslAuthenticationFailed);
}

std::string HandshakeV0Frame(const std::string& mechanism) {
  std::string f = Header(ApiKey::kSaslHandshake, 0);
  WireWriter(f).String(mechanism);
  return f;
}

// SaslHandshake v0 (kafka-python 2.0, clients before Kafka 1.0): the SASL tokens follow as raw
// frames, a size prefix and the bytes with no Kafka header, answered the same way; after the last
// one the connection speaks Kafka requests. A failed login closes the connection, as in Kafka.
TEST_F(SaslBrokerTest, HandshakeV0IsFollowedByRawSaslTokens) {
  {
    Conn c(sasl_port_);
    auto hs = c.RoundTrip(HandshakeV0Frame("PLAIN"));
    ASSERT_TRUE(hs.has_value());
    EXPECT_EQ(HandshakeError(*hs), KafkaError::kNone);
    ASSERT_TRUE(c.SendFrame(std::string("\0bob\0bob-pw", 11)));
    EXPECT_EQ(c.ReadFrame(), std::optional<std::string>(""));  // PLAIN's empty answer
    EXPECT_TRUE(c.RoundTrip(MetadataFrame()).has_value());
  }
  for (const std::string password : {"alice-secret", "wrong"}) {
    Conn c(sasl_port_);
    auto hs = c.RoundTrip(HandshakeV0Frame("SCRAM-SHA-512"));
    ASSERT_TRUE(hs.has_value());
    ASSERT_EQ(HandshakeError(*hs), KafkaError::kNone);
    ScramClient client(ScramMechanism::kSha512, "alice", password);
    ASSERT_TRUE(c.SendFrame(client.First()));
    std::optional<std::string> server_first = c.ReadFrame();
    ASSERT_TRUE(server_first.has_value());
    auto final_message = client.Final(*server_first);
    ASSERT_TRUE(final_message.has_value()) << final_message.error().ToString();
    ASSERT_TRUE(c.SendFrame(*final_message));
    if (password == "wrong") {
      EXPECT_TRUE(c.ClosedByServer());
      continue;
    }
    std::optional<std::string> server_final = c.ReadFrame();
    ASSERT_TRUE(server_final.has_value());
    EXPECT_TRUE(client.Verify(*server_final).has_value());
    EXPECT_TRUE(c.RoundTrip(MetadataFrame()).has_value());
  }
  {
    // A bad PLAIN token (shorter than any Kafka request, which a raw token may be): closed.
    Conn c(sasl_port_);
    ASSERT_TRUE(c.RoundTrip(HandshakeV0Frame("PLAIN")).has_value());
    ASSERT_TRUE(c.SendFrame(std::string("\0a\0b", 4)));
    EXPECT_TRUE(c.ClosedByServer());
  }
}

// sluice has no client quotas: a valid filter finds none, at v0 and v1 (flexible); a filter Kafka's
// broker refuses is INVALID_REQUEST with a null entries array, and the connection stays open.
TEST_F(SaslBrokerTest, DescribeClientQuotasFindsNoneAndChecksTheFilterAsKafka) {
  Conn c(plain_port_);
  DescribeClientQuotasRequest valid;
  valid.components.push_back({"user", 0, std::string("alice")});
  valid.components.push_back({"client-id", 2, std::nullopt});
  for (int16_t v : {0, 1}) {
    auto body = c.RoundTrip(EncodeRequestFrame(10 + v, "t", v, valid));
    ASSERT_TRUE(body.has_value()) << v;
    auto resp = DecodeDescribeClientQuotasResponse(v, base::AsBytes(*body));
    ASSERT_TRUE(resp.has_value()) << resp.error().ToString();
    EXPECT_EQ(resp->error_code, KafkaError::kNone);
    ASSERT_TRUE(resp->entries.has_value());
    EXPECT_TRUE(resp->entries->empty());
  }
  const std::vector<std::vector<DescribeClientQuotasRequest::Component>> invalid = {
      {{"topic", 2, std::nullopt}},                                // not a quota entity type
      {{"user", 3, std::nullopt}},                                 // no such match type
      {{"user", 0, std::nullopt}},                                 // exact match without a name
      {{"user", 1, std::nullopt}, {"user", 2, std::nullopt}},      // user twice
      {{"ip", 2, std::nullopt}, {"client-id", 2, std::nullopt}}};  // ip with client-id
  for (const auto& components : invalid) {
    DescribeClientQuotasRequest req;
    req.components = components;
    auto body = c.RoundTrip(EncodeRequestFrame(20, "t", 1, req));
    ASSERT_TRUE(body.has_value()) << components[0].entity_type;
    auto resp = DecodeDescribeClientQuotasResponse(1, base::AsBytes(*body));
    ASSERT_TRUE(resp.has_value());
    EXPECT_EQ(resp->error_code, KafkaError::kInvalidRequest) << components[0].entity_type;
    EXPECT_TRUE(resp->error_message.has_value());
    EXPECT_FALSE(resp->entries.has_value());
  }
}

}  // namespace
}  // namespace sluice::net
