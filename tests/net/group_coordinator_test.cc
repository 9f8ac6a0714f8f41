// Consumer-group membership (net/group_coordinator.h): join/sync/heartbeat/leave, generations,
// the delayed initial join, session, rebalance and sync timeouts, MEMBER_ID_REQUIRED, static
// members, commit checks, describe/list/delete and shutdown. A ManualClock and TimerMode::kManual:
// time moves only when a test advances it and calls ExpireDue().

#include "net/group_coordinator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sluice::net {
namespace {

namespace err = group_error;

constexpr int32_t kSessionMs = 10'000;
constexpr int32_t kRebalanceMs = 30'000;
constexpr int64_t kInitialDelayMs = 3'000;

using JoinSlot = std::shared_ptr<std::optional<JoinResult>>;
using SyncSlot = std::shared_ptr<std::optional<SyncResult>>;

GroupProtocols Protocols(std::initializer_list<const char*> names, const std::string& tag = "") {
  GroupProtocols out;
  for (const char* name : names) out.emplace_back(name, std::string("meta-") + name + tag);
  return out;
}

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  GroupCoordinatorTest() { Restart(DefaultOptions()); }

  static GroupCoordinatorOptions DefaultOptions() {
    GroupCoordinatorOptions o;
    o.initial_rebalance_delay_ms = kInitialDelayMs;
    o.timer = TimerMode::kManual;
    return o;
  }

  void Restart(GroupCoordinatorOptions options) {
    coord_.reset();
    coord_ = std::make_unique<GroupCoordinator>(options, clock_);
  }

  static JoinParams Params(const std::string& member_id, const std::string& client_id = "client",
                           GroupProtocols protocols = Protocols({"range", "roundrobin"})) {
    JoinParams p;
    p.group_id = "g";
    p.session_timeout_ms = kSessionMs;
    p.rebalance_timeout_ms = kRebalanceMs;
    p.member_id = member_id;
    p.protocol_type = "consumer";
    p.protocols = std::move(protocols);
    p.client_id = client_id;
    p.client_host = "/127.0.0.1";
    return p;
  }

  JoinSlot Join(JoinParams params) {
    auto slot = std::make_shared<std::optional<JoinResult>>();
    coord_->Join(std::move(params), [slot](JoinResult r) {
      ASSERT_FALSE(slot->has_value()) << "Join callback ran twice";
      *slot = std::move(r);
    });
    return slot;
  }
  JoinSlot Join(const std::string& member_id, const std::string& client_id = "client") {
    return Join(Params(member_id, client_id));
  }

  SyncSlot Sync(const std::string& member_id, int32_t generation,
                std::vector<std::pair<std::string, std::string>> assignments = {}) {
    auto slot = std::make_shared<std::optional<SyncResult>>();
    SyncParams p;
    p.group_id = "g";
    p.generation_id = generation;
    p.member_id = member_id;
    p.assignments = std::move(assignments);
    coord_->Sync(std::move(p), [slot](SyncResult r) {
      ASSERT_FALSE(slot->has_value()) << "Sync callback ran twice";
      *slot = std::move(r);
    });
    return slot;
  }

  int16_t Heartbeat(const std::string& member_id, int32_t generation) {
    return coord_->Heartbeat("g", generation, member_id);
  }

  void Advance(int64_t ms) {
    clock_.AdvanceMs(ms);
    coord_->ExpireDue();
  }

  std::string State() { return coord_->Describe("g").state; }

  struct Formed {
    std::vector<std::string> ids;  // leader first
    int32_t generation = -1;
  };

  // `n` new members join during the initial delay; the leader assigns "a-<member id>" to each
  // and every member syncs. The group ends Stable.
  Formed FormGroup(int n) {
    std::vector<JoinSlot> joins;
    for (int i = 0; i < n; ++i) joins.push_back(Join("", "c" + std::to_string(i)));
    for (int waited = 0; !joins.back()->has_value() && waited < kRebalanceMs; waited += 1000) {
      Advance(1000);
    }
    Formed f;
    for (const auto& j : joins) {
      EXPECT_TRUE(j->has_value());
      if (!j->has_value()) return f;
      EXPECT_EQ((*j)->error_code, err::kNone);
      if ((*j)->member_id == (*j)->leader_id) {
        f.ids.insert(f.ids.begin(), (*j)->member_id);
      } else {
        f.ids.push_back((*j)->member_id);
      }
      f.generation = (*j)->generation_id;
    }
    std::vector<std::pair<std::string, std::string>> assignments;
    for (const auto& id : f.ids) assignments.emplace_back(id, "a-" + id);
    auto leader_sync = Sync(f.ids[0], f.generation, assignments);
    EXPECT_TRUE(leader_sync->has_value());
    for (size_t i = 1; i < f.ids.size(); ++i) {
      auto s = Sync(f.ids[i], f.generation);
      EXPECT_TRUE(s->has_value());
      EXPECT_EQ((*s)->assignment, "a-" + f.ids[i]);
    }
    EXPECT_EQ(State(), "Stable");
    return f;
  }

  base::ManualClock clock_;
  std::unique_ptr<GroupCoordinator> coord_;
};

