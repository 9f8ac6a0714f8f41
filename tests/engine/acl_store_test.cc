// ACLs in the engine (engine/acl_store.h): bindings persist across reopen, filters select what
// DescribeAcls/DeleteAcls would, invalid bindings are refused, and a damaged `<data>/acls` fails
// closed: the engine still opens, Acls() names the file, changes are refused, and the file's bytes
// are never rewritten.

#include "engine/acl_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/engine.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;

AclBinding Allow(AclResourceType type, const std::string& name, AclOperation op,
                 const std::string& principal = "User:alice",
                 AclPatternType pattern = AclPatternType::kLiteral) {
  return {type, name, pattern, principal, "*", op, AclPermission::kAllow};
}

class AclStoreTest : public testing::EngineTestBase {
 protected:
  std::vector<AclBinding> Bindings() {
    auto acls = engine_->Acls();
    EXPECT_TRUE(acls.has_value());
    return acls ? (*acls)->bindings : std::vector<AclBinding>();
  }
  std::string AclPath() const { return dir_.Join(kAclFile); }
};

TEST_F(AclStoreTest, EmptyWithoutFile) {
  EXPECT_TRUE(Bindings().empty());
  EXPECT_FALSE(std::filesystem::exists(AclPath()));
}

TEST_F(AclStoreTest, CreatePersistsAcrossReopen) {
  const std::vector<AclBinding> want = {
      Allow(AclResourceType::kTopic, "orders", AclOperation::kRead),
      Allow(AclResourceType::kGroup, "app-", AclOperation::kRead, "User:*",
            AclPatternType::kPrefixed),
      {AclResourceType::kCluster, kClusterResourceName, AclPatternType::kLiteral, "User:bob",
       "10.0.0.1", AclOperation::kAlter, AclPermission::kDeny},
  };
  ASSERT_OK_AND_ASSIGN(size_t added, engine_->CreateAcls(want));
  EXPECT_EQ(added, 3u);
  EXPECT_EQ(Bindings(), want);
  Reopen();
  EXPECT_EQ(Bindings(), want);
}

TEST_F(AclStoreTest, DuplicatesAreNotAddedTwice) {
  const auto b = Allow(AclResourceType::kTopic, "t", AclOperation::kWrite);
  ASSERT_OK(engine_->CreateAcls({b}));
  ASSERT_OK_AND_ASSIGN(size_t added, engine_->CreateAcls({b, b}));
  EXPECT_EQ(added, 0u);
  EXPECT_EQ(Bindings().size(), 1u);
}

TEST_F(AclStoreTest, InvalidBindingChangesNothing) {
  const auto good = Allow(AclResourceType::kTopic, "t", AclOperation::kRead);
  struct Case {
    const char* what;
    AclBinding binding;
  };
  const Case cases[] = {
      {"empty name", Allow(AclResourceType::kTopic, "", AclOperation::kRead)},
      {"cluster name", Allow(AclResourceType::kCluster, "c", AclOperation::kAlter)},
      {"principal without type", Allow(AclResourceType::kTopic, "t", AclOperation::kRead, "alice")},
      {"ANY operation", Allow(AclResourceType::kTopic, "t", AclOperation::kAny)},
      {"ANY resource type", Allow(AclResourceType::kAny, "t", AclOperation::kRead)},
      {"MATCH pattern",
       Allow(AclResourceType::kTopic, "t", AclOperation::kRead, "User:a", AclPatternType::kMatch)},
      {"prefixed wildcard", Allow(AclResourceType::kTopic, "*", AclOperation::kRead, "User:a",
                                  AclPatternType::kPrefixed)},
      {"unknown operation", Allow(AclResourceType::kTopic, "t", static_cast<AclOperation>(42))},
  };
  for (const Case& c : cases) {
    auto r = engine_->CreateAcls({good, c.binding});
    ASSERT_FALSE(r.has_value()) << c.what;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.what;
  }
  EXPECT_TRUE(Bindings().empty());
  EXPECT_FALSE(std::filesystem::exists(AclPath()));
}

TEST_F(AclStoreTest, DeleteReturnsWhatEachFilterMatchedAndPersists) {
  const auto read_t = Allow(AclResourceType::kTopic, "t", AclOperation::kRead);
  const auto write_t = Allow(AclResourceType::kTopic, "t", AclOperation::kWrite, "User:bob");
  const auto read_g = Allow(AclResourceType::kGroup, "g", AclOperation::kRead);
  ASSERT_OK(engine_->CreateAcls({read_t, write_t, read_g}));
  AclBindingFilter by_alice;
  by_alice.principal = "User:alice";
  AclBindingFilter topic_t;
  topic_t.resource_type = AclResourceType::kTopic;
  topic_t.resource_name = "t";
  ASSERT_OK_AND_ASSIGN(auto matched, engine_->DeleteAcls({by_alice, topic_t}));
  ASSERT_EQ(matched.size(), 2u);
  EXPECT_EQ(matched[0], (std::vector<AclBinding>{read_t, read_g}));
  EXPECT_EQ(matched[1], (std::vector<AclBinding>{read_t, write_t}));
  EXPECT_TRUE(Bindings().empty());
  Reopen();
  EXPECT_TRUE(Bindings().empty());
}

