#include "net/group_coordinator.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "segment/base/log.h"

namespace sluice::net {
namespace {

// Logs `line` (info) once the coordinator's lock is released.
void DeferLog(std::vector<std::function<void()>>& deferred, std::string line) {
  deferred.push_back([line = std::move(line)] { base::Log(base::LogLevel::kInfo, "group", line); });
}

}  // namespace

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

using Deferred = std::vector<std::function<void()>>;

JoinResult JoinError(std::string member_id, int16_t error_code) {
  JoinResult r;
  r.error_code = error_code;
  r.member_id = std::move(member_id);
  return r;
}

void DeferJoin(Deferred& deferred, std::function<void(JoinResult)> done, JoinResult result) {
  if (!done) return;
  deferred.push_back(
      [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

void DeferSync(Deferred& deferred, std::function<void(SyncResult)> done, int16_t error_code,
               std::string assignment = {}) {
  if (!done) return;
  deferred.push_back(
      [done = std::move(done), r = SyncResult{error_code, std::move(assignment)}]() { done(r); });
}

void RunAll(Deferred& deferred) {
  for (auto& f : deferred) f();
}

bool HasProtocol(const GroupProtocols& protocols, const std::string& name) {
  return std::any_of(protocols.begin(), protocols.end(),
                     [&](const auto& p) { return p.first == name; });
}

// Fixed costs in the state count, roughly what the containers and strings around the counted
// bytes take.
constexpr size_t kGroupOverheadBytes = 512;
constexpr size_t kMemberOverheadBytes = 256;
constexpr size_t kPendingOverheadBytes = 96;

size_t ProtocolsBytes(const GroupProtocols& protocols) {
  size_t n = 0;
  for (const auto& [name, metadata] : protocols) n += 64 + name.size() + metadata.size();
  return n;
}

// A member's bytes as a JoinGroup asks for them (the member id is not known yet: its prefix is).
size_t JoinBytes(const JoinParams& p) {
  return kMemberOverheadBytes + 2 * p.group_instance_id.value_or(p.client_id).size() + 64 +
         p.client_id.size() + p.client_host.size() + p.protocol_type.size() +
         ProtocolsBytes(p.protocols);
}

const std::string* ProtocolMetadata(const GroupProtocols& protocols, const std::string& name) {
  for (const auto& p : protocols) {
    if (p.first == name) return &p.second;
  }
  return nullptr;
}

}  // namespace

GroupCoordinator::GroupCoordinator(GroupCoordinatorOptions options, const base::Clock& clock)
    : options_(options),
      clock_(clock),
      wake_at_ms_(kNever),
      rng_(std::random_device{}() ^ static_cast<uint64_t>(clock.MonotonicNs())) {
  if (options_.timer == TimerMode::kThread) {
    timer_thread_ = std::thread([this] { TimerLoop(); });
  }
}

GroupCoordinator::~GroupCoordinator() { Shutdown(); }

int64_t GroupCoordinator::NowMs() const { return clock_.MonotonicNs() / 1'000'000; }

std::string GroupCoordinator::NewMemberIdLocked(const std::string& prefix) {
  // "<prefix>-" + a random (version 4) UUID, as Kafka does.
  const uint64_t hi = (rng_() & ~uint64_t{0xF000}) | uint64_t{0x4000};
  const uint64_t lo = (rng_() & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = prefix + "-";
  auto append = [&](uint64_t v, int from_nibble, int count) {
    for (int i = from_nibble; i < from_nibble + count; ++i) {
      id.push_back(kHex[(v >> (60 - 4 * i)) & 0xF]);
    }
  };
  append(hi, 0, 8);
  id.push_back('-');
  append(hi, 8, 4);
  id.push_back('-');
  append(hi, 12, 4);
  id.push_back('-');
  append(lo, 0, 4);
  id.push_back('-');
  append(lo, 4, 12);
  return id;
}

void GroupCoordinator::RefreshSessionLocked(Member& m, int64_t now_ms) {
  m.session_deadline_ms = now_ms + m.session_timeout_ms;
  // Usually later than before, but a member may rejoin with a shorter session timeout.
  NoteDeadlineLocked(m.session_deadline_ms);
}

void GroupCoordinator::NoteDeadlineLocked(int64_t deadline_ms) {
  if (deadline_ms < wake_at_ms_) {
    wake_at_ms_ = deadline_ms;
    cv_.notify_one();
  }
}

int64_t GroupCoordinator::NextDeadlineLocked() const {
  // Only deadlines that ExpireGroupLocked acts on once passed, so the timer never spins.
  int64_t next = kNever;
  for (const auto& [id, g] : groups_) {
    for (const auto& [member_id, deadline] : g.pending_members) next = std::min(next, deadline);
    for (const auto& [member_id, m] : g.members) {
      if (!m.join_done && !m.sync_done) next = std::min(next, m.session_deadline_ms);
    }
    if (g.state == State::kPreparingRebalance) next = std::min(next, g.join_deadline_ms);
    if ((g.state == State::kCompletingRebalance || g.state == State::kStable) &&
        g.sync_deadline_ms.has_value()) {
      next = std::min(next, *g.sync_deadline_ms);
    }
  }
  return next;
}

void GroupCoordinator::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!shut_down_) {
    const int64_t now_ms = NowMs();
    if (wake_at_ms_ <= now_ms) {
      wake_at_ms_ = kNever;
      lock.unlock();
      ExpireDue();
      lock.lock();
      // Covers deadlines set while the lock was released, too: they live in the groups.
      wake_at_ms_ = NextDeadlineLocked();
      continue;
    }
    if (wake_at_ms_ == kNever) {
      cv_.wait(lock);
    } else {
      cv_.wait_for(lock, std::chrono::milliseconds(wake_at_ms_ - now_ms));
    }
  }
}

void GroupCoordinator::ExpireDue() {
  Deferred deferred;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    const int64_t now_ms = NowMs();
    std::vector<std::string> ids;
    for (auto& [id, g] : groups_) {
      ExpireGroupLocked(g, now_ms, deferred);
      ids.push_back(id);
    }
    for (const auto& id : ids) {
      MaybeEraseGroupLocked(id);
      RecountLocked(id);
    }
  }
  RunAll(deferred);
}

void GroupCoordinator::ExpireGroupLocked(Group& g, int64_t now_ms, Deferred& deferred) {
  // An expired MEMBER_ID_REQUIRED id only unblocks the join phase; it never was a member.
  for (auto it = g.pending_members.begin(); it != g.pending_members.end();) {
    if (it->second <= now_ms) {
      it = g.pending_members.erase(it);
    } else {
      ++it;
    }
  }
  // Members waiting in Join or Sync are not expected to heartbeat (as Kafka): the rebalance and
  // sync deadlines bound those waits instead.
  std::vector<std::string> expired;
  for (const auto& [id, m] : g.members) {
    if (!m.join_done && !m.sync_done && m.session_deadline_ms <= now_ms) expired.push_back(id);
  }
  // Kafka's pending-sync timeout: members that sent no SyncGroup within the rebalance timeout
  // after the join phase (a leader that never delivers assignments) are removed.
  if ((g.state == State::kCompletingRebalance || g.state == State::kStable) &&
      g.sync_deadline_ms.has_value() && *g.sync_deadline_ms <= now_ms) {
    g.sync_deadline_ms.reset();
    for (const auto& [id, m] : g.members) {
      if (!m.synced && std::find(expired.begin(), expired.end(), id) == expired.end()) {
        expired.push_back(id);
      }
    }
  }
  for (const auto& id : expired) {
    RemoveMemberLocked(g, id, group_error::kUnknownMemberId, deferred);
  }
  if (!expired.empty()) {
    OnMembershipShrunkLocked(g, now_ms, deferred);
  } else {
    MaybeCompleteJoinLocked(g, now_ms, deferred);
  }
}

void GroupCoordinator::Join(JoinParams params, std::function<void(JoinResult)> done) {
  Deferred deferred;
  {
    std::lock_guard lock(mu_);
    JoinLocked(params, done, deferred);
    MaybeEraseGroupLocked(params.group_id);
    RecountLocked(params.group_id);
  }
  RunAll(deferred);
}

size_t GroupCoordinator::GroupBytes(const Group& g) {
  size_t n = kGroupOverheadBytes + g.group_id.size() + g.protocol_type.size() + g.protocol.size() +
             g.leader_id.size();
  for (const auto& [id, m] : g.members) {
    n += kMemberOverheadBytes + 2 * id.size() + m.group_instance_id.value_or("").size() +
         m.client_id.size() + m.client_host.size() + m.protocol_type.size() +
         ProtocolsBytes(m.protocols) + m.assignment.size();
  }
  for (const auto& [id, deadline] : g.pending_members) n += kPendingOverheadBytes + id.size();
  for (const auto& [instance, id] : g.static_members) {
    n += kPendingOverheadBytes + instance.size() + id.size();
  }
  return n;
}

void GroupCoordinator::RecountLocked(const std::string& group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;  // erasing a group subtracts its count (MaybeEraseGroupLocked)
  Group& g = it->second;
  state_bytes_ -= g.counted_bytes;
  g.counted_bytes = GroupBytes(g);
  state_bytes_ += g.counted_bytes;
}

bool GroupCoordinator::StateFitsLocked(size_t incoming, const std::string& group_id) {
  if (state_bytes_ + incoming <= options_.max_state_bytes) return true;
  static base::RateLimitedLog log(base::LogLevel::kWarning);
  log.Log("groups: state memory spent (" + std::to_string(state_bytes_ >> 10) + " KiB held, " +
          std::to_string(incoming >> 10) + " KiB more asked for group '" + group_id + "', limit " +
          std::to_string(options_.max_state_bytes >> 10) +
          " KiB, --group-max-state-bytes): answering COORDINATOR_NOT_AVAILABLE");
  return false;
}

size_t GroupCoordinator::state_bytes() {
  std::lock_guard lock(mu_);
  return state_bytes_;
}

void GroupCoordinator::JoinLocked(JoinParams& params, std::function<void(JoinResult)>& done,
                                  Deferred& deferred) {
  auto fail = [&](std::string member_id, int16_t error_code) {
    DeferJoin(deferred, std::move(done), JoinError(std::move(member_id), error_code));
  };
  if (shut_down_) return fail(params.member_id, group_error::kCoordinatorNotAvailable);
  if (params.group_id.empty()) return fail(params.member_id, group_error::kInvalidGroupId);
  if (params.session_timeout_ms < options_.min_session_timeout_ms ||
      params.session_timeout_ms > options_.max_session_timeout_ms) {
    return fail(params.member_id, group_error::kInvalidSessionTimeout);
  }
  if (params.rebalance_timeout_ms <= 0) params.rebalance_timeout_ms = params.session_timeout_ms;
  const bool unknown_member = params.member_id.empty();

  auto it = groups_.find(params.group_id);
  // A new member, or a member whose protocols change, holds this much more (an estimate that
  // counts a known member's old protocols twice, which errs on the side of refusing).
  const size_t incoming =
      JoinBytes(params) + (it == groups_.end() ? kGroupOverheadBytes + params.group_id.size() : 0);
  if (!StateFitsLocked(incoming, params.group_id)) {
    return fail(params.member_id, group_error::kCoordinatorNotAvailable);
  }
  if (it == groups_.end()) {
    // A group is created only by a member without an id (Kafka).
    if (!unknown_member) return fail(params.member_id, group_error::kUnknownMemberId);
    if (params.protocol_type.empty() || params.protocols.empty()) {
      return fail("", group_error::kInconsistentGroupProtocol);
    }
    it = groups_.emplace(params.group_id, Group{}).first;
    it->second.group_id = params.group_id;
  }
  Group& g = it->second;
  const int64_t now_ms = NowMs();

  if (unknown_member) {
    if (!SupportsProtocols(g, params.protocol_type, params.protocols)) {
      return fail("", group_error::kInconsistentGroupProtocol);
    }
    if (params.group_instance_id.has_value() &&
        g.static_members.contains(*params.group_instance_id)) {
      ReplaceStaticMemberLocked(g, params, std::move(done), deferred);
      MaybeCompleteJoinLocked(g, now_ms, deferred);
      return;
    }
    if (g.members.size() + g.pending_members.size() >=
        static_cast<size_t>(std::max(options_.max_group_size, 0))) {
      return fail("", group_error::kGroupMaxSizeReached);
    }
    std::string member_id = NewMemberIdLocked(params.group_instance_id.value_or(params.client_id));
    if (params.require_known_member_id && !params.group_instance_id.has_value()) {
      // KIP-394: the member must come back with this id; until then it holds a place that
      // blocks the join phase, and loses it after a session timeout.
      const int64_t deadline_ms = now_ms + params.session_timeout_ms;
      g.pending_members[member_id] = deadline_ms;
      NoteDeadlineLocked(deadline_ms);
      return fail(std::move(member_id), group_error::kMemberIdRequired);
    }
    AddMemberAndRebalanceLocked(g, params, std::move(member_id), std::move(done), deferred);
    MaybeCompleteJoinLocked(g, now_ms, deferred);
    return;
  }

  if (!SupportsProtocols(g, params.protocol_type, params.protocols)) {
    return fail(params.member_id, group_error::kInconsistentGroupProtocol);
  }
  if (auto p = g.pending_members.find(params.member_id); p != g.pending_members.end()) {
    g.pending_members.erase(p);
    if (g.members.size() >= static_cast<size_t>(std::max(options_.max_group_size, 0))) {
      fail("", group_error::kGroupMaxSizeReached);
      MaybeCompleteJoinLocked(g, now_ms, deferred);
      return;
    }
    std::string member_id = params.member_id;
    AddMemberAndRebalanceLocked(g, params, std::move(member_id), std::move(done), deferred);
    MaybeCompleteJoinLocked(g, now_ms, deferred);
    return;
  }
  if (int16_t error = ValidateMemberLocked(g, params.member_id, params.group_instance_id)) {
    return fail(params.member_id, error);
  }
  Member& m = g.members.at(params.member_id);
  m.session_timeout_ms = params.session_timeout_ms;
  m.rebalance_timeout_ms = params.rebalance_timeout_ms;
  RefreshSessionLocked(m, now_ms);
  switch (g.state) {
    case State::kPreparingRebalance:
      UpdateMemberAndRebalanceLocked(g, m, std::move(params.protocols), std::move(done), deferred);
      break;
    case State::kCompletingRebalance:
      if (m.protocols == params.protocols) {
        // The member missed its JoinGroup answer: repeat it.
        DeferJoin(deferred, std::move(done),
                  CurrentGenerationResult(g, m.member_id, g.leader_id == m.member_id));
      } else {
        UpdateMemberAndRebalanceLocked(g, m, std::move(params.protocols), std::move(done),
                                       deferred);
      }
      break;
    case State::kStable:
      // The leader rejoins to make the group rebalance on changes its metadata does not show
      // (a topic's partition count); a follower rejoining unchanged just gets the generation.
      if (g.leader_id == m.member_id || m.protocols != params.protocols) {
        UpdateMemberAndRebalanceLocked(g, m, std::move(params.protocols), std::move(done),
                                       deferred);
      } else {
        DeferJoin(deferred, std::move(done), CurrentGenerationResult(g, m.member_id, false));
      }
      break;
    case State::kEmpty:  // no members, so ValidateMemberLocked already failed
      return fail(params.member_id, group_error::kUnknownMemberId);
  }
  MaybeCompleteJoinLocked(g, now_ms, deferred);
}

void GroupCoordinator::AddMemberAndRebalanceLocked(Group& g, JoinParams& params,
                                                   std::string member_id,
                                                   std::function<void(JoinResult)> done,
                                                   Deferred& deferred) {
  Member m;
  m.member_id = member_id;
  m.group_instance_id = params.group_instance_id;
  m.client_id = params.client_id;
  m.client_host = params.client_host;
  m.session_timeout_ms = params.session_timeout_ms;
  m.rebalance_timeout_ms = params.rebalance_timeout_ms;
  m.protocol_type = params.protocol_type;
  m.protocols = std::move(params.protocols);
  m.join_done = std::move(done);
  RefreshSessionLocked(m, NowMs());
  if (g.members.empty()) g.protocol_type = m.protocol_type;
  if (g.leader_id.empty()) g.leader_id = member_id;
  if (g.state == State::kPreparingRebalance && g.initial_join) g.new_member_added = true;
  if (m.group_instance_id.has_value()) g.static_members[*m.group_instance_id] = member_id;
  g.members.emplace(member_id, std::move(m));
  MaybePrepareRebalanceLocked(g, deferred);
}

void GroupCoordinator::UpdateMemberAndRebalanceLocked(Group& g, Member& m, GroupProtocols protocols,
                                                      std::function<void(JoinResult)> done,
                                                      Deferred& deferred) {
  // A second JoinGroup while the first still waits (a client retry) supersedes it; the first
  // must still be answered so its connection's responses stay in order.
  DeferJoin(deferred, std::exchange(m.join_done, nullptr),
            JoinError(m.member_id, group_error::kRebalanceInProgress));
  m.protocols = std::move(protocols);
  m.join_done = std::move(done);
  MaybePrepareRebalanceLocked(g, deferred);
}

void GroupCoordinator::ReplaceStaticMemberLocked(Group& g, JoinParams& params,
                                                 std::function<void(JoinResult)> done,
                                                 Deferred& deferred) {
  const std::string& instance_id = *params.group_instance_id;
  const std::string old_id = g.static_members.at(instance_id);
  const std::string new_id = NewMemberIdLocked(instance_id);
  const std::string reported_leader = g.leader_id;

  auto node = g.members.extract(old_id);
  Member& m = node.mapped();
  // The old incarnation is fenced: whatever it still waits for is answered.
  DeferJoin(deferred, std::exchange(m.join_done, nullptr),
            JoinError(old_id, group_error::kFencedInstanceId));
  DeferSync(deferred, std::exchange(m.sync_done, nullptr), group_error::kFencedInstanceId);
  node.key() = new_id;
  m.member_id = new_id;
  m.client_id = params.client_id;
  m.client_host = params.client_host;
  m.session_timeout_ms = params.session_timeout_ms;
  m.rebalance_timeout_ms = params.rebalance_timeout_ms;
  RefreshSessionLocked(m, NowMs());
  Member& member = g.members.insert(std::move(node)).position->second;
  g.static_members[instance_id] = new_id;
  if (g.leader_id == old_id) g.leader_id = new_id;

  if (g.state == State::kStable && member.protocols == params.protocols) {
    // KIP-345: a static member restarting unchanged takes over its assignment without a
    // rebalance. The old leader id is reported so that a restarted leader does not compute an
    // assignment nobody would receive.
    JoinResult r = CurrentGenerationResult(g, new_id, false);
    r.leader_id = reported_leader;
    DeferJoin(deferred, std::move(done), std::move(r));
    return;
  }
  UpdateMemberAndRebalanceLocked(g, member, std::move(params.protocols), std::move(done), deferred);
}

void GroupCoordinator::MaybePrepareRebalanceLocked(Group& g, Deferred& deferred) {
  if (g.state == State::kPreparingRebalance) return;
  PrepareRebalanceLocked(g, deferred);
}

void GroupCoordinator::PrepareRebalanceLocked(Group& g, Deferred& deferred) {
  if (g.state == State::kCompletingRebalance) {
    // Members waiting for the leader's assignment must rejoin instead.
    for (auto& [id, m] : g.members) {
      DeferSync(deferred, std::exchange(m.sync_done, nullptr), group_error::kRebalanceInProgress);
      m.assignment.clear();
    }
  }
  g.sync_deadline_ms.reset();
  const int64_t rebalance_timeout_ms = MaxRebalanceTimeoutMs(g);
  const int64_t now_ms = NowMs();
  if (g.state == State::kEmpty) {
    const int64_t delay_ms = std::max<int64_t>(options_.initial_rebalance_delay_ms, 0);
    g.initial_join = true;
    g.new_member_added = false;
    g.initial_join_remaining_ms = std::max<int64_t>(rebalance_timeout_ms - delay_ms, 0);
    g.join_deadline_ms = now_ms + delay_ms;
  } else {
    g.initial_join = false;
    g.join_deadline_ms = now_ms + rebalance_timeout_ms;
  }
  if (g.state != State::kPreparingRebalance) {
    DeferLog(deferred, g.group_id + ": rebalance started (generation " +
                           std::to_string(g.generation_id) + ", " +
                           std::to_string(g.members.size()) + " member(s))");
  }
  g.state = State::kPreparingRebalance;
  NoteDeadlineLocked(g.join_deadline_ms);
}

void GroupCoordinator::MaybeCompleteJoinLocked(Group& g, int64_t now_ms, Deferred& deferred) {
  if (g.state != State::kPreparingRebalance) return;
  if (g.initial_join) {
    if (now_ms < g.join_deadline_ms) return;
    if (g.new_member_added && g.initial_join_remaining_ms > 0) {
      // Extended from the old deadline (not from now), as if the timer had fired on time.
      g.new_member_added = false;
      const int64_t delay_ms = std::min<int64_t>(
          std::max<int64_t>(options_.initial_rebalance_delay_ms, 0), g.initial_join_remaining_ms);
      g.initial_join_remaining_ms -= delay_ms;
      g.join_deadline_ms += delay_ms;
      NoteDeadlineLocked(g.join_deadline_ms);
      if (now_ms < g.join_deadline_ms) return;
    }
  } else if (now_ms < g.join_deadline_ms) {
    const bool all_joined = g.pending_members.empty() &&
                            std::all_of(g.members.begin(), g.members.end(), [](const auto& entry) {
                              return static_cast<bool>(entry.second.join_done);
                            });
    if (!all_joined) return;
  }
  CompleteJoinLocked(g, now_ms, deferred);
}

void GroupCoordinator::CompleteJoinLocked(Group& g, int64_t now_ms, Deferred& deferred) {
  // Members that did not rejoin in time are out (static ones too: we keep no absent members).
  std::vector<std::string> absent;
  for (const auto& [id, m] : g.members) {
    if (!m.join_done) absent.push_back(id);
  }
  for (const auto& id : absent) RemoveMemberLocked(g, id, group_error::kUnknownMemberId, deferred);
  g.initial_join = false;
  g.new_member_added = false;
  ++g.generation_id;
  if (g.members.empty()) {
    DeferLog(deferred, g.group_id + ": rebalance ended: generation " +
                           std::to_string(g.generation_id) + " with no members (Empty)");
    g.state = State::kEmpty;
    g.protocol.clear();
    g.leader_id.clear();
    g.sync_deadline_ms.reset();
    return;
  }
  if (!g.members.contains(g.leader_id)) g.leader_id = g.members.begin()->first;
  g.protocol = SelectProtocol(g);
  g.state = State::kCompletingRebalance;
  const int64_t rebalance_timeout_ms = MaxRebalanceTimeoutMs(g);
  g.sync_deadline_ms = now_ms + rebalance_timeout_ms;
  NoteDeadlineLocked(*g.sync_deadline_ms);
  for (auto& [id, m] : g.members) {
    DeferJoin(deferred, std::exchange(m.join_done, nullptr),
              CurrentGenerationResult(g, id, id == g.leader_id));
    m.synced = false;
    RefreshSessionLocked(m, now_ms);
  }
}

void GroupCoordinator::RemoveMemberLocked(Group& g, const std::string& member_id,
                                          int16_t error_code, Deferred& deferred) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  Member& m = it->second;
  DeferJoin(deferred, std::exchange(m.join_done, nullptr), JoinError("", error_code));
  DeferSync(deferred, std::exchange(m.sync_done, nullptr), error_code);
  if (m.group_instance_id.has_value()) {
    auto s = g.static_members.find(*m.group_instance_id);
    if (s != g.static_members.end() && s->second == member_id) g.static_members.erase(s);
  }
  g.members.erase(it);
  if (g.leader_id == member_id) {
    g.leader_id = g.members.empty() ? std::string() : g.members.begin()->first;
  }
}