TEST_F(GroupCoordinatorTest, SingleMemberJoinsSyncsAndBecomesStable) {
  auto join = Join("", "rdkafka");
  EXPECT_FALSE(join->has_value()) << "the initial delay holds the first join";
  EXPECT_EQ(State(), "PreparingRebalance");
  Advance(kInitialDelayMs - 1);
  EXPECT_FALSE(join->has_value());
  Advance(1);
  ASSERT_TRUE(join->has_value());
  const JoinResult& r = **join;
  EXPECT_EQ(r.error_code, err::kNone);
  EXPECT_EQ(r.generation_id, 1);
  EXPECT_EQ(r.protocol_name, "range");
  EXPECT_EQ(r.leader_id, r.member_id);
  EXPECT_EQ(r.member_id.rfind("rdkafka-", 0), 0u) << r.member_id;
  ASSERT_EQ(r.members.size(), 1u);
  EXPECT_EQ(r.members[0].member_id, r.member_id);
  EXPECT_EQ(r.members[0].metadata, "meta-range");
  EXPECT_EQ(State(), "CompletingRebalance");
  EXPECT_EQ(Heartbeat(r.member_id, 1), err::kNone);

  auto sync = Sync(r.member_id, 1, {{r.member_id, "mine"}});
  ASSERT_TRUE(sync->has_value());
  EXPECT_EQ((*sync)->error_code, err::kNone);
  EXPECT_EQ((*sync)->assignment, "mine");
  EXPECT_EQ(State(), "Stable");
  EXPECT_EQ(Heartbeat(r.member_id, 1), err::kNone);
}

TEST_F(GroupCoordinatorTest, MembersJoiningDuringInitialDelayShareOneGeneration) {
  auto a = Join(Params("", "a", Protocols({"range"}, "-a")));
  Advance(1000);
  auto b = Join(Params("", "b", Protocols({"range"}, "-b")));
  Advance(1000);
  auto c = Join(Params("", "c", Protocols({"range"}, "-c")));
  // New members arrived, so the delay is extended once by the same amount (to t=6000).
  Advance(1000);
  EXPECT_FALSE(a->has_value());
  Advance(kInitialDelayMs - 1);
  EXPECT_FALSE(a->has_value());
  Advance(1);
  ASSERT_TRUE(a->has_value() && b->has_value() && c->has_value());

  std::vector<JoinResult> all = {**a, **b, **c};
  int leaders = 0;
  for (const auto& r : all) {
    EXPECT_EQ(r.error_code, err::kNone);
    EXPECT_EQ(r.generation_id, 1);
    EXPECT_EQ(r.leader_id, all[0].leader_id);
    EXPECT_EQ(r.protocol_name, "range");
    if (r.member_id == r.leader_id) {
      ++leaders;
      ASSERT_EQ(r.members.size(), 3u);
      std::vector<std::string> metadata;
      for (const auto& m : r.members) metadata.push_back(m.metadata);
      std::sort(metadata.begin(), metadata.end());
      EXPECT_EQ(metadata,
                (std::vector<std::string>{"meta-range-a", "meta-range-b", "meta-range-c"}));
    } else {
      EXPECT_TRUE(r.members.empty());
    }
  }
  EXPECT_EQ(leaders, 1);
  EXPECT_EQ(all[0].leader_id, all[0].member_id) << "the first member stays leader";
}

TEST_F(GroupCoordinatorTest, InitialDelayExtensionsStopAtTheRebalanceTimeout) {
  auto params = [](const std::string& client) {
    JoinParams p = Params("", client);
    p.rebalance_timeout_ms = 10'000;
    return p;
  };
  auto first = Join(params("c0"));
  // A new member every 2.5 s keeps extending the delay, but never past 10 s.
  for (int i = 1; i <= 3; ++i) {
    Advance(2500);
    Join(params("c" + std::to_string(i)));
  }
  Advance(2000);  // t = 9500
  EXPECT_FALSE(first->has_value());
  Join(params("late"));
  Advance(499);
  EXPECT_FALSE(first->has_value());
  Advance(1);  // t = 10000
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->members.size(), 5u);
}

TEST_F(GroupCoordinatorTest, LeaderAssignmentsReachWaitingFollowers) {
  auto a = Join("", "a");
  auto b = Join("", "b");
  auto c = Join("", "c");
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(a->has_value() && b->has_value() && c->has_value());
  const std::string leader = (*a)->leader_id;
  std::vector<std::string> followers;
  for (const auto& j : {a, b, c}) {
    if ((*j)->member_id != leader) followers.push_back((*j)->member_id);
  }
  ASSERT_EQ(followers.size(), 2u);

  auto f0 = Sync(followers[0], 1);
  auto f1 = Sync(followers[1], 1);
  EXPECT_FALSE(f0->has_value()) << "followers wait for the leader";
  EXPECT_FALSE(f1->has_value());
  EXPECT_EQ(State(), "CompletingRebalance");

  auto l = Sync(leader, 1, {{leader, "L"}, {followers[0], "F0"}, {followers[1], "F1"}});
  ASSERT_TRUE(l->has_value() && f0->has_value() && f1->has_value());
  EXPECT_EQ((*l)->assignment, "L");
  EXPECT_EQ((*f0)->assignment, "F0");
  EXPECT_EQ((*f1)->assignment, "F1");
  EXPECT_EQ((*f0)->error_code, err::kNone);
  EXPECT_EQ(State(), "Stable");
}

TEST_F(GroupCoordinatorTest, FollowerSyncingAfterStableGetsItsAssignment) {
  auto a = Join("", "a");
  auto b = Join("", "b");
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(a->has_value() && b->has_value());
  const std::string leader = (*a)->leader_id;
  const std::string follower = (*a)->member_id == leader ? (*b)->member_id : (*a)->member_id;
  // The leader leaves the follower out: it gets an empty assignment, not an error.
  auto l = Sync(leader, 1, {{leader, "L"}});
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ(State(), "Stable");

  auto f = Sync(follower, 1);
  ASSERT_TRUE(f->has_value()) << "answered at once once Stable";
  EXPECT_EQ((*f)->error_code, err::kNone);
  EXPECT_EQ((*f)->assignment, "");
  // And again, with an assignment this time (kafka-python syncs after the group completed).
  auto again = Sync(leader, 1);
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->assignment, "L");
}

