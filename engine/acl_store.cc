#include "engine/acl_store.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "segment/format.h"
#include "segment/small_file.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;
using nlohmann::json;

const segment::SmallFileKind& AclKind() {
  namespace f = segment::format;
  static const segment::SmallFileKind kind{f::kAclMagic, f::kAclMinReadableVersion,
                                           f::kAclCurrentVersion};
  return kind;
}

template <typename E>
struct Named {
  E value;
  const char* name;
};

constexpr Named<AclResourceType> kResourceTypes[] = {
    {AclResourceType::kAny, "ANY"},
    {AclResourceType::kTopic, "TOPIC"},
    {AclResourceType::kGroup, "GROUP"},
    {AclResourceType::kCluster, "CLUSTER"},
    {AclResourceType::kTransactionalId, "TRANSACTIONAL_ID"},
};
constexpr Named<AclPatternType> kPatternTypes[] = {
    {AclPatternType::kAny, "ANY"},
    {AclPatternType::kMatch, "MATCH"},
    {AclPatternType::kLiteral, "LITERAL"},
    {AclPatternType::kPrefixed, "PREFIXED"},
};
constexpr Named<AclOperation> kOperations[] = {
    {AclOperation::kAny, "ANY"},
    {AclOperation::kAll, "ALL"},
    {AclOperation::kRead, "READ"},
    {AclOperation::kWrite, "WRITE"},
    {AclOperation::kCreate, "CREATE"},
    {AclOperation::kDelete, "DELETE"},
    {AclOperation::kAlter, "ALTER"},
    {AclOperation::kDescribe, "DESCRIBE"},
    {AclOperation::kClusterAction, "CLUSTER_ACTION"},
    {AclOperation::kDescribeConfigs, "DESCRIBE_CONFIGS"},
    {AclOperation::kAlterConfigs, "ALTER_CONFIGS"},
    {AclOperation::kIdempotentWrite, "IDEMPOTENT_WRITE"},
};
constexpr Named<AclPermission> kPermissions[] = {
    {AclPermission::kAny, "ANY"},
    {AclPermission::kDeny, "DENY"},
    {AclPermission::kAllow, "ALLOW"},
};

template <typename E, size_t N>
const char* NameOf(const Named<E> (&table)[N], E v) {
  for (const auto& n : table) {
    if (n.value == v) return n.name;
  }
  return "UNKNOWN";
}

template <typename E, size_t N>
bool Known(const Named<E> (&table)[N], E v) {
  return std::any_of(std::begin(table), std::end(table),
                     [v](const auto& n) { return n.value == v; });
}

template <typename E, size_t N>
std::optional<E> Parse(const Named<E> (&table)[N], std::string_view text) {
  // "DescribeConfigs", "describe-configs" and "DESCRIBE_CONFIGS" name the same value.
  auto squash = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c != '_' && c != '-') out.push_back(static_cast<char>(std::toupper(c)));
    }
    return out;
  };
  const std::string wanted = squash(text);
  for (const auto& n : table) {
    if (wanted == squash(n.name)) return n.value;
  }
  return std::nullopt;
}

// Whether a principal reads "Type:name" with both parts non-empty, as Kafka's
// SecurityUtils.parseKafkaPrincipal requires.
bool ValidPrincipal(const std::string& principal) {
  const auto colon = principal.find(':');
  return colon != std::string::npos && colon > 0 && colon + 1 < principal.size();
}

bool Concrete(const AclBinding& b) {
  return IsKnown(b.resource_type) && b.resource_type != AclResourceType::kAny &&
         (b.pattern_type == AclPatternType::kLiteral ||
          b.pattern_type == AclPatternType::kPrefixed) &&
         IsKnown(b.operation) && b.operation != AclOperation::kAny && IsKnown(b.permission) &&
         b.permission != AclPermission::kAny;
}

json BindingJson(const AclBinding& b) {
  return {{"resource_type", AclName(b.resource_type)},
          {"resource_name", b.resource_name},
          {"pattern_type", AclName(b.pattern_type)},
          {"principal", b.principal},
          {"host", b.host},
          {"operation", AclName(b.operation)},
          {"permission", AclName(b.permission)}};
}

}  // namespace