void GroupCoordinator::OnMembershipShrunkLocked(Group& g, int64_t now_ms, Deferred& deferred) {
  switch (g.state) {
    case State::kStable:
    case State::kCompletingRebalance:
      PrepareRebalanceLocked(g, deferred);
      break;
    case State::kPreparingRebalance:
    case State::kEmpty:
      break;
  }
  MaybeCompleteJoinLocked(g, now_ms, deferred);
}

void GroupCoordinator::Sync(SyncParams params, std::function<void(SyncResult)> done) {
  Deferred deferred;
  {
    std::lock_guard lock(mu_);
    auto fail = [&](int16_t error_code) { DeferSync(deferred, std::move(done), error_code); };
    auto it = groups_.find(params.group_id);
    int16_t error = group_error::kNone;
    if (shut_down_) {
      error = group_error::kCoordinatorNotAvailable;
    } else if (params.group_id.empty()) {
      error = group_error::kInvalidGroupId;
    } else if (it == groups_.end()) {
      error = group_error::kUnknownMemberId;
    } else {
      error = ValidateMemberLocked(it->second, params.member_id, params.group_instance_id);
      if (error == group_error::kNone && params.generation_id != it->second.generation_id) {
        error = group_error::kIllegalGeneration;
      }
    }
    if (error != group_error::kNone) {
      fail(error);
    } else {
      Group& g = it->second;
      Member& m = g.members.at(params.member_id);
      const int64_t now_ms = NowMs();
      RefreshSessionLocked(m, now_ms);
      switch (g.state) {
        case State::kEmpty:
          fail(group_error::kUnknownMemberId);
          break;
        case State::kPreparingRebalance:
          fail(group_error::kRebalanceInProgress);
          break;
        case State::kCompletingRebalance:
          // A repeated SyncGroup supersedes the waiting one, which is still answered.
          DeferSync(deferred, std::exchange(m.sync_done, nullptr),
                    group_error::kRebalanceInProgress);
          m.sync_done = std::move(done);
          m.synced = true;
          if (g.leader_id == m.member_id) {
            size_t incoming = 0;
            for (const auto& [member_id, assignment] : params.assignments) {
              incoming += assignment.size();
            }
            if (!StateFitsLocked(incoming, g.group_id)) {
              // The leader retries (or the group rebalances after the sync timeout).
              DeferSync(deferred, std::exchange(m.sync_done, nullptr),
                        group_error::kCoordinatorNotAvailable);
              m.synced = false;
              break;
            }
            std::map<std::string, std::string> by_member;
            for (auto& [member_id, assignment] : params.assignments) {
              by_member[member_id] = std::move(assignment);
            }
            for (auto& [member_id, member] : g.members) {
              auto a = by_member.find(member_id);
              member.assignment = a == by_member.end() ? std::string() : std::move(a->second);
            }
            g.state = State::kStable;
            DeferLog(deferred, g.group_id + ": rebalance ended: generation " +
                                   std::to_string(g.generation_id) + ", " +
                                   std::to_string(g.members.size()) + " member(s), protocol " +
                                   g.protocol + ", leader " + g.leader_id + " (Stable)");
            PropagateAssignmentLocked(g, now_ms, deferred);
          }
          break;
        case State::kStable:
          // Followers (kafka-python's among them) may sync after the leader completed the group.
          m.synced = true;
          DeferSync(deferred, std::move(done), group_error::kNone, m.assignment);
          break;
      }
      if (g.sync_deadline_ms.has_value() &&
          std::all_of(g.members.begin(), g.members.end(),
                      [](const auto& entry) { return entry.second.synced; })) {
        g.sync_deadline_ms.reset();
      }
      RecountLocked(params.group_id);
    }
  }
  RunAll(deferred);
}