TEST_F(GroupCoordinatorTest, LeaveRebalancesAndOthersGetRebalanceInProgressUntilTheyRejoin) {
  Formed f = FormGroup(3);
  ASSERT_EQ(f.ids.size(), 3u);
  const std::string gone = f.ids[2];
  EXPECT_EQ(coord_->Leave("g", {{gone, std::nullopt}}), std::vector<int16_t>{err::kNone});
  EXPECT_EQ(State(), "PreparingRebalance") << "a leave takes effect at once";
  EXPECT_EQ(Heartbeat(f.ids[0], f.generation), err::kRebalanceInProgress);
  EXPECT_EQ(Heartbeat(f.ids[1], f.generation), err::kRebalanceInProgress);
  EXPECT_EQ(Heartbeat(gone, f.generation), err::kUnknownMemberId);

  auto r0 = Join(f.ids[0]);
  EXPECT_FALSE(r0->has_value());
  EXPECT_EQ(Heartbeat(f.ids[1], f.generation), err::kRebalanceInProgress);
  auto r1 = Join(f.ids[1]);
  // Everyone known has rejoined: no waiting for the rebalance timeout.
  ASSERT_TRUE(r0->has_value() && r1->has_value());
  EXPECT_EQ((*r0)->generation_id, f.generation + 1);
  EXPECT_EQ((*r1)->generation_id, f.generation + 1);
  EXPECT_EQ((*r0)->leader_id, f.ids[0]);
  EXPECT_EQ((*r0)->members.size(), 2u);
  EXPECT_EQ(Heartbeat(f.ids[0], f.generation), err::kIllegalGeneration);
  EXPECT_EQ(Heartbeat(f.ids[0], f.generation + 1), err::kNone);
}

TEST_F(GroupCoordinatorTest, LeaveOfTheLeaderElectsAnotherAndLastLeaveEmptiesTheGroup) {
  Formed f = FormGroup(2);
  ASSERT_EQ(f.ids.size(), 2u);
  EXPECT_EQ(coord_->Leave("g", {{f.ids[0], std::nullopt}}), std::vector<int16_t>{err::kNone});
  auto r = Join(f.ids[1]);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->leader_id, f.ids[1]);
  EXPECT_EQ((*r)->members.size(), 1u);

  EXPECT_EQ(coord_->Leave("g", {{f.ids[1], std::nullopt}}), std::vector<int16_t>{err::kNone});
  const DescribedGroup d = coord_->Describe("g");
  EXPECT_EQ(d.state, "Empty");
  EXPECT_TRUE(d.members.empty());
  EXPECT_EQ(d.protocol_type, "consumer");
}

TEST_F(GroupCoordinatorTest, LeaveBatchAnswersPerMember) {
  Formed f = FormGroup(3);
  ASSERT_EQ(f.ids.size(), 3u);
  const std::vector<int16_t> errors = coord_->Leave(
      "g", {{f.ids[1], std::nullopt}, {"nobody", std::nullopt}, {f.ids[2], std::nullopt}});
  EXPECT_EQ(errors, (std::vector<int16_t>{err::kNone, err::kUnknownMemberId, err::kNone}));
  EXPECT_EQ(coord_->Describe("g").members.size(), 1u);
  EXPECT_EQ(coord_->Leave("unknown-group", {{"x", std::nullopt}}),
            std::vector<int16_t>{err::kUnknownMemberId});
  EXPECT_EQ(coord_->Leave("", {{"x", std::nullopt}, {"y", std::nullopt}}),
            (std::vector<int16_t>{err::kInvalidGroupId, err::kInvalidGroupId}));
}

TEST_F(GroupCoordinatorTest, SessionTimeoutRemovesSilentMember) {
  Formed f = FormGroup(2);
  ASSERT_EQ(f.ids.size(), 2u);
  Advance(kSessionMs / 2);
  EXPECT_EQ(Heartbeat(f.ids[0], f.generation), err::kNone);
  Advance(kSessionMs / 2 - 1);
  EXPECT_EQ(State(), "Stable");
  Advance(1);  // ids[1] was last heard from kSessionMs ago
  EXPECT_EQ(State(), "PreparingRebalance");
  EXPECT_EQ(Heartbeat(f.ids[1], f.generation), err::kUnknownMemberId);
  EXPECT_EQ(Heartbeat(f.ids[0], f.generation), err::kRebalanceInProgress);
  auto r = Join(f.ids[0]);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->generation_id, f.generation + 1);
  ASSERT_EQ((*r)->members.size(), 1u);
  EXPECT_EQ((*r)->members[0].member_id, f.ids[0]);
}

TEST_F(GroupCoordinatorTest, SessionTimeoutOfTheOnlyMemberEmptiesTheGroup) {
  Formed f = FormGroup(1);
  ASSERT_EQ(f.ids.size(), 1u);
  Advance(kSessionMs);
  EXPECT_EQ(State(), "Empty");
  EXPECT_EQ(Heartbeat(f.ids[0], f.generation), err::kUnknownMemberId);
  // A new member starts again with the initial delay.
  auto r = Join("", "again");
  EXPECT_FALSE(r->has_value());
  Advance(kInitialDelayMs);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->generation_id, f.generation + 2) << "going Empty was a generation too";
}