const char* AclName(AclResourceType v) { return NameOf(kResourceTypes, v); }
const char* AclName(AclPatternType v) { return NameOf(kPatternTypes, v); }
const char* AclName(AclOperation v) { return NameOf(kOperations, v); }
const char* AclName(AclPermission v) { return NameOf(kPermissions, v); }
std::optional<AclResourceType> ParseAclResourceType(std::string_view name) {
  return Parse(kResourceTypes, name);
}
std::optional<AclPatternType> ParseAclPatternType(std::string_view name) {
  return Parse(kPatternTypes, name);
}
std::optional<AclOperation> ParseAclOperation(std::string_view name) {
  return Parse(kOperations, name);
}
std::optional<AclPermission> ParseAclPermission(std::string_view name) {
  return Parse(kPermissions, name);
}
bool IsKnown(AclResourceType v) { return Known(kResourceTypes, v); }
bool IsKnown(AclPatternType v) { return Known(kPatternTypes, v); }
bool IsKnown(AclOperation v) { return Known(kOperations, v); }
bool IsKnown(AclPermission v) { return Known(kPermissions, v); }

std::string AclBinding::ToString() const {
  return principal + " has " + AclName(permission) +
         " permission for operations: " + AclName(operation) + " from hosts: " + host + " on " +
         AclName(resource_type) + ":" + AclName(pattern_type) + ":" + resource_name;
}

Status ValidateAclBinding(const AclBinding& b) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kInvalidArgument, "ACL (" + b.ToString() + "): " + why);
  };
  if (!Concrete(b)) {
    return bad("resource type, pattern type, operation and permission must be concrete values");
  }
  if (b.resource_name.empty()) return bad("the resource name is empty");
  if (b.resource_type == AclResourceType::kCluster && b.resource_name != kClusterResourceName) {
    return bad(std::string("the only valid name for the CLUSTER resource is ") +
               kClusterResourceName);
  }
  if (b.pattern_type == AclPatternType::kPrefixed && b.resource_name == kWildcardResource) {
    return bad("a PREFIXED pattern cannot be the wildcard '*' (use LITERAL '*')");
  }
  if (!ValidPrincipal(b.principal)) {
    return bad("the principal must read Type:name, e.g. User:alice");
  }
  if (b.host.empty()) return bad("the host is empty (use '*' for any host)");
  return {};
}

bool AclBindingFilter::Matches(const AclBinding& b) const {
  if (resource_type != AclResourceType::kAny && resource_type != b.resource_type) return false;
  if (pattern_type != AclPatternType::kAny && pattern_type != AclPatternType::kMatch &&
      pattern_type != b.pattern_type) {
    return false;
  }
  if (resource_name) {
    if (pattern_type == AclPatternType::kAny || pattern_type == b.pattern_type) {
      if (*resource_name != b.resource_name) return false;
    } else if (b.pattern_type == AclPatternType::kLiteral) {  // MATCH
      if (*resource_name != b.resource_name && b.resource_name != kWildcardResource) return false;
    } else if (!resource_name->starts_with(b.resource_name)) {  // MATCH, PREFIXED
      return false;
    }
  }
  if (principal && *principal != b.principal) return false;
  if (host && *host != b.host) return false;
  if (operation != AclOperation::kAny && operation != b.operation) return false;
  if (permission != AclPermission::kAny && permission != b.permission) return false;
  return true;
}

bool AclBindingFilter::HasUnknown() const {
  return !IsKnown(resource_type) || !IsKnown(pattern_type) || !IsKnown(operation) ||
         !IsKnown(permission);
}

// --- file ----------------------------------------------------------------------------------------

std::string EncodeAclPayload(const AclSet& set) {
  json doc;
  doc["acls"] = json::array();
  for (const AclBinding& b : set.bindings) doc["acls"].push_back(BindingJson(b));
  return doc.dump(2) + "\n";
}