TEST(AclFilterTest, MatchesAsKafka) {
  const auto literal = Allow(AclResourceType::kTopic, "orders", AclOperation::kRead);
  const auto wildcard = Allow(AclResourceType::kTopic, "*", AclOperation::kRead);
  const auto prefixed = Allow(AclResourceType::kTopic, "ord", AclOperation::kRead, "User:alice",
                              AclPatternType::kPrefixed);
  auto filter = [](AclPatternType pattern, std::optional<std::string> name) {
    AclBindingFilter f;
    f.resource_type = AclResourceType::kTopic;
    f.pattern_type = pattern;
    f.resource_name = std::move(name);
    return f;
  };
  struct Case {
    AclBindingFilter f;
    bool literal, wildcard, prefixed;
  };
  const Case cases[] = {
      {filter(AclPatternType::kAny, std::nullopt), true, true, true},
      {filter(AclPatternType::kAny, "orders"), true, false, false},
      {filter(AclPatternType::kAny, "ord"), false, false, true},
      {filter(AclPatternType::kLiteral, "orders"), true, false, false},
      {filter(AclPatternType::kLiteral, std::nullopt), true, true, false},
      {filter(AclPatternType::kPrefixed, "orders"), false, false, false},
      {filter(AclPatternType::kPrefixed, "ord"), false, false, true},
      {filter(AclPatternType::kMatch, "orders"), true, true, true},
      {filter(AclPatternType::kMatch, "other"), false, true, false},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(cases[i].f.Matches(literal), cases[i].literal) << "case " << i;
    EXPECT_EQ(cases[i].f.Matches(wildcard), cases[i].wildcard) << "case " << i;
    EXPECT_EQ(cases[i].f.Matches(prefixed), cases[i].prefixed) << "case " << i;
  }
  AclBindingFilter group;
  group.resource_type = AclResourceType::kGroup;
  EXPECT_FALSE(group.Matches(literal));
  AclBindingFilter deny;
  deny.permission = AclPermission::kDeny;
  EXPECT_FALSE(deny.Matches(literal));
  AclBindingFilter unknown;
  unknown.operation = static_cast<AclOperation>(99);
  EXPECT_TRUE(unknown.HasUnknown());
  EXPECT_FALSE(AclBindingFilter{}.HasUnknown());
}

TEST_F(AclStoreTest, DamagedFileFailsClosedAndKeepsItsBytes) {
  ASSERT_OK(engine_->CreateAcls({Allow(AclResourceType::kTopic, "t", AclOperation::kRead)}));
  engine_.reset();  // closed
  std::string bytes = testing::ReadWholeFile(AclPath());
  bytes[bytes.size() / 2] ^= 0x20;  // one flipped bit in the payload: the checksum fails
  testing::WriteWholeFile(AclPath(), bytes);

  Reopen();  // the engine opens: topics and data need no ACLs
  auto acls = engine_->Acls();
  ASSERT_FALSE(acls.has_value());
  EXPECT_EQ(acls.error().code, ErrorCode::kCorruption);
  EXPECT_NE(acls.error().context.find(AclPath()), std::string::npos) << acls.error().context;

  auto created = engine_->CreateAcls({Allow(AclResourceType::kTopic, "u", AclOperation::kRead)});
  ASSERT_FALSE(created.has_value());
  EXPECT_EQ(created.error().code, ErrorCode::kCorruption);
  auto deleted = engine_->DeleteAcls({AclBindingFilter{}});
  ASSERT_FALSE(deleted.has_value());
  EXPECT_EQ(testing::ReadWholeFile(AclPath()), bytes);
  Reopen();
  EXPECT_FALSE(engine_->Acls().has_value());
  EXPECT_EQ(testing::ReadWholeFile(AclPath()), bytes);
}

TEST_F(AclStoreTest, ForeignPayloadIsCorruption) {
  engine_.reset();
  const std::vector<std::pair<const char*, std::string>> payloads = {
      {"not json", "{"},
      {"no array", R"({"acls": 3})"},
      {"unknown operation",
       R"({"acls":[{"resource_type":"TOPIC","resource_name":"t","pattern_type":"LITERAL",)"
       R"("principal":"User:a","host":"*","operation":"FLY","permission":"ALLOW"}]})"},
      {"missing field", R"({"acls":[{"resource_type":"TOPIC"}]})"},
  };
  for (const auto& [what, payload] : payloads) {
    auto decoded = DecodeAclPayload(payload, "x");
    ASSERT_FALSE(decoded.has_value()) << what;
    EXPECT_EQ(decoded.error().code, ErrorCode::kCorruption) << what;
  }
  AclSet set;
  set.bindings.push_back(Allow(AclResourceType::kTopic, "t", AclOperation::kDescribeConfigs));
  ASSERT_OK_AND_ASSIGN(AclSet back, DecodeAclPayload(EncodeAclPayload(set), "x"));
  EXPECT_EQ(back.bindings, set.bindings);
  Reopen();
}

}  // namespace
}  // namespace sluice::engine
