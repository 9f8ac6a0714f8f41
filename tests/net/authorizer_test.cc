// The authorizer's decisions (net/authorizer.h), table-driven: literal, prefixed and wildcard
// patterns, DENY over ALLOW, implied operations, super users, allow.everyone.if.no.acl.found,
// principal and host matching; and RequestAuth against a real engine's ACLs (other principals set
// in the session in-process), failing closed on a damaged ACL file.

#include "net/authorizer.h"

#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace sluice::net {
namespace {

using engine::AclBinding;
using engine::AclPatternType;
using engine::AclPermission;
using engine::AclSet;
constexpr auto kTopic = AclResourceType::kTopic;
constexpr auto kGroup = AclResourceType::kGroup;
constexpr auto kCluster = AclResourceType::kCluster;
constexpr auto kLiteral = AclPatternType::kLiteral;
constexpr auto kPrefixed = AclPatternType::kPrefixed;
constexpr auto kAllow = AclPermission::kAllow;
constexpr auto kDeny = AclPermission::kDeny;

struct Case {
  const char* what;
  std::vector<AclBinding> acls;
  AclOperation op;
  AclResourceType type;
  std::string name;
  bool want;
  std::string principal = "User:alice";
  std::string host = "10.0.0.1";
};

AclBinding B(AclResourceType type, std::string name, AclPatternType pattern, std::string principal,
             AclOperation op, AclPermission permission, std::string host = "*") {
  return {type, std::move(name), pattern, std::move(principal), std::move(host), op, permission};
}

TEST(AuthorizerTest, DecidesAsKafka) {
  using Op = AclOperation;
  const std::vector<Case> cases = {
      {"no ACL at all: denied", {}, Op::kRead, kTopic, "t", false},
      {"literal allow",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kAllow)},
       Op::kRead,
       kTopic,
       "t",
       true},
      {"literal allow, other topic",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kAllow)},
       Op::kRead,
       kTopic,
       "u",
       false},
      {"literal allow, other operation",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kAllow)},
       Op::kWrite,
       kTopic,
       "t",
       false},
      {"literal allow, other principal",
       {B(kTopic, "t", kLiteral, "User:bob", Op::kRead, kAllow)},
       Op::kRead,
       kTopic,
       "t",
       false},
      {"same name, other resource type",
       {B(kGroup, "t", kLiteral, "User:alice", Op::kRead, kAllow)},
       Op::kRead,
       kTopic,
       "t",
       false},
      {"wildcard resource",
       {B(kTopic, "*", kLiteral, "User:alice", Op::kRead, kAllow)},
       Op::kRead,
       kTopic,
       "anything",
       true},
      {"wildcard principal",
       {B(kTopic, "t", kLiteral, "User:*", Op::kRead, kAllow)},
       Op::kRead,
       kTopic,
       "t",
       true},
      {"prefixed match",
       {B(kTopic, "orders-", kPrefixed, "User:alice", Op::kWrite, kAllow)},
       Op::kWrite,
       kTopic,
       "orders-eu",
       true},
      {"prefixed, name shorter than prefix",
       {B(kTopic, "orders-", kPrefixed, "User:alice", Op::kWrite, kAllow)},
       Op::kWrite,
       kTopic,
       "orders",
       false},
      {"prefixed is not literal: name equal to a LITERAL prefix only",
       {B(kTopic, "orders", kLiteral, "User:alice", Op::kWrite, kAllow)},
       Op::kWrite,
       kTopic,
       "orders-eu",
       false},
      {"deny wins over allow",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kAllow),
        B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kDeny)},
       Op::kRead,
       kTopic,
       "t",
       false},
      {"deny on wildcard principal wins over a named allow",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kAll, kAllow),
        B(kTopic, "*", kLiteral, "User:*", Op::kRead, kDeny)},
       Op::kRead,
       kTopic,
       "t",
       false},
      {"deny ALL denies every operation",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kDescribe, kAllow),
        B(kTopic, "t", kPrefixed, "User:alice", Op::kAll, kDeny)},
       Op::kDescribe,
       kTopic,
       "t",
       false},
      {"deny of another operation does not deny this one",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kAll, kAllow),
        B(kTopic, "t", kLiteral, "User:alice", Op::kWrite, kDeny)},
       Op::kRead,
       kTopic,
       "t",
       true},
      {"deny READ does not deny DESCRIBE (implication is for ALLOW only)",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kDescribe, kAllow),
        B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kDeny)},
       Op::kDescribe,
       kTopic,
       "t",
       true},
      {"deny for another host does not apply",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kAllow),
        B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kDeny, "10.9.9.9")},
       Op::kRead,
       kTopic,
       "t",
       true},
      {"allow ALL",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kAll, kAllow)},
       Op::kDelete,
       kTopic,
       "t",
       true},
      {"READ implies DESCRIBE",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kAllow)},
       Op::kDescribe,
       kTopic,
       "t",
       true},
      {"WRITE implies DESCRIBE",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kWrite, kAllow)},
       Op::kDescribe,
       kTopic,
       "t",
       true},
      {"DELETE implies DESCRIBE",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kDelete, kAllow)},
       Op::kDescribe,
       kTopic,
       "t",
       true},
      {"ALTER implies DESCRIBE",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kAlter, kAllow)},
       Op::kDescribe,
       kTopic,
       "t",
       true},
      {"CREATE does not imply DESCRIBE",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kCreate, kAllow)},
       Op::kDescribe,
       kTopic,
       "t",
       false},
      {"DESCRIBE does not imply READ",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kDescribe, kAllow)},
       Op::kRead,
       kTopic,
       "t",
       false},
      {"ALTER_CONFIGS implies DESCRIBE_CONFIGS",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kAlterConfigs, kAllow)},
       Op::kDescribeConfigs,
       kTopic,
       "t",
       true},
      {"DESCRIBE_CONFIGS does not imply ALTER_CONFIGS",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kDescribeConfigs, kAllow)},
       Op::kAlterConfigs,
       kTopic,
       "t",
       false},
      {"host must match",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kAllow, "10.0.0.2")},
       Op::kRead,
       kTopic,
       "t",
       false},
      {"host matches",
       {B(kTopic, "t", kLiteral, "User:alice", Op::kRead, kAllow, "10.0.0.1")},
       Op::kRead,
       kTopic,
       "t",
       true},
      {"an ACL for someone else still closes the resource",
       {B(kTopic, "t", kLiteral, "User:bob", Op::kRead, kAllow)},
       Op::kRead,
       kTopic,
       "t",
       false},
      {"cluster",
       {B(kCluster, "kafka-cluster", kLiteral, "User:alice", Op::kAlter, kAllow)},
       Op::kAlter,
       kCluster,
       "kafka-cluster",
       true},
  };
  const AuthorizerOptions options;
  for (const Case& c : cases) {
    EXPECT_EQ(Decide(AclSet{c.acls}, options, c.principal, c.host, c.op, c.type, c.name), c.want)
        << c.what;
  }
}

