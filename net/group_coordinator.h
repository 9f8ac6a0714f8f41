#pragma once

// GroupCoordinator: Kafka's classic consumer-group membership protocol for one broker (JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup, the generation check of OffsetCommit, DescribeGroups,
// ListGroups, DeleteGroups), following Apache Kafka's GroupCoordinator/GroupMetadata. It speaks
// plain structs, not wire messages: the server decodes a request, calls in here and encodes what
// comes back. Committed offsets are not kept here (engine/group_offsets.h keeps them); membership
// is in memory only, so after a restart members get UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION and
// rejoin, as they would after a coordinator move in Kafka.
//
// Group states: Empty -> PreparingRebalance (a member joins, changes its protocols, leaves or
// expires) -> CompletingRebalance (every known member rejoined, or the rebalance timeout passed;
// the generation is bumped and every waiting JoinGroup answered, the leader with the member list)
// -> Stable (the leader's SyncGroup delivered the assignments). A group without members is Empty;
// an unknown or deleted group describes as Dead.
//
// Memory: what groups hold (ids, client names, members' protocol metadata and assignments, a
// fixed overhead per group, member and pending id) is counted, and a JoinGroup or SyncGroup that
// would take the count past max_state_bytes is answered COORDINATOR_NOT_AVAILABLE (the client
// backs off and retries) instead of being held, so that clients cannot make the broker grow
// without bound by creating groups and members. state_bytes() tells the count.
//
// Thread-safety: every method may be called from any thread concurrently; one mutex guards all
// groups. Join and Sync answer through a callback that runs with no coordinator lock held, either
// on the calling thread before Join/Sync returns or later on the thread of the call (or timer
// expiry) that completed the rebalance. Callbacks must be cheap (post to an event loop) and must
// not call back into the coordinator's Shutdown(). Every mutation is visible to the next call on
// any thread as soon as the method returns; nothing is durable.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "segment/base/clock.h"

namespace sluice::net {

// Kafka error codes the coordinator answers with
// (https://kafka.apache.org/protocol#protocol_error_codes).
namespace group_error {
inline constexpr int16_t kNone = 0;
inline constexpr int16_t kCoordinatorNotAvailable = 15;
inline constexpr int16_t kIllegalGeneration = 22;
inline constexpr int16_t kInconsistentGroupProtocol = 23;
inline constexpr int16_t kInvalidGroupId = 24;
inline constexpr int16_t kUnknownMemberId = 25;
inline constexpr int16_t kInvalidSessionTimeout = 26;
inline constexpr int16_t kRebalanceInProgress = 27;
inline constexpr int16_t kNonEmptyGroup = 68;
inline constexpr int16_t kGroupIdNotFound = 69;
inline constexpr int16_t kMemberIdRequired = 79;
inline constexpr int16_t kGroupMaxSizeReached = 81;
inline constexpr int16_t kFencedInstanceId = 82;
}  // namespace group_error

enum class TimerMode : uint8_t {
  kThread,  // a thread expires sessions and rebalance/sync timeouts at their deadlines
  kManual,  // the caller calls ExpireDue() (tests with ManualClock)
};

struct GroupCoordinatorOptions {
  // Kafka group.initial.rebalance.delay.ms: how long the first rebalance of an Empty group waits
  // for more members; extended by the same amount while members keep arriving, up to the
  // rebalance timeout.
  int64_t initial_rebalance_delay_ms = 3000;
  // Kafka group.min.session.timeout.ms / group.max.session.timeout.ms: a JoinGroup outside
  // [min, max] gets INVALID_SESSION_TIMEOUT.
  int32_t min_session_timeout_ms = 6000;
  int32_t max_session_timeout_ms = 1'800'000;
  // Kafka group.max.size: a new member joining a group this large gets GROUP_MAX_SIZE_REACHED.
  int32_t max_group_size = 1000;
  // The memory all groups' state may hold (see above).
  size_t max_state_bytes = 64u << 20;
  TimerMode timer = TimerMode::kThread;
};

// (protocol name, opaque metadata), in the member's order of preference.
using GroupProtocols = std::vector<std::pair<std::string, std::string>>;

struct JoinParams {
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;              // JoinGroup v0 has none: pass session_timeout_ms
  std::string member_id;                         // "" the first time
  std::optional<std::string> group_instance_id;  // static membership (v5+)
  std::string protocol_type;                     // "consumer" for consumers
  GroupProtocols protocols;
  std::string client_id;
  std::string client_host;
  // JoinGroup v4+: a member joining with "" first gets MEMBER_ID_REQUIRED and a member id to
  // rejoin with. False for v0-3.
  bool require_known_member_id = false;
};

// A member as the leader sees it in its JoinGroup response.
struct JoinedMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string metadata;  // the member's metadata for the chosen protocol
};