void GroupCoordinator::PropagateAssignmentLocked(Group& g, int64_t now_ms, Deferred& deferred) {
  for (auto& [id, m] : g.members) {
    if (!m.sync_done) continue;
    DeferSync(deferred, std::exchange(m.sync_done, nullptr), group_error::kNone, m.assignment);
    // The session was on hold while the member waited.
    RefreshSessionLocked(m, now_ms);
  }
}

int16_t GroupCoordinator::Heartbeat(const std::string& group_id, int32_t generation_id,
                                    const std::string& member_id,
                                    const std::optional<std::string>& group_instance_id) {
  std::lock_guard lock(mu_);
  if (shut_down_) return group_error::kCoordinatorNotAvailable;
  if (group_id.empty()) return group_error::kInvalidGroupId;
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return group_error::kUnknownMemberId;
  Group& g = it->second;
  if (int16_t error = ValidateMemberLocked(g, member_id, group_instance_id)) return error;
  if (generation_id != g.generation_id) return group_error::kIllegalGeneration;
  Member& m = g.members.at(member_id);
  RefreshSessionLocked(m, NowMs());
  switch (g.state) {
    case State::kEmpty:
      return group_error::kUnknownMemberId;
    case State::kPreparingRebalance:
      return group_error::kRebalanceInProgress;
    case State::kCompletingRebalance:
    case State::kStable:
      return group_error::kNone;
  }
  return group_error::kNone;
}