TEST_F(GroupCoordinatorTest, MembersWaitingInJoinOrSyncDoNotExpire) {
  Formed f = FormGroup(2);
  ASSERT_EQ(f.ids.size(), 2u);
  auto rejoin = Join(f.ids[0]);  // the leader rejoins: rebalance; ids[1] keeps heartbeating
  for (int i = 0; i < 3; ++i) {
    Advance(kSessionMs / 2);
    EXPECT_EQ(Heartbeat(f.ids[1], f.generation), err::kRebalanceInProgress);
  }
  EXPECT_FALSE(rejoin->has_value()) << "ids[0] silent for 1.5 sessions, but waiting in Join";
  auto other = Join(f.ids[1]);
  ASSERT_TRUE(rejoin->has_value() && other->has_value());
  EXPECT_EQ((*rejoin)->members.size(), 2u);
  const int32_t gen = (*rejoin)->generation_id;

  const std::string follower = (*rejoin)->leader_id == f.ids[0] ? f.ids[1] : f.ids[0];
  const std::string leader = (*rejoin)->leader_id;
  auto waiting = Sync(follower, gen);
  for (int i = 0; i < 3; ++i) {
    Advance(kSessionMs / 2);
    EXPECT_EQ(Heartbeat(leader, gen), err::kNone);
  }
  EXPECT_FALSE(waiting->has_value()) << "a follower waiting in Sync is not expired";
  auto l = Sync(leader, gen, {{follower, "F"}});
  ASSERT_TRUE(waiting->has_value());
  EXPECT_EQ((*waiting)->assignment, "F");
  // Its session restarts once answered.
  Advance(kSessionMs - 1);
  EXPECT_EQ(Heartbeat(leader, gen), err::kNone);
  EXPECT_EQ(Heartbeat(follower, gen), err::kNone);
}

TEST_F(GroupCoordinatorTest, RebalanceTimeoutDropsMemberThatDidNotRejoin) {
  Formed f = FormGroup(2);
  ASSERT_EQ(f.ids.size(), 2u);
  auto newcomer = Join("", "newcomer");
  EXPECT_EQ(State(), "PreparingRebalance");
  auto leader = Join(f.ids[0]);
  // ids[1] heartbeats (so its session never lapses) but never rejoins.
  for (int64_t t = 0; t + 5000 < kRebalanceMs; t += 5000) {
    Advance(5000);
    EXPECT_EQ(Heartbeat(f.ids[1], f.generation), err::kRebalanceInProgress);
  }
  EXPECT_FALSE(leader->has_value());
  Advance(kRebalanceMs - (kRebalanceMs / 5000 - 1) * 5000);
  ASSERT_TRUE(leader->has_value() && newcomer->has_value());
  EXPECT_EQ((*leader)->generation_id, f.generation + 1);
  EXPECT_EQ((*leader)->members.size(), 2u);
  EXPECT_EQ(Heartbeat(f.ids[1], f.generation), err::kUnknownMemberId);
  EXPECT_EQ(Heartbeat(f.ids[1], f.generation + 1), err::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, LeaderRejoinRebalancesButUnchangedFollowerGetsCurrentGeneration) {
  Formed f = FormGroup(2);
  ASSERT_EQ(f.ids.size(), 2u);
  auto follower = Join(f.ids[1]);
  ASSERT_TRUE(follower->has_value()) << "no rebalance for an unchanged follower";
  EXPECT_EQ((*follower)->generation_id, f.generation);
  EXPECT_EQ((*follower)->leader_id, f.ids[0]);
  EXPECT_TRUE((*follower)->members.empty());
  EXPECT_EQ(State(), "Stable");

  // The same follower with new subscription metadata forces a rebalance.
  auto changed = Join(Params(f.ids[1], "client", Protocols({"range", "roundrobin"}, "-v2")));
  EXPECT_FALSE(changed->has_value());
  EXPECT_EQ(State(), "PreparingRebalance");
  auto leader = Join(f.ids[0]);
  ASSERT_TRUE(leader->has_value() && changed->has_value());
  EXPECT_EQ((*leader)->generation_id, f.generation + 1);
  Sync(f.ids[0], f.generation + 1, {});
  EXPECT_EQ(State(), "Stable");

  // The leader rejoining a Stable group rebalances (it may have seen new partitions).
  auto again = Join(f.ids[0]);
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(State(), "PreparingRebalance");
}

TEST_F(GroupCoordinatorTest, UnknownMemberAndIllegalGenerationAreRejected) {
  auto unknown_group = Join("ghost");
  ASSERT_TRUE(unknown_group->has_value());
  EXPECT_EQ((*unknown_group)->error_code, err::kUnknownMemberId);
  EXPECT_EQ(Heartbeat("ghost", 0), err::kUnknownMemberId);
  auto s0 = Sync("ghost", 0);
  ASSERT_TRUE(s0->has_value());
  EXPECT_EQ((*s0)->error_code, err::kUnknownMemberId);

  Formed f = FormGroup(1);
  ASSERT_EQ(f.ids.size(), 1u);
  auto j = Join("ghost");
  ASSERT_TRUE(j->has_value());
  EXPECT_EQ((*j)->error_code, err::kUnknownMemberId);
  EXPECT_EQ((*j)->generation_id, -1);
  EXPECT_EQ(Heartbeat("ghost", f.generation), err::kUnknownMemberId);
  EXPECT_EQ(Heartbeat(f.ids[0], f.generation + 1), err::kIllegalGeneration);
  EXPECT_EQ(Heartbeat(f.ids[0], f.generation - 1), err::kIllegalGeneration);
  auto s1 = Sync(f.ids[0], f.generation + 7);
  ASSERT_TRUE(s1->has_value());
  EXPECT_EQ((*s1)->error_code, err::kIllegalGeneration);
  auto s2 = Sync("ghost", f.generation);
  ASSERT_TRUE(s2->has_value());
  EXPECT_EQ((*s2)->error_code, err::kUnknownMemberId);

  // Sync during a rebalance: rejoin.
  Join("", "newcomer");
  auto s3 = Sync(f.ids[0], f.generation);
  ASSERT_TRUE(s3->has_value());
  EXPECT_EQ((*s3)->error_code, err::kRebalanceInProgress);
}

TEST_F(GroupCoordinatorTest, InconsistentProtocolOrProtocolTypeIsRejected) {
  Formed f = FormGroup(1);  // range, roundrobin
  ASSERT_EQ(f.ids.size(), 1u);
  auto sticky = Join(Params("", "java", Protocols({"cooperative-sticky"})));
  ASSERT_TRUE(sticky->has_value());
  EXPECT_EQ((*sticky)->error_code, err::kInconsistentGroupProtocol);
  EXPECT_EQ((*sticky)->member_id, "");

  JoinParams connect = Params("", "connect");
  connect.protocol_type = "connect";
  auto c = Join(connect);
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->error_code, err::kInconsistentGroupProtocol);

  JoinParams none = Params("", "x", {});
  none.group_id = "fresh";
  auto n = Join(none);
  ASSERT_TRUE(n->has_value());
  EXPECT_EQ((*n)->error_code, err::kInconsistentGroupProtocol);
  EXPECT_EQ(coord_->Describe("fresh").state, "Dead") << "a refused join creates no group";
  EXPECT_EQ(State(), "Stable") << "refused joins did not disturb the group";
  EXPECT_EQ(coord_->Describe("g").members.size(), 1u);
}

