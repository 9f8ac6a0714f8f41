#include "net/authorizer.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace sluice::net {

using engine::AclBinding;
using engine::AclPatternType;
using engine::AclPermission;

namespace {

bool Applies(const AclBinding& b, AclResourceType type, const std::string& name) {
  if (b.resource_type != type) return false;
  if (b.pattern_type == AclPatternType::kLiteral) {
    return b.resource_name == name || b.resource_name == engine::kWildcardResource;
  }
  return b.pattern_type == AclPatternType::kPrefixed && name.starts_with(b.resource_name);
}

bool EntryMatches(const AclBinding& b, const std::string& principal, const std::string& host) {
  return (b.principal == principal || b.principal == engine::kWildcardPrincipal) &&
         (b.host == host || b.host == engine::kWildcardHost);
}

// Whether an ALLOW of `granted` allows `requested` (Kafka's implied operations).
bool Implies(AclOperation granted, AclOperation requested) {
  if (granted == AclOperation::kAll || granted == requested) return true;
  if (requested == AclOperation::kDescribe) {
    return granted == AclOperation::kRead || granted == AclOperation::kWrite ||
           granted == AclOperation::kDelete || granted == AclOperation::kAlter;
  }
  return requested == AclOperation::kDescribeConfigs && granted == AclOperation::kAlterConfigs;
}

bool IsSuper(const AuthorizerOptions& options, const std::string& principal) {
  return std::find(options.super_users.begin(), options.super_users.end(), principal) !=
         options.super_users.end();
}

std::string Trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

base::Result<std::vector<std::string>> ParseSuperUsers(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(';', start), text.size());
    const std::string p = Trim(text.substr(start, end - start));
    if (!p.empty()) {
      const auto colon = p.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == p.size()) {
        return base::MakeError(base::ErrorCode::kInvalidArgument,
                               "super.users: '" + p + "' is not a principal Type:name");
      }
      out.push_back(p);
    }
    start = end + 1;
  }
  return out;
}

bool Decide(const engine::AclSet& acls, const AuthorizerOptions& options,
            const std::string& principal, const std::string& host, AclOperation operation,
            AclResourceType type, const std::string& name) {
  if (IsSuper(options, principal)) return true;
  bool any_binding = false;
  bool allowed = false;
  for (const AclBinding& b : acls.bindings) {
    if (!Applies(b, type, name)) continue;
    any_binding = true;
    if (!EntryMatches(b, principal, host)) continue;
    if (b.permission == AclPermission::kDeny &&
        (b.operation == operation || b.operation == AclOperation::kAll)) {
      return false;  // DENY wins
    }
    if (b.permission == AclPermission::kAllow && Implies(b.operation, operation)) allowed = true;
  }
  if (!any_binding) return options.allow_everyone_if_no_acl_found;
  return allowed;
}

bool DecideAnyResource(const engine::AclSet& acls, const AuthorizerOptions& options,
                       const std::string& principal, const std::string& host,
                       AclOperation operation, AclResourceType type) {
  if (IsSuper(options, principal)) return true;
  bool any_binding = false;
  for (const AclBinding& b : acls.bindings) {
    if (b.resource_type != type) continue;
    any_binding = true;
    if (b.permission == AclPermission::kAllow && EntryMatches(b, principal, host) &&
        Implies(b.operation, operation) &&
        Decide(acls, options, principal, host, operation, type, b.resource_name)) {
      return true;
    }
  }
  return !any_binding && options.allow_everyone_if_no_acl_found;
}

// --- RequestAuth, Authorizer ---------------------------------------------------------------------

RequestAuth::RequestAuth(const Authorizer* authorizer, const Session& session)
    : authorizer_(authorizer), principal_(session.principal), ip_(session.ip), peer_(session.peer) {
  if (auto acls = authorizer_->engine_.Acls()) {
    acls_ = std::move(*acls);
  } else {
    authorizer_->LogDenied(
        "", "serve: denying every request but the super users': " + acls.error().ToString());
  }
}

bool RequestAuth::Allowed(AclOperation operation, AclResourceType type, const std::string& name,
                          LogDenial log) const {
  if (authorizer_ == nullptr) return true;
  const AuthorizerOptions& options = authorizer_->options();
  const bool allowed = acls_ ? Decide(*acls_, options, principal_, ip_, operation, type, name)
                             : authorizer_->IsSuperUser(principal_);
  if (!allowed && log == LogDenial::kYes) {
    // Kafka's authorizer log line, with the client's port too.
    const std::string resource = std::string(engine::AclName(type)) + ":" + name;
    authorizer_->LogDenied(principal_ + " " + engine::AclName(operation) + " " + resource,
                           "serve: Principal = " + principal_ +
                               " is Denied Operation = " + engine::AclName(operation) +
                               " from host = " + peer_ + " on resource = " + resource);
  }
  return allowed;
}

bool RequestAuth::AllowedOnAny(AclOperation operation, AclResourceType type) const {
  if (authorizer_ == nullptr) return true;
  const bool allowed =
      acls_ ? DecideAnyResource(*acls_, authorizer_->options(), principal_, ip_, operation, type)
            : authorizer_->IsSuperUser(principal_);
  if (!allowed) {
    authorizer_->LogDenied(principal_ + " " + engine::AclName(operation) + " any",
                           "serve: Principal = " + principal_ + " is Denied Operation = " +
                               engine::AclName(operation) + " from host = " + peer_ +
                               " on any resource of type " + engine::AclName(type));
  }
  return allowed;
}

Authorizer::Authorizer(const engine::Engine& engine, AuthorizerOptions options)
    : engine_(engine),
      options_(std::move(options)),
      denials_([]<size_t... I>(std::index_sequence<I...>) {
        // RateLimitedLog is neither copyable nor movable: built in place.
        return std::array<base::RateLimitedLog, kDenialLogBuckets>{
            ((void)I, base::RateLimitedLog(base::LogLevel::kWarning))...};
      }(std::make_index_sequence<kDenialLogBuckets>())) {}

void Authorizer::LogDenied(const std::string& key, const std::string& message) const {
  denials_[std::hash<std::string>()(key) % kDenialLogBuckets].Log(message);
}

bool Authorizer::IsSuperUser(const std::string& principal) const {
  return IsSuper(options_, principal);
}

}  // namespace sluice::net