std::vector<int16_t> GroupCoordinator::Leave(const std::string& group_id,
                                             const std::vector<LeavingMember>& members) {
  Deferred deferred;
  std::vector<int16_t> errors;
  errors.reserve(members.size());
  {
    std::lock_guard lock(mu_);
    auto it = groups_.find(group_id);
    int16_t group_level = group_error::kNone;
    if (shut_down_) {
      group_level = group_error::kCoordinatorNotAvailable;
    } else if (group_id.empty()) {
      group_level = group_error::kInvalidGroupId;
    } else if (it == groups_.end()) {
      group_level = group_error::kUnknownMemberId;
    }
    if (group_level != group_error::kNone) {
      errors.assign(members.size(), group_level);
    } else {
      Group& g = it->second;
      bool shrunk = false;
      for (const LeavingMember& leaving : members) {
        const auto& instance = leaving.group_instance_id;
        const bool known_instance = instance.has_value() && g.static_members.contains(*instance);
        if (!leaving.member_id.empty() && known_instance &&
            g.static_members.at(*instance) != leaving.member_id) {
          errors.push_back(group_error::kFencedInstanceId);
        } else if (g.pending_members.erase(leaving.member_id) > 0) {
          errors.push_back(group_error::kNone);
        } else if (known_instance || g.members.contains(leaving.member_id)) {
          const std::string id =
              known_instance ? g.static_members.at(*instance) : leaving.member_id;
          RemoveMemberLocked(g, id, group_error::kUnknownMemberId, deferred);
          errors.push_back(group_error::kNone);
          shrunk = true;
        } else {
          errors.push_back(group_error::kUnknownMemberId);
        }
      }
      if (shrunk) {
        OnMembershipShrunkLocked(g, NowMs(), deferred);
      } else {
        MaybeCompleteJoinLocked(g, NowMs(), deferred);  // a pending id that left may unblock it
      }
      MaybeEraseGroupLocked(group_id);
      RecountLocked(group_id);
    }
  }
  RunAll(deferred);
  return errors;
}