TEST_F(GroupCoordinatorTest, TwoMembersWithoutACommonProtocolCannotShareAGroup) {
  auto a = Join(Params("", "a", Protocols({"range"})));
  auto b = Join(Params("", "b", Protocols({"roundrobin"})));
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->error_code, err::kInconsistentGroupProtocol);
  Advance(kInitialDelayMs);
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->error_code, err::kNone);
  EXPECT_EQ((*a)->members.size(), 1u);
}

TEST_F(GroupCoordinatorTest, InvalidSessionTimeoutAndGroupIdAreRejected) {
  JoinParams low = Params("");
  low.session_timeout_ms = 5999;
  auto l = Join(low);
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ((*l)->error_code, err::kInvalidSessionTimeout);
  JoinParams high = Params("");
  high.session_timeout_ms = 1'800'001;
  auto h = Join(high);
  ASSERT_TRUE(h->has_value());
  EXPECT_EQ((*h)->error_code, err::kInvalidSessionTimeout);
  JoinParams empty = Params("");
  empty.group_id = "";
  auto e = Join(empty);
  ASSERT_TRUE(e->has_value());
  EXPECT_EQ((*e)->error_code, err::kInvalidGroupId);
  EXPECT_EQ(coord_->Heartbeat("", 0, "m"), err::kInvalidGroupId);
  EXPECT_TRUE(coord_->List().empty());
}

TEST_F(GroupCoordinatorTest, GroupMaxSizeIsEnforced) {
  GroupCoordinatorOptions o = DefaultOptions();
  o.max_group_size = 2;
  Restart(o);
  Join("", "a");
  Join("", "b");
  auto c = Join("", "c");
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->error_code, err::kGroupMaxSizeReached);
  Advance(2 * kInitialDelayMs);
  EXPECT_EQ(coord_->Describe("g").members.size(), 2u);
}

TEST_F(GroupCoordinatorTest, GroupStateMemoryIsBoundedAndGivenBackWhenMembersGo) {
  GroupCoordinatorOptions o = DefaultOptions();
  o.max_state_bytes = 1 << 20;
  Restart(o);
  const std::string big(250 << 10, 'm');  // 250 KiB of protocol metadata per member
  auto big_join = [&](const std::string& group, const std::string& client) {
    JoinParams p = Params("", client, {{"range", big}});
    p.group_id = group;
    return Join(std::move(p));
  };
  // Four members fit in 1 MiB, in one group or several; the fifth is refused, unheld.
  std::vector<JoinSlot> joined;
  for (int i = 0; i < 4; ++i) joined.push_back(big_join("g" + std::to_string(i % 2), "c"));
  EXPECT_GT(coord_->state_bytes(), 4 * big.size());
  EXPECT_LE(coord_->state_bytes(), o.max_state_bytes);
  auto refused = big_join("g9", "c");
  ASSERT_TRUE(refused->has_value());
  EXPECT_EQ((*refused)->error_code, err::kCoordinatorNotAvailable);
  EXPECT_EQ(coord_->Describe("g9").state, "Dead");
  // Members with small metadata still join.
  auto small = Join("", "small");
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(small->has_value());
  EXPECT_EQ((*small)->error_code, err::kNone);
  // The big members time out; their bytes are given back and a big member fits again.
  for (auto& j : joined) ASSERT_TRUE(j->has_value());
  Advance(kSessionMs + 1);
  EXPECT_LT(coord_->state_bytes(), big.size());
  auto again = big_join("g9", "c");
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->error_code, err::kNone);
  // Deleting what is left leaves nothing counted.
  Advance(kSessionMs + 1);
  for (const char* g : {"g", "g0", "g1", "g9"}) coord_->Delete(g);
  EXPECT_EQ(coord_->state_bytes(), 0u);
}