struct JoinResult {
  int16_t error_code = group_error::kNone;
  int32_t generation_id = -1;
  std::string protocol_name;  // the protocol chosen for the generation; "" on error
  std::string leader_id;
  std::string member_id;              // the member's id (new members: the generated one)
  std::vector<JoinedMember> members;  // non-empty only in the leader's answer
};

struct SyncParams {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  // (member id, opaque assignment): sent by the leader only; members it leaves out get "".
  std::vector<std::pair<std::string, std::string>> assignments;
};

struct SyncResult {
  int16_t error_code = group_error::kNone;
  std::string assignment;
};

struct LeavingMember {
  std::string member_id;  // may be "" in LeaveGroup v3+ when group_instance_id names the member
  std::optional<std::string> group_instance_id;
};

struct DescribedMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  std::string metadata;    // for the chosen protocol; "" unless the group is Stable (as Kafka)
  std::string assignment;  // "" unless the group is Stable (as Kafka)
};

struct DescribedGroup {
  int16_t error_code = group_error::kNone;
  std::string group_id;
  // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", or "Dead" (unknown group).
  std::string state;
  std::string protocol_type;
  std::string protocol;  // the chosen protocol; "" unless the group is Stable (as Kafka)
  std::vector<DescribedMember> members;
};

struct ListedGroup {
  std::string group_id;
  std::string protocol_type;
  std::string state;
};

class GroupCoordinator {
 public:
  // `clock` must outlive the coordinator; deadlines use its monotonic time. Starts the timer
  // thread unless options.timer is kManual.
  GroupCoordinator(GroupCoordinatorOptions options, const base::Clock& clock);
  ~GroupCoordinator();  // Shutdown()
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // JoinGroup. `done` runs exactly once: at once for errors and for a member that rejoins a
  // settled generation unchanged, otherwise when the rebalance completes.
  void Join(JoinParams params, std::function<void(JoinResult)> done);
  // SyncGroup. `done` runs exactly once: at once, except for a member of a CompletingRebalance
  // group waiting for the leader's assignments.
  void Sync(SyncParams params, std::function<void(SyncResult)> done);
  // Heartbeat: NONE, or UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION / REBALANCE_IN_PROGRESS (rejoin).
  int16_t Heartbeat(const std::string& group_id, int32_t generation_id,
                    const std::string& member_id,
                    const std::optional<std::string>& group_instance_id = std::nullopt);
  // LeaveGroup: one error code per member, in order. Leaving takes effect at once (the group
  // rebalances or goes Empty). Errors of the whole request (INVALID_GROUP_ID,
  // COORDINATOR_NOT_AVAILABLE) are repeated for every member.
  std::vector<int16_t> Leave(const std::string& group_id,
                             const std::vector<LeavingMember>& members);
  // Whether OffsetCommit may store offsets for `group_id`: NONE or the error for every partition.
  // generation -1 with member "" (a consumer using assign(), no group management) is allowed
  // while the group has no members. Refreshes the member's session.
  int16_t CheckCommit(const std::string& group_id, int32_t generation_id,
                      const std::string& member_id,
                      const std::optional<std::string>& group_instance_id = std::nullopt);
  DescribedGroup Describe(const std::string& group_id);
  std::vector<ListedGroup> List();
  // DeleteGroups: NONE (an Empty group's membership state is dropped; the caller deletes its
  // offsets), NON_EMPTY_GROUP, or GROUP_ID_NOT_FOUND.
  int16_t Delete(const std::string& group_id);

  // Expires what is due at the clock's current time: sessions, pending MEMBER_ID_REQUIRED ids,
  // rebalance (join) deadlines, and members that sent no SyncGroup within the rebalance timeout.
  // The timer thread calls it; tests with TimerMode::kManual call it after advancing the clock.
  void ExpireDue();

  // The bytes group state holds now (see Memory above).
  size_t state_bytes();

  // Stops the timer thread and answers every waiting Join with COORDINATOR_NOT_AVAILABLE and every
  // waiting Sync with REBALANCE_IN_PROGRESS; later calls answer COORDINATOR_NOT_AVAILABLE.
  // Idempotent. Must not be called from a Join/Sync callback.
  void Shutdown();