int16_t GroupCoordinator::CheckCommit(const std::string& group_id, int32_t generation_id,
                                      const std::string& member_id,
                                      const std::optional<std::string>& group_instance_id) {
  std::lock_guard lock(mu_);
  if (shut_down_) return group_error::kCoordinatorNotAvailable;
  auto it = groups_.find(group_id);
  if (it == groups_.end()) {
    // No group management: a consumer that only stores offsets (generation -1). A non-negative
    // generation of a group we do not know is stale (e.g. from before a restart): rejoin.
    return generation_id < 0 ? group_error::kNone : group_error::kIllegalGeneration;
  }
  Group& g = it->second;
  if (generation_id >= 0 || !member_id.empty() || group_instance_id.has_value()) {
    if (int16_t error = ValidateMemberLocked(g, member_id, group_instance_id)) return error;
    if (generation_id != g.generation_id) return group_error::kIllegalGeneration;
  } else {
    // Only members may commit for a group that has them (Kafka).
    return g.members.empty() ? group_error::kNone : group_error::kUnknownMemberId;
  }
  Member& m = g.members.at(member_id);
  switch (g.state) {
    case State::kCompletingRebalance:
      // The member has its new generation but not its assignment yet.
      return group_error::kRebalanceInProgress;
    case State::kPreparingRebalance:
      // Allowed (as Kafka): consumers commit what they consumed before rejoining (eager
      // rebalance, auto-commit on revoke); the heartbeat tells them to rejoin.
    case State::kStable:
      RefreshSessionLocked(m, NowMs());
      return group_error::kNone;
    case State::kEmpty:
      return group_error::kNone;
  }
  return group_error::kNone;
}