TEST_F(GroupCoordinatorTest, MemberIdRequiredFlow) {
  JoinParams p = Params("", "kafkajs");
  p.require_known_member_id = true;
  auto first = Join(p);
  ASSERT_TRUE(first->has_value()) << "answered at once";
  EXPECT_EQ((*first)->error_code, err::kMemberIdRequired);
  const std::string id = (*first)->member_id;
  EXPECT_EQ(id.rfind("kafkajs-", 0), 0u) << id;
  EXPECT_GT(id.size(), std::string("kafkajs-").size() + 30);
  EXPECT_EQ(State(), "Empty") << "a pending id is not a member yet";
  EXPECT_TRUE(coord_->Describe("g").members.empty());

  p.member_id = id;
  auto second = Join(p);
  EXPECT_FALSE(second->has_value());
  Advance(kInitialDelayMs);
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->error_code, err::kNone);
  EXPECT_EQ((*second)->member_id, id);
  EXPECT_EQ((*second)->leader_id, id);
  EXPECT_EQ((*second)->generation_id, 1);
}

TEST_F(GroupCoordinatorTest, PendingMemberIdBlocksTheJoinPhaseUntilItExpires) {
  Formed f = FormGroup(1);
  ASSERT_EQ(f.ids.size(), 1u);
  JoinParams p = Params("", "v4");
  p.require_known_member_id = true;
  auto pending = Join(p);
  ASSERT_TRUE(pending->has_value());
  EXPECT_EQ((*pending)->error_code, err::kMemberIdRequired);
  EXPECT_EQ(State(), "Stable") << "handing out an id does not rebalance";

  auto other = Join(Params("", "dynamic"));  // a v0-3 member: rebalance
  auto rejoin = Join(f.ids[0]);
  EXPECT_FALSE(rejoin->has_value()) << "waiting for the pending id to join";
  Advance(kSessionMs);  // the pending id never came back
  ASSERT_TRUE(rejoin->has_value() && other->has_value());
  EXPECT_EQ((*rejoin)->members.size(), 2u);
  p.member_id = (*pending)->member_id;
  auto late = Join(p);
  ASSERT_TRUE(late->has_value());
  EXPECT_EQ((*late)->error_code, err::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, ProtocolIsChosenByVote) {
  auto a = Join(Params("", "a", Protocols({"range", "roundrobin"})));
  auto b = Join(Params("", "b", Protocols({"roundrobin", "range", "sticky"})));
  auto c = Join(Params("", "c", Protocols({"sticky", "roundrobin", "range"})));
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(a->has_value() && b->has_value() && c->has_value());
  // sticky is not supported by a; among range/roundrobin, roundrobin has two votes.
  EXPECT_EQ((*a)->protocol_name, "roundrobin");
  EXPECT_EQ((*b)->protocol_name, "roundrobin");
  for (const auto& m : (*a)->members) EXPECT_EQ(m.metadata, "meta-roundrobin");
}

TEST_F(GroupCoordinatorTest, CommitChecksFollowTheGroupState) {
  // No group management (assign()): allowed with -1/"" while nobody is a member.
  EXPECT_EQ(coord_->CheckCommit("g", -1, ""), err::kNone);
  EXPECT_EQ(coord_->CheckCommit("", -1, ""), err::kNone);
  EXPECT_EQ(coord_->CheckCommit("g", 3, "stale"), err::kIllegalGeneration);

  auto a = Join("", "a");
  auto b = Join("", "b");
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(a->has_value() && b->has_value());
  const std::string leader = (*a)->leader_id;
  const std::string follower = (*a)->member_id == leader ? (*b)->member_id : (*a)->member_id;
  EXPECT_EQ(coord_->CheckCommit("g", 1, leader), err::kRebalanceInProgress)
      << "CompletingRebalance: no assignment yet";
  Sync(leader, 1, {});
  EXPECT_EQ(coord_->CheckCommit("g", 1, leader), err::kNone);
  EXPECT_EQ(coord_->CheckCommit("g", 1, follower), err::kNone);
  EXPECT_EQ(coord_->CheckCommit("g", 0, leader), err::kIllegalGeneration);
  EXPECT_EQ(coord_->CheckCommit("g", 1, "ghost"), err::kUnknownMemberId);
  EXPECT_EQ(coord_->CheckCommit("g", -1, ""), err::kUnknownMemberId)
      << "only members commit for a group that has members";

  // PreparingRebalance: commits of the current generation are still accepted (commit on revoke).
  Join("", "c");
  EXPECT_EQ(State(), "PreparingRebalance");
  EXPECT_EQ(coord_->CheckCommit("g", 1, follower), err::kNone);
  EXPECT_EQ(Heartbeat(follower, 1), err::kRebalanceInProgress);

  // A commit refreshes the session like a heartbeat: the follower outlives the leader.
  Advance(kSessionMs - 1);
  EXPECT_EQ(coord_->CheckCommit("g", 1, follower), err::kNone);
  Advance(kSessionMs - 1);
  EXPECT_EQ(Heartbeat(leader, 1), err::kUnknownMemberId);
  EXPECT_EQ(Heartbeat(follower, 1), err::kRebalanceInProgress);

  EXPECT_EQ(coord_->Leave("g", {{follower, std::nullopt}}), std::vector<int16_t>{err::kNone});
  Advance(kRebalanceMs);  // the newcomer never syncs nor heartbeats
  EXPECT_EQ(State(), "Empty");
  EXPECT_EQ(coord_->CheckCommit("g", -1, ""), err::kNone);
}

TEST_F(GroupCoordinatorTest, DescribeListAndDelete) {
  EXPECT_EQ(coord_->Describe("g").state, "Dead");
  EXPECT_EQ(coord_->Delete("g"), err::kGroupIdNotFound);

  Formed f = FormGroup(2);
  ASSERT_EQ(f.ids.size(), 2u);
  DescribedGroup d = coord_->Describe("g");
  EXPECT_EQ(d.error_code, err::kNone);
  EXPECT_EQ(d.group_id, "g");
  EXPECT_EQ(d.state, "Stable");
  EXPECT_EQ(d.protocol_type, "consumer");
  EXPECT_EQ(d.protocol, "range");
  ASSERT_EQ(d.members.size(), 2u);
  for (const auto& m : d.members) {
    EXPECT_EQ(m.assignment, "a-" + m.member_id);
    EXPECT_EQ(m.metadata, "meta-range");
    EXPECT_EQ(m.client_host, "/127.0.0.1");
    EXPECT_EQ(m.client_id, m.member_id.substr(0, 2));
  }

  JoinParams other = Params("", "x");
  other.group_id = "other";
  other.protocol_type = "connect";
  Join(other);
  const std::vector<ListedGroup> listed = coord_->List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].group_id, "g");
  EXPECT_EQ(listed[0].state, "Stable");
  EXPECT_EQ(listed[1].group_id, "other");
  EXPECT_EQ(listed[1].protocol_type, "connect");
  EXPECT_EQ(listed[1].state, "PreparingRebalance");
  DescribedGroup preparing = coord_->Describe("other");
  EXPECT_EQ(preparing.protocol, "") << "protocol and metadata are shown only when Stable";
  ASSERT_EQ(preparing.members.size(), 1u);
  EXPECT_EQ(preparing.members[0].metadata, "");

  EXPECT_EQ(coord_->Delete("g"), err::kNonEmptyGroup);
  coord_->Leave("g", {{f.ids[0], std::nullopt}, {f.ids[1], std::nullopt}});
  EXPECT_EQ(State(), "Empty");
  EXPECT_EQ(coord_->Delete("g"), err::kNone);
  EXPECT_EQ(coord_->Describe("g").state, "Dead");
  EXPECT_EQ(coord_->Delete("g"), err::kGroupIdNotFound);
  ASSERT_EQ(coord_->List().size(), 1u);
}

