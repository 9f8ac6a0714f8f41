// SCRAM users in the engine (engine/scram_users.h): credentials persist across reopen, are stored
// salted and hashed (the password is nowhere in the file), deletions persist, bad input is
// refused, and a damaged users file refuses logins and changes and is kept byte for byte, while
// the engine still opens and serves topics.

#include "engine/scram_users.h"

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "segment/base/crypto.h"
#include "segment/small_file.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using testing::EngineTestBase;

class ScramUsersTest : public EngineTestBase {
 protected:
  std::string UsersPath() const { return dir_.Join(kScramUsersFile); }
};

TEST_F(ScramUsersTest, CredentialsPersistAcrossReopenWithoutThePassword) {
  ASSERT_OK_AND_ASSIGN(ScramCredential c256,
                       NewScramCredential(ScramMechanism::kSha256, "hunter2-password", 4096));
  ASSERT_OK_AND_ASSIGN(ScramCredential c512,
                       NewScramCredential(ScramMechanism::kSha512, "hunter2-password", 8192));
  ASSERT_OK(engine_->UpsertScramCredential("alice", ScramMechanism::kSha256, c256));
  ASSERT_OK(engine_->UpsertScramCredential("alice", ScramMechanism::kSha512, c512));
  ASSERT_OK(engine_->UpsertScramCredential("bob", ScramMechanism::kSha512, c512));

  const std::string file = testing::ReadWholeFile(UsersPath());
  EXPECT_EQ(file.find("hunter2-password"), std::string::npos);
  EXPECT_EQ(file.find(base::HexEncode("hunter2-password")), std::string::npos);

  Reopen();
  ASSERT_OK_AND_ASSIGN(auto found, engine_->FindScramCredential("alice", ScramMechanism::kSha256));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, c256);
  EXPECT_TRUE(ScramPasswordMatches(ScramMechanism::kSha512, c512, "hunter2-password"));
  ASSERT_OK_AND_ASSIGN(ScramUserMap users, engine_->ListScramUsers());
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users["alice"].size(), 2u);
  EXPECT_EQ(users["alice"][ScramMechanism::kSha512].iterations, 8192);

  ASSERT_OK(engine_->DeleteScramCredential("alice", ScramMechanism::kSha256));
  ASSERT_OK(engine_->DeleteScramCredential("bob", ScramMechanism::kSha512));
  auto again = engine_->DeleteScramCredential("bob", ScramMechanism::kSha512);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  Reopen();
  ASSERT_OK_AND_ASSIGN(users, engine_->ListScramUsers());
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users.begin()->first, "alice");
  ASSERT_OK_AND_ASSIGN(auto gone, engine_->FindScramCredential("alice", ScramMechanism::kSha256));
  EXPECT_FALSE(gone.has_value());
  ASSERT_OK_AND_ASSIGN(auto unknown,
                       engine_->FindScramCredential("carol", ScramMechanism::kSha256));
  EXPECT_FALSE(unknown.has_value());
}

TEST_F(ScramUsersTest, BadNamesIterationsAndKeysAreRefused) {
  ASSERT_OK_AND_ASSIGN(ScramCredential c, NewScramCredential(ScramMechanism::kSha256, "pw"));
  for (const std::string& name :
       {std::string(), std::string("a\0b", 3), std::string(kMaxScramUserNameBytes + 1, 'x')}) {
    auto s = engine_->UpsertScramCredential(name, ScramMechanism::kSha256, c);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
  }
  ScramCredential few = c;
  few.iterations = 4095;
  EXPECT_FALSE(engine_->UpsertScramCredential("a", ScramMechanism::kSha256, few).has_value());
  // A SHA-256 credential's keys are too short for SHA-512.
  EXPECT_FALSE(engine_->UpsertScramCredential("a", ScramMechanism::kSha512, c).has_value());
  ASSERT_OK_AND_ASSIGN(ScramUserMap users, engine_->ListScramUsers());
  EXPECT_TRUE(users.empty());
}

TEST_F(ScramUsersTest, ADamagedFileRefusesLoginsAndChangesAndIsKept) {
  ASSERT_OK_AND_ASSIGN(ScramCredential c, NewScramCredential(ScramMechanism::kSha256, "pw"));
  ASSERT_OK(engine_->UpsertScramCredential("alice", ScramMechanism::kSha256, c));
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  engine_.reset();
  std::string bytes = testing::ReadWholeFile(UsersPath());
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  testing::WriteWholeFile(UsersPath(), bytes);

  Reopen();  // the engine opens: topics are unaffected
  EXPECT_EQ(engine_->ListTopics().size(), 1u);
  auto status = engine_->ScramUsersStatus();
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kCorruption);
  EXPECT_NE(status.error().context.find(kScramUsersFile), std::string::npos)
      << status.error().context;
  auto find = engine_->FindScramCredential("alice", ScramMechanism::kSha256);
  ASSERT_FALSE(find.has_value());
  EXPECT_EQ(find.error().code, ErrorCode::kCorruption);
  EXPECT_FALSE(engine_->ListScramUsers().has_value());
  EXPECT_FALSE(engine_->UpsertScramCredential("bob", ScramMechanism::kSha256, c).has_value());
  EXPECT_FALSE(engine_->DeleteScramCredential("alice", ScramMechanism::kSha256).has_value());
  engine_.reset();
  EXPECT_EQ(testing::ReadWholeFile(UsersPath()), bytes);  // never overwritten
}

TEST_F(ScramUsersTest, AValidEnvelopeWithABadPayloadIsDamageToo) {
  engine_.reset();
  const std::string payload = R"({"users":[{"name":"a","credentials":[{"mechanism":"MD5"}]}]})";
  testing::WriteWholeFile(
      UsersPath(),
      segment::EncodeSmallFile({segment::format::kScramUsersMagic, 1, 1}, base::AsBytes(payload)));
  Reopen();
  auto status = engine_->ScramUsersStatus();
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kCorruption);
}

TEST(ScramUsersPayloadTest, RoundTripsAndRejectsMalformedPayloads) {
  ScramUserMap users;
  users["a,b=c"][ScramMechanism::kSha512] =
      NewScramCredential(ScramMechanism::kSha512, "pw").value();
  ASSERT_OK_AND_ASSIGN(ScramUserMap back,
                       DecodeScramUsersPayload(EncodeScramUsersPayload(users), "f"));
  EXPECT_EQ(back, users);
  for (const char* bad : {"", "[]", R"({"users":{}})", R"({"users":[{"name":""}]})",
                          R"({"users":[{"name":"a","credentials":[]}]})",
                          R"({"users":[{"name":"a","credentials":[{"mechanism":"SCRAM-SHA-256",
                              "iterations":4096,"salt":"zz","stored_key":"00","server_key":"00"}]}]})"}) {
    auto r = DecodeScramUsersPayload(bad, "f");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << bad;
  }
}

}  // namespace
}  // namespace sluice::engine