DescribedGroup GroupCoordinator::Describe(const std::string& group_id) {
  std::lock_guard lock(mu_);
  DescribedGroup d;
  d.group_id = group_id;
  if (shut_down_) {
    d.error_code = group_error::kCoordinatorNotAvailable;
    return d;
  }
  auto it = groups_.find(group_id);
  if (it == groups_.end()) {
    d.state = "Dead";
    return d;
  }
  const Group& g = it->second;
  const bool stable = g.state == State::kStable;
  d.state = StateName(g.state);
  d.protocol_type = g.protocol_type;
  if (stable) d.protocol = g.protocol;
  for (const auto& [id, m] : g.members) {
    DescribedMember dm;
    dm.member_id = id;
    dm.group_instance_id = m.group_instance_id;
    dm.client_id = m.client_id;
    dm.client_host = m.client_host;
    if (stable) {
      if (const std::string* metadata = ProtocolMetadata(m.protocols, g.protocol)) {
        dm.metadata = *metadata;
      }
      dm.assignment = m.assignment;
    }
    d.members.push_back(std::move(dm));
  }
  return d;
}

std::vector<ListedGroup> GroupCoordinator::List() {
  std::lock_guard lock(mu_);
  std::vector<ListedGroup> out;
  if (shut_down_) return out;
  for (const auto& [id, g] : groups_) {
    out.push_back(ListedGroup{id, g.protocol_type, StateName(g.state)});
  }
  return out;
}