TEST_F(GroupCoordinatorTest, ShutdownCompletesPendingCallbacks) {
  Formed f = FormGroup(2);
  ASSERT_EQ(f.ids.size(), 2u);

  // Group "s" has a follower waiting in Sync.
  JoinParams q = Params("", "s1");
  q.group_id = "s";
  auto s1 = Join(q);
  q.client_id = "s2";
  auto s2 = Join(q);
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(s1->has_value() && s2->has_value());
  const std::string follower =
      (*s1)->leader_id == (*s1)->member_id ? (*s2)->member_id : (*s1)->member_id;
  auto sync_slot = std::make_shared<std::optional<SyncResult>>();
  SyncParams sp;
  sp.group_id = "s";
  sp.generation_id = (*s1)->generation_id;
  sp.member_id = follower;
  coord_->Sync(sp, [sync_slot](SyncResult r) { *sync_slot = std::move(r); });
  ASSERT_FALSE(sync_slot->has_value());

  // Group "g" waits for ids[1] to rejoin; group "h" is in its initial delay.
  auto rejoin = Join(f.ids[0]);
  auto newcomer = Join(Params("", "a"));
  JoinParams p = Params("", "y");
  p.group_id = "h";
  auto other_group = Join(p);
  ASSERT_FALSE(rejoin->has_value() || newcomer->has_value() || other_group->has_value());

  coord_->Shutdown();
  ASSERT_TRUE(rejoin->has_value() && other_group->has_value() && newcomer->has_value());
  EXPECT_EQ((*rejoin)->error_code, err::kCoordinatorNotAvailable);
  EXPECT_EQ((*other_group)->error_code, err::kCoordinatorNotAvailable);
  EXPECT_EQ((*newcomer)->error_code, err::kCoordinatorNotAvailable);
  ASSERT_TRUE(sync_slot->has_value());
  EXPECT_EQ((*sync_slot)->error_code, err::kRebalanceInProgress);

  auto after = Join("");
  ASSERT_TRUE(after->has_value());
  EXPECT_EQ((*after)->error_code, err::kCoordinatorNotAvailable);
  EXPECT_EQ(Heartbeat(f.ids[1], f.generation), err::kCoordinatorNotAvailable);
  EXPECT_EQ(coord_->Describe("g").error_code, err::kCoordinatorNotAvailable);
  coord_->Shutdown();  // idempotent
}

TEST_F(GroupCoordinatorTest, LeaderThatNeverSyncsIsRemovedAfterTheRebalanceTimeout) {
  auto a = Join("", "a");
  auto b = Join("", "b");
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(a->has_value() && b->has_value());
  const std::string leader = (*a)->leader_id;
  const std::string follower = (*a)->member_id == leader ? (*b)->member_id : (*a)->member_id;
  auto waiting = Sync(follower, 1);
  // The leader heartbeats (its client is alive) but never sends its assignment.
  for (int64_t t = 5000; t < kRebalanceMs; t += 5000) {
    Advance(5000);
    EXPECT_EQ(Heartbeat(leader, 1), err::kNone);
  }
  EXPECT_FALSE(waiting->has_value());
  Advance(5000);
  ASSERT_TRUE(waiting->has_value());
  EXPECT_EQ((*waiting)->error_code, err::kRebalanceInProgress);
  EXPECT_EQ(Heartbeat(leader, 1), err::kUnknownMemberId);
  auto r = Join(follower);
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->leader_id, follower);
  EXPECT_EQ((*r)->generation_id, 2);
}