Result<AclSet> DecodeAclPayload(const std::string& payload, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  json doc = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("acls") || !doc["acls"].is_array()) return bad("no acls array");
  AclSet set;
  size_t index = 0;
  for (const json& e : doc["acls"]) {
    const std::string where = "acl " + std::to_string(index++);
    if (!e.is_object()) return bad(where + " is not an object");
    auto str = [&](const char* key) -> std::optional<std::string> {
      auto it = e.find(key);
      if (it == e.end() || !it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    const auto type = str("resource_type");
    const auto name = str("resource_name");
    const auto pattern = str("pattern_type");
    const auto principal = str("principal");
    const auto host = str("host");
    const auto op = str("operation");
    const auto perm = str("permission");
    if (!type || !name || !pattern || !principal || !host || !op || !perm) {
      return bad(where + " lacks a field or has one that is not a string");
    }
    AclBinding b;
    b.resource_name = *name;
    b.principal = *principal;
    b.host = *host;
    const auto t = ParseAclResourceType(*type);
    const auto p = ParseAclPatternType(*pattern);
    const auto o = ParseAclOperation(*op);
    const auto m = ParseAclPermission(*perm);
    if (!t || !p || !o || !m) return bad(where + " has an unknown enum value");
    b.resource_type = *t;
    b.pattern_type = *p;
    b.operation = *o;
    b.permission = *m;
    if (Status s = ValidateAclBinding(b); !s) return bad(where + ": " + s.error().context);
    if (std::find(set.bindings.begin(), set.bindings.end(), b) != set.bindings.end()) {
      return bad(where + " is a duplicate");
    }
    set.bindings.push_back(std::move(b));
  }
  return set;
}

std::unique_ptr<AclStore> AclStore::Open(io::FileSystem& fs, const std::string& dir) {
  std::unique_ptr<AclStore> store(new AclStore(fs, io::JoinPath(dir, kAclFile)));
  auto file = segment::ReadSmallFile(fs, store->path_, AclKind());
  if (!file) {
    if (file.error().code == ErrorCode::kNotFound) {
      store->current_.store(std::make_shared<const AclSet>());
    } else {
      store->failed_ = file.error();
    }
    return store;
  }
  auto set = DecodeAclPayload(file->payload, store->path_);
  if (!set) {
    store->failed_ = set.error();
  } else {
    store->current_.store(std::make_shared<const AclSet>(std::move(*set)));
  }
  return store;
}

Result<std::shared_ptr<const AclSet>> AclStore::Snapshot() const {
  if (failed_) {
    return MakeError(failed_->code, "ACLs cannot be read (" + failed_->ToString() +
                                        "); the file is kept as it is: move it aside and "
                                        "re-create the ACLs to recover");
  }
  return current_.load();
}

Status AclStore::ReplaceLocked(std::shared_ptr<const AclSet> next) {
  const std::string payload = EncodeAclPayload(*next);
  RETURN_IF_ERROR(segment::WriteSmallFile(fs_, path_, AclKind(), base::AsBytes(payload)));
  current_.store(std::move(next));
  return {};
}

Result<size_t> AclStore::Create(const std::vector<AclBinding>& bindings) {
  for (const AclBinding& b : bindings) RETURN_IF_ERROR(ValidateAclBinding(b));
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<const AclSet> current, Snapshot());
  auto next = std::make_shared<AclSet>(*current);
  size_t added = 0;
  for (const AclBinding& b : bindings) {
    if (std::find(next->bindings.begin(), next->bindings.end(), b) == next->bindings.end()) {
      next->bindings.push_back(b);
      ++added;
    }
  }
  if (added == 0) return added;
  RETURN_IF_ERROR(ReplaceLocked(std::move(next)));
  return added;
}

Result<std::vector<std::vector<AclBinding>>> AclStore::Delete(
    const std::vector<AclBindingFilter>& filters) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<const AclSet> current, Snapshot());
  std::vector<std::vector<AclBinding>> matched(filters.size());
  auto next = std::make_shared<AclSet>();
  for (const AclBinding& b : current->bindings) {
    bool removed = false;
    for (size_t i = 0; i < filters.size(); ++i) {
      if (filters[i].Matches(b)) {
        matched[i].push_back(b);
        removed = true;
      }
    }
    if (!removed) next->bindings.push_back(b);
  }
  if (next->bindings.size() != current->bindings.size()) {
    RETURN_IF_ERROR(ReplaceLocked(std::move(next)));
  }
  return matched;
}

}  // namespace sluice::engine