TEST(AuthorizerTest, SuperUsersMayDoEverything) {
  AuthorizerOptions options;
  options.super_users = {"User:admin"};
  const AclSet deny_all{{B(kTopic, "*", kLiteral, "User:*", AclOperation::kAll, kDeny)}};
  EXPECT_TRUE(
      Decide(deny_all, options, "User:admin", "1.2.3.4", AclOperation::kDelete, kTopic, "t"));
  EXPECT_FALSE(
      Decide(deny_all, options, "User:alice", "1.2.3.4", AclOperation::kDelete, kTopic, "t"));
  EXPECT_TRUE(Decide(AclSet{}, options, "User:admin", "1.2.3.4", AclOperation::kAlter, kCluster,
                     "kafka-cluster"));
}

TEST(AuthorizerTest, AllowEveryoneIfNoAclFoundOpensOnlyResourcesNoAclNames) {
  AuthorizerOptions options;
  options.allow_everyone_if_no_acl_found = true;
  const AclSet acls{{B(kTopic, "secret", kLiteral, "User:bob", AclOperation::kRead, kAllow),
                     B(kTopic, "sec", kPrefixed, "User:bob", AclOperation::kWrite, kAllow)}};
  EXPECT_TRUE(Decide(acls, options, "User:alice", "h", AclOperation::kRead, kTopic, "public"));
  EXPECT_FALSE(Decide(acls, options, "User:alice", "h", AclOperation::kRead, kTopic, "secret"));
  // A prefixed ACL names every topic under it.
  EXPECT_FALSE(Decide(acls, options, "User:alice", "h", AclOperation::kRead, kTopic, "second"));
  EXPECT_TRUE(Decide(acls, options, "User:bob", "h", AclOperation::kRead, kTopic, "secret"));
}