TEST_F(GroupCoordinatorTest, MetadataChangeWhileCompletingRebalanceSendsWaitersBackToJoin) {
  auto a = Join("", "a");
  auto b = Join("", "b");
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(a->has_value() && b->has_value());
  const std::string leader = (*a)->leader_id;
  const std::string follower = (*a)->member_id == leader ? (*b)->member_id : (*a)->member_id;
  auto waiting = Sync(follower, 1);
  // Same metadata: the missed JoinGroup answer is repeated, leader list included.
  auto repeat = Join(leader);
  ASSERT_TRUE(repeat->has_value());
  EXPECT_EQ((*repeat)->generation_id, 1);
  EXPECT_EQ((*repeat)->members.size(), 2u);
  EXPECT_FALSE(waiting->has_value());

  auto changed = Join(Params(leader, "a", Protocols({"range", "roundrobin"}, "-new")));
  ASSERT_TRUE(waiting->has_value());
  EXPECT_EQ((*waiting)->error_code, err::kRebalanceInProgress);
  EXPECT_EQ(State(), "PreparingRebalance");
  auto f = Join(follower);
  ASSERT_TRUE(changed->has_value() && f->has_value());
  EXPECT_EQ((*changed)->generation_id, 2);
  EXPECT_EQ((*changed)->members.size(), 2u);
}

TEST_F(GroupCoordinatorTest, RepeatedJoinSupersedesTheWaitingOne) {
  Formed f = FormGroup(2);
  ASSERT_EQ(f.ids.size(), 2u);
  auto first = Join(f.ids[0]);
  auto second = Join(f.ids[0]);
  ASSERT_TRUE(first->has_value()) << "the superseded request is still answered";
  EXPECT_EQ((*first)->error_code, err::kRebalanceInProgress);
  EXPECT_FALSE(second->has_value());
  Join(f.ids[1]);
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->error_code, err::kNone);
}

TEST_F(GroupCoordinatorTest, StaticMemberRestartingTakesOverWithoutRebalance) {
  JoinParams p = Params("", "app");
  p.group_instance_id = "instance-1";
  auto a = Join(p);
  JoinParams q = Params("", "app");
  q.group_instance_id = "instance-2";
  auto b = Join(q);
  Advance(2 * kInitialDelayMs);
  ASSERT_TRUE(a->has_value() && b->has_value());
  EXPECT_EQ((*a)->member_id.rfind("instance-1-", 0), 0u) << (*a)->member_id;
  const std::string old_id = (*b)->member_id;
  const std::string leader = (*a)->leader_id;
  ASSERT_NE(old_id, leader);
  Sync(leader, 1, {{leader, "LA"}, {old_id, "B"}});
  EXPECT_EQ(State(), "Stable");

  // instance-2 restarts: it comes back without its member id.
  auto restarted = Join(q);
  ASSERT_TRUE(restarted->has_value());
  EXPECT_EQ((*restarted)->error_code, err::kNone);
  EXPECT_NE((*restarted)->member_id, old_id);
  EXPECT_EQ((*restarted)->generation_id, 1);
  EXPECT_EQ(State(), "Stable");
  auto s = Sync((*restarted)->member_id, 1);
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->assignment, "B");
  EXPECT_EQ(coord_->Heartbeat("g", 1, old_id, std::string("instance-2")), err::kFencedInstanceId);
  EXPECT_EQ(Heartbeat(old_id, 1), err::kUnknownMemberId);
  EXPECT_EQ(coord_->Describe("g").members.size(), 2u);

  // LeaveGroup v3 may name a static member by instance id alone.
  EXPECT_EQ(coord_->Leave("g", {{"", std::string("instance-2")}}),
            std::vector<int16_t>{err::kNone});
  EXPECT_EQ(coord_->Describe("g").members.size(), 1u);
}

TEST(GroupCoordinatorThreadTest, TimerThreadStartsAndStops) {
  base::ManualClock clock;
  GroupCoordinatorOptions o;
  o.initial_rebalance_delay_ms = 0;  // completes without waiting for the timer
  auto coord = std::make_unique<GroupCoordinator>(o, clock);
  std::optional<JoinResult> result;
  JoinParams p;
  p.group_id = "g";
  p.session_timeout_ms = 6000;
  p.rebalance_timeout_ms = 6000;
  p.protocol_type = "consumer";
  p.protocols = Protocols({"range"});
  p.client_id = "c";
  coord->Join(p, [&](JoinResult r) { result = std::move(r); });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->error_code, err::kNone);
  EXPECT_EQ(result->generation_id, 1);
  coord.reset();  // joins the timer thread, which waits for a deadline in the future
}

TEST(GroupCoordinatorThreadTest, ManyThreadsFormTheirOwnGroups) {
  base::ManualClock clock;
  GroupCoordinatorOptions o;
  o.initial_rebalance_delay_ms = 0;
  GroupCoordinator coord(o, clock);
  constexpr int kThreads = 4;
  std::vector<int> stable(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        JoinParams p;
        p.group_id = "g" + std::to_string(t);
        p.session_timeout_ms = 6000;
        p.rebalance_timeout_ms = 6000;
        p.protocol_type = "consumer";
        p.protocols = Protocols({"range"});
        p.client_id = "c";
        std::optional<JoinResult> joined;
        coord.Join(p, [&](JoinResult r) { joined = std::move(r); });
        if (!joined || joined->error_code != err::kNone) continue;
        SyncParams s;
        s.group_id = p.group_id;
        s.generation_id = joined->generation_id;
        s.member_id = joined->member_id;
        s.assignments = {{joined->member_id, "x"}};
        std::optional<SyncResult> synced;
        coord.Sync(s, [&](SyncResult r) { synced = std::move(r); });
        if (synced && synced->assignment == "x" &&
            coord.Heartbeat(p.group_id, joined->generation_id, joined->member_id) == 0) {
          ++stable[t];
        }
        coord.List();
        coord.Leave(p.group_id, {{joined->member_id, std::nullopt}});
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(stable[t], 50) << "thread " << t;
  EXPECT_EQ(coord.List().size(), static_cast<size_t>(kThreads));
}

}  // namespace
}  // namespace sluice::net