int16_t GroupCoordinator::Delete(const std::string& group_id) {
  std::lock_guard lock(mu_);
  if (shut_down_) return group_error::kCoordinatorNotAvailable;
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return group_error::kGroupIdNotFound;
  if (it->second.state != State::kEmpty) return group_error::kNonEmptyGroup;
  state_bytes_ -= it->second.counted_bytes;
  groups_.erase(it);
  return group_error::kNone;
}

void GroupCoordinator::Shutdown() {
  Deferred deferred;
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (!shut_down_) {
      first = true;
      shut_down_ = true;
      for (auto& [group_id, g] : groups_) {
        for (auto& [id, m] : g.members) {
          DeferJoin(deferred, std::exchange(m.join_done, nullptr),
                    JoinError(id, group_error::kCoordinatorNotAvailable));
          DeferSync(deferred, std::exchange(m.sync_done, nullptr),
                    group_error::kRebalanceInProgress);
        }
      }
      groups_.clear();
      state_bytes_ = 0;
      cv_.notify_all();
    }
  }
  if (first && timer_thread_.joinable()) timer_thread_.join();
  RunAll(deferred);
}

int16_t GroupCoordinator::ValidateMemberLocked(
    const Group& g, const std::string& member_id,
    const std::optional<std::string>& group_instance_id) {
  if (group_instance_id.has_value()) {
    auto s = g.static_members.find(*group_instance_id);
    if (s != g.static_members.end() && s->second != member_id) {
      return group_error::kFencedInstanceId;
    }
  }
  if (!g.members.contains(member_id)) return group_error::kUnknownMemberId;
  return group_error::kNone;
}