TEST(AuthorizerTest, AnyTopicWriteForIdempotentProducers) {
  const AuthorizerOptions options;
  const AclSet acls{{B(kTopic, "logs-", kPrefixed, "User:alice", AclOperation::kWrite, kAllow),
                     B(kTopic, "t", kLiteral, "User:carol", AclOperation::kWrite, kAllow),
                     B(kTopic, "t", kLiteral, "User:carol", AclOperation::kAll, kDeny)}};
  EXPECT_TRUE(DecideAnyResource(acls, options, "User:alice", "h", AclOperation::kWrite, kTopic));
  EXPECT_FALSE(DecideAnyResource(acls, options, "User:bob", "h", AclOperation::kWrite, kTopic));
  EXPECT_FALSE(DecideAnyResource(acls, options, "User:carol", "h", AclOperation::kWrite, kTopic));
}

TEST(AuthorizerTest, ParsesSuperUsers) {
  ASSERT_OK_AND_ASSIGN(auto users, ParseSuperUsers(" User:admin ;User:ops;"));
  EXPECT_EQ(users, (std::vector<std::string>{"User:admin", "User:ops"}));
  ASSERT_OK_AND_ASSIGN(auto none, ParseSuperUsers(""));
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(ParseSuperUsers("admin").has_value());
  EXPECT_FALSE(ParseSuperUsers("User:").has_value());
}

class RequestAuthTest : public testing::EngineTestBase {
 protected:
  Session SessionOf(const std::string& principal) {
    Session s;
    s.principal = principal;
    s.ip = "127.0.0.1";
    s.peer = "127.0.0.1:5555";
    return s;
  }
};

TEST_F(RequestAuthTest, SeesChangesFromTheNextRequestOn) {
  Authorizer authorizer(*engine_, AuthorizerOptions{});
  const Session alice = SessionOf("User:alice");
  const RequestAuth before = authorizer.ForRequest(alice);
  EXPECT_FALSE(before.Allowed(AclOperation::kRead, kTopic, "t"));
  ASSERT_OK(engine_->CreateAcls(
      {B(kTopic, "t", kLiteral, "User:alice", AclOperation::kRead, kAllow, "127.0.0.1")}));
  EXPECT_FALSE(before.Allowed(AclOperation::kRead, kTopic, "t"));  // its own snapshot
  EXPECT_TRUE(authorizer.ForRequest(alice).Allowed(AclOperation::kRead, kTopic, "t"));
  EXPECT_FALSE(
      authorizer.ForRequest(SessionOf("User:bob")).Allowed(AclOperation::kRead, kTopic, "t"));
  EXPECT_TRUE(RequestAuth().Allowed(AclOperation::kRead, kTopic, "t"));  // no authorizer
}

TEST_F(RequestAuthTest, DamagedAclFileDeniesAllButSuperUsers) {
  ASSERT_OK(engine_->CreateAcls({B(kTopic, "*", kLiteral, "User:*", AclOperation::kAll, kAllow)}));
  engine_.reset();
  const std::string path = dir_.Join(engine::kAclFile);
  std::string bytes = testing::ReadWholeFile(path);
  bytes.resize(bytes.size() - 3);  // torn
  testing::WriteWholeFile(path, bytes);
  Reopen();
  AuthorizerOptions options;
  options.super_users = {"User:admin"};
  options.allow_everyone_if_no_acl_found = true;
  Authorizer authorizer(*engine_, options);
  EXPECT_FALSE(
      authorizer.ForRequest(SessionOf("User:alice")).Allowed(AclOperation::kRead, kTopic, "t"));
  EXPECT_TRUE(
      authorizer.ForRequest(SessionOf("User:admin")).Allowed(AclOperation::kRead, kTopic, "t"));
}

}  // namespace
}  // namespace sluice::net
