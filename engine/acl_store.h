#pragma once

// Access control lists, in Apache Kafka's model (org.apache.kafka.common.acl): an AclBinding says
// that a principal ("User:alice", or "User:*" for everyone) connecting from a host ("*" or one IP)
// is ALLOWed or DENIEd an operation on the resources a pattern names (a LITERAL name, the
// wildcard "*", or a PREFIXED name). Enum values are Kafka's wire codes.
//
// The AclStore keeps the bindings of a data directory in `<data>/acls` (FORMAT.md, "ACLs"), a
// small file replaced atomically and durably on every change. The engine owns one (Engine::Acls,
// CreateAcls, DeleteAcls); what a binding allows is decided in net/authorizer.h.
//
// Thread-safety: AclStore's methods may be called from any thread. Snapshot() is cheap (an atomic
// load of a shared_ptr) and returns an immutable AclSet that stays valid however the store changes
// afterwards. Changes are serialised by a mutex; a change is durable before it returns and visible
// to Snapshot() from then on.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "segment/base/result.h"
#include "segment/io/file_system.h"

namespace sluice::engine {

using base::Error;
using base::Result;
using base::Status;

inline constexpr char kAclFile[] = "acls";
// The one name of the CLUSTER resource (Kafka's "kafka-cluster").
inline constexpr char kClusterResourceName[] = "kafka-cluster";
inline constexpr char kWildcardResource[] = "*";
inline constexpr char kWildcardPrincipal[] = "User:*";
inline constexpr char kWildcardHost[] = "*";

enum class AclResourceType : int8_t {
  kUnknown = 0,
  kAny = 1,  // filters only
  kTopic = 2,
  kGroup = 3,
  kCluster = 4,
  kTransactionalId = 5,
};

enum class AclPatternType : int8_t {
  kUnknown = 0,
  kAny = 1,    // filters only: any pattern type, the name compared exactly
  kMatch = 2,  // filters only: the patterns that apply to the named resource
  kLiteral = 3,
  kPrefixed = 4,
};

enum class AclOperation : int8_t {
  kUnknown = 0,
  kAny = 1,  // filters only
  kAll = 2,
  kRead = 3,
  kWrite = 4,
  kCreate = 5,
  kDelete = 6,
  kAlter = 7,
  kDescribe = 8,
  kClusterAction = 9,
  kDescribeConfigs = 10,
  kAlterConfigs = 11,
  kIdempotentWrite = 12,
};

enum class AclPermission : int8_t {
  kUnknown = 0,
  kAny = 1,  // filters only
  kDeny = 2,
  kAllow = 3,
};

// Kafka's names ("TOPIC", "PREFIXED", "DESCRIBE_CONFIGS", "ALLOW"); "UNKNOWN" for other values.
const char* AclName(AclResourceType v);
const char* AclName(AclPatternType v);
const char* AclName(AclOperation v);
const char* AclName(AclPermission v);
// The value named `name`, case-insensitive, "_" and "-" ignored ("DescribeConfigs",
// "describe-configs"); nullopt if none.
std::optional<AclResourceType> ParseAclResourceType(std::string_view name);
std::optional<AclPatternType> ParseAclPatternType(std::string_view name);
std::optional<AclOperation> ParseAclOperation(std::string_view name);
std::optional<AclPermission> ParseAclPermission(std::string_view name);
// Whether the wire value `v` is one of the enumerators above.
bool IsKnown(AclResourceType v);
bool IsKnown(AclPatternType v);
bool IsKnown(AclOperation v);
bool IsKnown(AclPermission v);

struct AclBinding {
  AclResourceType resource_type = AclResourceType::kTopic;
  std::string resource_name;
  AclPatternType pattern_type = AclPatternType::kLiteral;
  std::string principal;  // "User:alice"
  std::string host = kWildcardHost;
  AclOperation operation = AclOperation::kAll;
  AclPermission permission = AclPermission::kAllow;

  friend bool operator==(const AclBinding&, const AclBinding&) = default;
  // "User:alice has ALLOW permission for operations: READ from hosts: * on TOPIC:LITERAL:orders"
  std::string ToString() const;
};

// Checks that a binding may be stored, as Kafka's CreateAcls does: known, concrete values (no
// ANY, MATCH or UNKNOWN), a non-empty resource name, "kafka-cluster" as the only CLUSTER name, a
// principal "Type:name", a non-empty host. kInvalidArgument says what is wrong.
Status ValidateAclBinding(const AclBinding& binding);

// Selects bindings (DescribeAcls, DeleteAcls). Null strings match anything.
struct AclBindingFilter {
  AclResourceType resource_type = AclResourceType::kAny;
  std::optional<std::string> resource_name;
  AclPatternType pattern_type = AclPatternType::kAny;
  std::optional<std::string> principal;
  std::optional<std::string> host;
  AclOperation operation = AclOperation::kAny;
  AclPermission permission = AclPermission::kAny;

  // Kafka's AclBindingFilter.matches: ANY matches every value; a pattern type ANY compares the
  // name exactly whatever the binding's pattern type; MATCH selects the bindings that apply to
  // the resource named (the literal name, the wildcard "*", and prefixes of it).
  bool Matches(const AclBinding& binding) const;
  // Kafka's isUnknown: some value is UNKNOWN (or not a value at all), so the filter is refused
  // (INVALID_REQUEST).
  bool HasUnknown() const;
};

// An immutable set of bindings, without duplicates, in the order they were added.
struct AclSet {
  std::vector<AclBinding> bindings;
};

// The bindings of a data directory, on disk and in memory.
class AclStore {
 public:
  // Loads `<dir>/acls` (none: no bindings). A damaged or unreadable file does not fail Open: the
  // store is left *failed*, Snapshot() returns the error naming the file (so an authorizer fails
  // closed), changes are refused with it, and the file is never written.
  static std::unique_ptr<AclStore> Open(io::FileSystem& fs, const std::string& dir);

  // The current bindings, or the load error of a failed store.
  Result<std::shared_ptr<const AclSet>> Snapshot() const;

  // Adds the bindings not present yet (validated first: one invalid binding changes nothing) and
  // persists the set before returning. Returns how many were new.
  Result<size_t> Create(const std::vector<AclBinding>& bindings);
  // Removes every binding matched by any of `filters`, persists, and returns, per filter, the
  // bindings it matched (a binding matched by two filters is listed under both).
  Result<std::vector<std::vector<AclBinding>>> Delete(const std::vector<AclBindingFilter>& filters);

  const std::string& path() const { return path_; }

 private:
  AclStore(io::FileSystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {}
  // Writes `next` to the file and publishes it. Called with mu_ held.
  Status ReplaceLocked(std::shared_ptr<const AclSet> next);

  io::FileSystem& fs_;  // borrowed from the engine, which outlives the store
  const std::string path_;
  std::mutex mu_;                // serialises changes (read-modify-write of the file)
  std::optional<Error> failed_;  // set at Open when the file could not be read; never cleared
  std::atomic<std::shared_ptr<const AclSet>> current_;
};

// The payload of the ACL file for `set`, and back (exposed for tests and the fuzzer). Decoding
// errors are kCorruption naming `path`.
std::string EncodeAclPayload(const AclSet& set);
Result<AclSet> DecodeAclPayload(const std::string& payload, const std::string& path);

}  // namespace sluice::engine
