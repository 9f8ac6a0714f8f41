// SASL mechanisms (net/scram.h) and the crypto under them (segment/base/crypto.h): known-answer
// vectors (FIPS 180 SHA-256, RFC 4231 HMAC, RFC 7914 PBKDF2, RFC 7677's SCRAM-SHA-256 exchange),
// a full exchange with each mechanism, and each way an exchange fails: tampered proof, nonce
// mismatch, wrong channel binding, unknown user, authorization id, malformed messages.

#include "net/scram.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "segment/base/crypto.h"
#include "tests/support/test_util.h"

namespace sluice::net {
namespace {

using base::ErrorCode;
using base::HashAlgorithm;
using engine::ScramCredential;
using engine::ScramMechanism;

// RFC 7677, section 3.
constexpr char kRfcClientNonce[] = "rOprNGfwEbeRWgbNEkqO";
constexpr char kRfcServerNonce[] = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr char kRfcSalt[] = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr char kRfcClientFirst[] = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr char kRfcServerFirst[] =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr char kRfcClientFinal[] =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
// HMAC(ServerKey, AuthMessage) of the example's inputs, checked independently with Python's
// hashlib and hmac (which also give the client proof above).
constexpr char kRfcServerFinal[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

std::string Hex(std::string_view s) { return base::HexEncode(s); }

TEST(CryptoTest, KnownAnswers) {
  EXPECT_EQ(Hex(base::Hash(HashAlgorithm::kSha256, "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(base::Hash(HashAlgorithm::kSha512, "abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(Hex(base::Hmac(HashAlgorithm::kSha256, "Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Hex(base::Pbkdf2(HashAlgorithm::kSha256, "passwd", "salt", 1)),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
}

TEST(CryptoTest, Base64AndHexRoundTripAndRejectGarbage) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    ASSERT_OK_AND_ASSIGN(std::string back, base::Base64Decode(base::Base64Encode(s)));
    EXPECT_EQ(back, s);
    ASSERT_OK_AND_ASSIGN(std::string hex_back, base::HexDecode(base::HexEncode(s)));
    EXPECT_EQ(hex_back, s);
  }
  EXPECT_EQ(base::Base64Encode("pencil"), "cGVuY2ls");
  EXPECT_FALSE(base::Base64Decode("abc").has_value());
  EXPECT_FALSE(base::Base64Decode("ab!d").has_value());
  EXPECT_FALSE(base::Base64Decode("a===").has_value());
  EXPECT_FALSE(base::HexDecode("abc").has_value());
  EXPECT_FALSE(base::HexDecode("zz").has_value());
  EXPECT_TRUE(base::ConstantTimeEqual("abc", "abc"));
  EXPECT_FALSE(base::ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(base::ConstantTimeEqual("abc", "abcd"));
  ASSERT_OK_AND_ASSIGN(std::string r1, base::SecureRandomBytes(32));
  ASSERT_OK_AND_ASSIGN(std::string r2, base::SecureRandomBytes(32));
  EXPECT_EQ(r1.size(), 32u);
  EXPECT_NE(r1, r2);
}

ScramCredential RfcCredential() {
  const std::string salt = base::Base64Decode(kRfcSalt).value();
  const std::string salted = base::Pbkdf2(HashAlgorithm::kSha256, "pencil", salt, 4096);
  return engine::ScramCredentialFromSaltedPassword(ScramMechanism::kSha256, salted, salt, 4096);
}

// A lookup over a map of users.
ScramCredentialLookup Lookup(std::map<std::string, ScramCredential> users) {
  return [users = std::move(users)](
             const std::string& user) -> base::Result<std::optional<ScramCredential>> {
    auto it = users.find(user);
    if (it == users.end()) return std::optional<ScramCredential>();
    return std::optional<ScramCredential>(it->second);
  };
}

TEST(ScramServerTest, Rfc7677ExchangeGivesTheRfcMessages) {
  ScramServer server(ScramMechanism::kSha256, Lookup({{"user", RfcCredential()}}), kRfcServerNonce);
  ASSERT_OK_AND_ASSIGN(std::string server_first, server.Step(kRfcClientFirst));
  EXPECT_EQ(server_first, kRfcServerFirst);
  EXPECT_FALSE(server.done());
  ASSERT_OK_AND_ASSIGN(std::string server_final, server.Step(kRfcClientFinal));
  EXPECT_EQ(server_final, kRfcServerFinal);
  EXPECT_TRUE(server.done());
  EXPECT_EQ(server.user(), "user");
  // Nothing after the end.
  EXPECT_FALSE(server.Step(kRfcClientFinal).has_value());
}

TEST(ScramClientTest, Rfc7677ExchangeGivesTheRfcMessages) {
  ScramClient client(ScramMechanism::kSha256, "user", "pencil", kRfcClientNonce);
  EXPECT_EQ(client.First(), kRfcClientFirst);
  ASSERT_OK_AND_ASSIGN(std::string final_message, client.Final(kRfcServerFirst));
  EXPECT_EQ(final_message, kRfcClientFinal);
  EXPECT_OK(client.Verify(kRfcServerFinal));
  EXPECT_FALSE(client.Verify("v=AAAA").has_value());
}

// A full exchange between our client and server; the server's error if it fails.
base::Status Exchange(ScramMechanism mechanism, const ScramCredential& stored,
                      const std::string& user, const std::string& password) {
  ScramServer server(mechanism, Lookup({{"alice", stored}}));
  ScramClient client(mechanism, user, password);
  ASSIGN_OR_RETURN(std::string server_first, server.Step(client.First()));
  ASSIGN_OR_RETURN(std::string client_final, client.Final(server_first));
  ASSIGN_OR_RETURN(std::string server_final, server.Step(client_final));
  EXPECT_TRUE(server.done());
  return client.Verify(server_final);
}

TEST(ScramServerTest, FullExchangesWithBothMechanisms) {
  for (ScramMechanism m : engine::kScramMechanisms) {
    ASSERT_OK_AND_ASSIGN(ScramCredential cred, engine::NewScramCredential(m, "s3cret", 4096));
    EXPECT_OK(Exchange(m, cred, "alice", "s3cret"));
    auto wrong = Exchange(m, cred, "alice", "s3cret!");
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().code, ErrorCode::kRefused);
    auto unknown = Exchange(m, cred, "bob", "s3cret");
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  }
}

TEST(ScramServerTest, TamperedProofNonceAndChannelBindingAreRefused) {
  const std::string good = kRfcClientFinal;
  const std::string tampered_proof = good.substr(0, good.size() - 5) +
                                     (good[good.size() - 5] == 'A' ? "B" : "A") +
                                     good.substr(good.size() - 4);
  const std::string other_nonce =
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  const std::string other_binding =  // "y,," instead of "n,,"
      "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  const std::string short_proof =
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA";
  for (const std::string& final_message :
       std::vector<std::string>{tampered_proof, other_nonce, other_binding, short_proof}) {
    ScramServer server(ScramMechanism::kSha256, Lookup({{"user", RfcCredential()}}),
                       kRfcServerNonce);
    ASSERT_OK(server.Step(kRfcClientFirst));
    auto r = server.Step(final_message);
    ASSERT_FALSE(r.has_value()) << final_message;
    EXPECT_EQ(r.error().code, ErrorCode::kRefused) << final_message;
    EXPECT_FALSE(server.done());
    // A failed exchange stays failed.
    EXPECT_FALSE(server.Step(kRfcClientFinal).has_value());
  }
}

// librdkafka 2.0 sends "r=" + its client nonce + the server's whole nonce; Kafka checks only that
// the nonce ends with the server's, and so does sluice. The proof covers the message as sent.
TEST(ScramServerTest, AcceptsAClientFinalNonceThatEndsWithTheServerNonce) {
  ScramServer server(ScramMechanism::kSha256, Lookup({{"user", RfcCredential()}}), kRfcServerNonce);
  ASSERT_OK(server.Step(kRfcClientFirst));
  const std::string without_proof =
      std::string("c=biws,r=") + kRfcClientNonce + kRfcClientNonce + kRfcServerNonce;
  const std::string auth_message =
      std::string(kRfcClientFirst).substr(3) + "," + kRfcServerFirst + "," + without_proof;
  const std::string salted =
      base::Pbkdf2(HashAlgorithm::kSha256, "pencil", base::Base64Decode(kRfcSalt).value(), 4096);
  const std::string client_key = base::Hmac(HashAlgorithm::kSha256, salted, "Client Key");
  const std::string signature = base::Hmac(
      HashAlgorithm::kSha256, base::Hash(HashAlgorithm::kSha256, client_key), auth_message);
  std::string proof = client_key;
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<char>(proof[i] ^ signature[i]);
  ASSERT_OK_AND_ASSIGN(std::string server_final,
                       server.Step(without_proof + ",p=" + base::Base64Encode(proof)));
  EXPECT_TRUE(server.done());
  EXPECT_EQ(server_final.substr(0, 2), "v=");
  // A nonce that merely starts with the server's is not accepted.
  ScramServer other(ScramMechanism::kSha256, Lookup({{"user", RfcCredential()}}), kRfcServerNonce);
  ASSERT_OK(other.Step(kRfcClientFirst));
  const std::string longer = std::string("c=biws,r=") + kRfcClientNonce + kRfcServerNonce + "x";
  auto r = other.Step(longer + ",p=" + base::Base64Encode(proof));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kRefused);
}

TEST(ScramServerTest, AuthorizationIdOtherThanTheUserAndDelegationTokensAreRefused) {
  for (const char* first : {"n,a=admin,n=user,r=abc", "n,,n=user,r=abc,tokenauth=true"}) {
    ScramServer server(ScramMechanism::kSha256, Lookup({{"user", RfcCredential()}}));
    auto r = server.Step(first);
    ASSERT_FALSE(r.has_value()) << first;
    EXPECT_EQ(r.error().code, ErrorCode::kRefused) << first;
  }
  ScramServer same(ScramMechanism::kSha256, Lookup({{"user", RfcCredential()}}));
  EXPECT_OK(same.Step("n,a=user,n=user,r=abc"));
}

TEST(ScramServerTest, MalformedMessagesAreInvalidArguments) {
  for (const char* first :
       {"", "n", "n,", "x,,n=user,r=abc", "n,,r=abc", "n,,n=user", "n,,n=user,r=", "n,,n=,r=abc",
        "n,,n=us=ZZer,r=abc", "n,,m=ext,n=user,r=abc", "n,b,n=user,r=abc",
        "n,,n=user,r=a\x01"
        "bc",
        "n,,n=user,r=abc,junk"}) {
    ScramServer server(ScramMechanism::kSha256, Lookup({{"user", RfcCredential()}}));
    auto r = server.Step(first);
    ASSERT_FALSE(r.has_value()) << first;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << first;
  }
  for (const char* final_message :
       {"", "c=biws", "c=biws,r=x", "c=biws,p=AAAA", "r=x,c=biws,p=AAAA", "c=bi!s,r=x,p=AAAA",
        "c=biws,r=x,p=not-base64"}) {
    ScramServer server(ScramMechanism::kSha256, Lookup({{"user", RfcCredential()}}),
                       kRfcServerNonce);
    ASSERT_OK(server.Step(kRfcClientFirst));
    auto r = server.Step(final_message);
    ASSERT_FALSE(r.has_value()) << final_message;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << final_message;
  }
  // Channel binding ("p=") is refused, not misread.
  EXPECT_EQ(ParseScramClientFirst("p=tls-unique,,n=user,r=abc").error().code, ErrorCode::kRefused);
}

TEST(ScramServerTest, SaslNamesAreUnescaped) {
  ASSERT_OK_AND_ASSIGN(ScramClientFirst first, ParseScramClientFirst("n,,n=a=2Cb=3Dc,r=xyz"));
  EXPECT_EQ(first.user, "a,b=c");
  EXPECT_EQ(first.bare, "n=a=2Cb=3Dc,r=xyz");
  EXPECT_EQ(EncodeSaslName("a,b=c"), "a=2Cb=3Dc");
}

TEST(ScramServerTest, ALookupErrorFailsTheExchangeWithThatError) {
  ScramServer server(ScramMechanism::kSha512,
                     [](const std::string&) -> base::Result<std::optional<ScramCredential>> {
                       return base::MakeError(ErrorCode::kCorruption, "scram-users: damaged");
                     });
  auto r = server.Step("n,,n=user,r=abc");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
}

TEST(PlainTokenTest, ParsesAndRejects) {
  ASSERT_OK_AND_ASSIGN(PlainToken t, ParsePlainToken(std::string("\0alice\0pw", 9)));
  EXPECT_EQ(t.authzid, "");
  EXPECT_EQ(t.user, "alice");
  EXPECT_EQ(t.password, "pw");
  ASSERT_OK_AND_ASSIGN(PlainToken z, ParsePlainToken(std::string("alice\0alice\0pw", 14)));
  EXPECT_EQ(z.authzid, "alice");
  for (const std::string& bad :
       std::vector<std::string>{"", "alice", std::string("\0alice", 6), std::string("\0\0pw", 4),
                                std::string("\0alice\0", 7), std::string("\0a\0b\0c", 6)}) {
    EXPECT_FALSE(ParsePlainToken(bad).has_value());
  }
}

TEST(ScramCredentialTest, PasswordMatchesOnlyItsOwnCredential) {
  for (ScramMechanism m : engine::kScramMechanisms) {
    ASSERT_OK_AND_ASSIGN(ScramCredential c, engine::NewScramCredential(m, "pw", 4096));
    EXPECT_EQ(c.salt.size(), engine::kScramSaltBytes);
    EXPECT_EQ(c.stored_key.size(), base::DigestBytes(engine::ScramHash(m)));
    EXPECT_TRUE(engine::ScramPasswordMatches(m, c, "pw"));
    EXPECT_FALSE(engine::ScramPasswordMatches(m, c, "pW"));
    EXPECT_FALSE(engine::ScramPasswordMatches(m, c, ""));
  }
  EXPECT_FALSE(engine::NewScramCredential(ScramMechanism::kSha256, "pw", 4095).has_value());
  EXPECT_FALSE(engine::NewScramCredential(ScramMechanism::kSha256, "pw", 16385).has_value());
}

}  // namespace
}  // namespace sluice::net