std::string GroupCoordinator::SelectProtocol(const Group& g) {
  // Kafka's vote: among the protocols every member supports, each member votes for the one it
  // prefers most; the most votes wins, a tie going to the leader's preference.
  const auto leader = g.members.find(g.leader_id);
  const Member& first = leader != g.members.end() ? leader->second : g.members.begin()->second;
  std::vector<std::string> candidates;
  for (const auto& protocol : first.protocols) {
    const std::string& name =
        protocol.first;  // not a structured binding: clang 14 cannot capture one
    const bool everyone = std::all_of(g.members.begin(), g.members.end(), [&](const auto& e) {
      return HasProtocol(e.second.protocols, name);
    });
    if (everyone) candidates.push_back(name);
  }
  if (candidates.empty()) {
    // Unreachable: Join admits only members sharing a protocol with everyone.
    return first.protocols.empty() ? std::string() : first.protocols.front().first;
  }
  std::map<std::string, int> votes;
  for (const auto& [id, m] : g.members) {
    for (const auto& [name, metadata] : m.protocols) {
      if (std::find(candidates.begin(), candidates.end(), name) != candidates.end()) {
        ++votes[name];
        break;
      }
    }
  }
  std::string best = candidates.front();
  for (const auto& c : candidates) {
    if (votes[c] > votes[best]) best = c;
  }
  return best;
}

int64_t GroupCoordinator::MaxRebalanceTimeoutMs(const Group& g) {
  int64_t max_ms = 0;
  for (const auto& [id, m] : g.members) max_ms = std::max<int64_t>(max_ms, m.rebalance_timeout_ms);
  return max_ms;
}

bool GroupCoordinator::SupportsProtocols(const Group& g, const std::string& protocol_type,
                                         const GroupProtocols& protocols) {
  if (protocol_type.empty() || protocols.empty()) return false;
  if (g.members.empty()) return true;
  if (protocol_type != g.protocol_type) return false;
  return std::any_of(protocols.begin(), protocols.end(), [&](const auto& p) {
    return std::all_of(g.members.begin(), g.members.end(),
                       [&](const auto& e) { return HasProtocol(e.second.protocols, p.first); });
  });
}

JoinResult GroupCoordinator::CurrentGenerationResult(const Group& g, const std::string& member_id,
                                                     bool with_members) {
  JoinResult r;
  r.generation_id = g.generation_id;
  r.protocol_name = g.protocol;
  r.leader_id = g.leader_id;
  r.member_id = member_id;
  if (with_members) {
    r.members.reserve(g.members.size());
    for (const auto& [id, m] : g.members) {
      const std::string* metadata = ProtocolMetadata(m.protocols, g.protocol);
      r.members.push_back(
          JoinedMember{id, m.group_instance_id, metadata ? *metadata : std::string()});
    }
  }
  return r;
}

const char* GroupCoordinator::StateName(State state) {
  switch (state) {
    case State::kEmpty:
      return "Empty";
    case State::kPreparingRebalance:
      return "PreparingRebalance";
    case State::kCompletingRebalance:
      return "CompletingRebalance";
    case State::kStable:
      return "Stable";
  }
  return "Dead";
}

void GroupCoordinator::MaybeEraseGroupLocked(const std::string& group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  const Group& g = it->second;
  if (g.state == State::kEmpty && g.generation_id == 0 && g.members.empty() &&
      g.pending_members.empty()) {
    state_bytes_ -= g.counted_bytes;
    groups_.erase(it);
  }
}

}  // namespace sluice::net