 private:
  enum class State : uint8_t { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };

  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::string protocol_type;
    GroupProtocols protocols;
    std::string assignment;
    // Set while the member waits in JoinGroup (PreparingRebalance only).
    std::function<void(JoinResult)> join_done;
    // Set while the member waits in SyncGroup (CompletingRebalance only).
    std::function<void(SyncResult)> sync_done;
    // Monotonic ms after which the member is removed, unless it waits in Join or Sync.
    int64_t session_deadline_ms = 0;
    // Sent SyncGroup for the current generation.
    bool synced = false;
  };

  struct Group {
    std::string group_id;
    State state = State::kEmpty;
    int32_t generation_id = 0;
    std::string protocol_type;              // of the first member; kept while Empty
    std::string protocol;                   // chosen for the generation; "" while Empty
    std::string leader_id;                  // "" while Empty
    std::map<std::string, Member> members;  // by member id
    // Ids handed out with MEMBER_ID_REQUIRED, not yet rejoined -> monotonic ms expiry.
    std::map<std::string, int64_t> pending_members;
    // group_instance_id -> member id of the static members.
    std::map<std::string, std::string> static_members;
    // PreparingRebalance: when the join phase ends (monotonic ms).
    int64_t join_deadline_ms = 0;
    // PreparingRebalance entered from Empty: Kafka's delayed initial join, which does not end
    // early when everyone has joined and is extended while new members arrive.
    bool initial_join = false;
    bool new_member_added = false;
    int64_t initial_join_remaining_ms = 0;
    // CompletingRebalance/Stable: members that have not sent SyncGroup by then are removed.
    std::optional<int64_t> sync_deadline_ms;
    // What this group added to state_bytes_ when it was last counted (RecountLocked).
    size_t counted_bytes = 0;
  };

  // Callbacks collected under the lock, run after it is released.
  using Deferred = std::vector<std::function<void()>>;

  int64_t NowMs() const;
  std::string NewMemberIdLocked(const std::string& prefix);
  void NoteDeadlineLocked(int64_t deadline_ms);
  void RefreshSessionLocked(Member& member, int64_t now_ms);
  int64_t NextDeadlineLocked() const;
  void ExpireGroupLocked(Group& group, int64_t now_ms, Deferred& deferred);
  void TimerLoop();

  void JoinLocked(JoinParams& params, std::function<void(JoinResult)>& done, Deferred& deferred);
  void AddMemberAndRebalanceLocked(Group& group, JoinParams& params, std::string member_id,
                                   std::function<void(JoinResult)> done, Deferred& deferred);
  void UpdateMemberAndRebalanceLocked(Group& group, Member& member, GroupProtocols protocols,
                                      std::function<void(JoinResult)> done, Deferred& deferred);
  // Replaces the member of a known static instance id by a new member id (KIP-345).
  void ReplaceStaticMemberLocked(Group& group, JoinParams& params,
                                 std::function<void(JoinResult)> done, Deferred& deferred);
  void MaybePrepareRebalanceLocked(Group& group, Deferred& deferred);
  void PrepareRebalanceLocked(Group& group, Deferred& deferred);
  // Ends the join phase if it may end now (everyone rejoined, or the deadline passed).
  void MaybeCompleteJoinLocked(Group& group, int64_t now_ms, Deferred& deferred);
  void CompleteJoinLocked(Group& group, int64_t now_ms, Deferred& deferred);
  void RemoveMemberLocked(Group& group, const std::string& member_id, int16_t error_code,
                          Deferred& deferred);
  // After a member left: rebalance (Stable, CompletingRebalance) or try to end the join phase.
  void OnMembershipShrunkLocked(Group& group, int64_t now_ms, Deferred& deferred);
  void PropagateAssignmentLocked(Group& group, int64_t now_ms, Deferred& deferred);
  // 0, FENCED_INSTANCE_ID or UNKNOWN_MEMBER_ID.
  static int16_t ValidateMemberLocked(const Group& group, const std::string& member_id,
                                      const std::optional<std::string>& group_instance_id);
  static std::string SelectProtocol(const Group& group);
  // The group's rebalance timeout: the largest of its members'.
  static int64_t MaxRebalanceTimeoutMs(const Group& group);
  static bool SupportsProtocols(const Group& group, const std::string& protocol_type,
                                const GroupProtocols& protocols);
  static JoinResult CurrentGenerationResult(const Group& group, const std::string& member_id,
                                            bool with_members);
  static const char* StateName(State state);
  // Drops a group that never formed (only MEMBER_ID_REQUIRED ids that expired or left).
  void MaybeEraseGroupLocked(const std::string& group_id);
  // Group state memory: what a group holds, by the same measure as a JoinGroup's estimate.
  static size_t GroupBytes(const Group& group);
  // Brings state_bytes_ up to date with `group_id`'s state, after a change to it (a group that
  // is gone was subtracted when it was erased).
  void RecountLocked(const std::string& group_id);
  // Whether `incoming` more bytes of state fit under max_state_bytes (logs when they do not).
  bool StateFitsLocked(size_t incoming, const std::string& group_id);

  const GroupCoordinatorOptions options_;
  const base::Clock& clock_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool shut_down_ = false;
  // The deadline the timer thread sleeps until (monotonic ms); lowered (with a notify) when an
  // earlier deadline is set.
  int64_t wake_at_ms_;
  std::map<std::string, Group> groups_;
  size_t state_bytes_ = 0;  // the sum of groups_' counted_bytes
  std::mt19937_64 rng_;
  std::thread timer_thread_;
};

}  // namespace sluice::net
