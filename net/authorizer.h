#pragma once

// Authorizer: decides whether a client may do an operation on a resource, with the ACLs of the
// engine (engine/acl_store.h) and Apache Kafka's rules (AclAuthorizer / StandardAuthorizer):
//   - a super user (super.users) may do everything;
//   - a resource no binding applies to at all (no binding of any principal, host or operation)
//     is allowed to everyone iff allow.everyone.if.no.acl.found (default false);
//   - otherwise a matching DENY binding (principal or "User:*", host or "*", the operation or
//     ALL) denies, whatever allows;
//   - otherwise a matching ALLOW binding for the operation, ALL, or an operation that implies it
//     allows: READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies
//     DESCRIBE_CONFIGS;
//   - otherwise deny.
// A binding applies to a resource when its type is the resource's and its pattern is the literal
// name, the wildcard "*", or a prefix of the name (PREFIXED).
//
// When the ACLs cannot be read (a damaged `<data>/acls`), everyone but the super users is denied:
// the authorizer fails closed (and `sluice serve` refuses to start in that state).
//
// Thread-safety: an Authorizer is immutable after construction and used from every worker thread.
// A RequestAuth (one request's view) is used by one thread; it holds one snapshot of the ACLs, so
// a request is decided against one version of them. ACL changes are visible to requests that
// start after the change returned.

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "engine/acl_store.h"
#include "engine/engine.h"
#include "net/session.h"
#include "segment/base/log.h"

namespace sluice::net {

using engine::AclOperation;
using engine::AclResourceType;

struct AuthorizerOptions {
  std::vector<std::string> super_users;         // super.users: "User:admin", ...
  bool allow_everyone_if_no_acl_found = false;  // allow.everyone.if.no.acl.found
};

// Parses Kafka's super.users: principals separated by ';' (blanks around them ignored). Each must
// read Type:name; kInvalidArgument otherwise.
base::Result<std::vector<std::string>> ParseSuperUsers(const std::string& text);

// The decision for one (principal, host, operation, resource) against `acls` (the rules above).
// A pure function, for the tests and for RequestAuth.
bool Decide(const engine::AclSet& acls, const AuthorizerOptions& options,
            const std::string& principal, const std::string& host, AclOperation operation,
            AclResourceType type, const std::string& name);

// Kafka's authorizeByResourceType, as InitProducerId uses it (WRITE on *some* topic): whether
// there is a resource of `type` on which the principal may do `operation` — an ALLOW binding of
// it whose own resource (its literal name, or its prefix) Decide allows. With no binding of that
// type at all, allow.everyone.if.no.acl.found decides.
bool DecideAnyResource(const engine::AclSet& acls, const AuthorizerOptions& options,
                       const std::string& principal, const std::string& host,
                       AclOperation operation, AclResourceType type);

class Authorizer;

// Whether a denial is logged: not when it only filters what a listing shows (Kafka's
// logIfDenied = false for Metadata of all topics, ListGroups).
enum class LogDenial : bool { kNo, kYes };

// One request's authorisation: the session's principal and address with one ACL snapshot.
// A RequestAuth made without an authorizer allows everything.
class RequestAuth {
 public:
  RequestAuth() = default;  // everything allowed
  RequestAuth(const Authorizer* authorizer, const Session& session);

  // Whether the session may do `operation` on the resource; a denial is logged (rate-limited)
  // with the principal, the client's address, the operation and the resource.
  bool Allowed(AclOperation operation, AclResourceType type, const std::string& name,
               LogDenial log = LogDenial::kYes) const;
  bool AllowedOnCluster(AclOperation operation, LogDenial log = LogDenial::kYes) const {
    return Allowed(operation, AclResourceType::kCluster, engine::kClusterResourceName, log);
  }
  // DecideAnyResource for this session.
  bool AllowedOnAny(AclOperation operation, AclResourceType type) const;
  bool enabled() const { return authorizer_ != nullptr; }

 private:
  const Authorizer* authorizer_ = nullptr;  // borrowed from the broker, which outlives requests
  std::string principal_;
  std::string ip_;
  std::string peer_;
  std::shared_ptr<const engine::AclSet> acls_;  // null when the ACLs cannot be read: deny
};

class Authorizer {
 public:
  // `engine` must outlive the authorizer.
  Authorizer(const engine::Engine& engine, AuthorizerOptions options);

  RequestAuth ForRequest(const Session& session) const { return RequestAuth(this, session); }
  const AuthorizerOptions& options() const { return options_; }

 private:
  friend class RequestAuth;
  bool IsSuperUser(const std::string& principal) const;
  // Logs a denial rate-limited per bucket of `key` (principal, operation, resource): a client
  // denied one thing again and again does not hide that another was denied something else.
  void LogDenied(const std::string& key, const std::string& message) const;

  const engine::Engine& engine_;
  const AuthorizerOptions options_;
  static constexpr size_t kDenialLogBuckets = 64;
  mutable std::array<base::RateLimitedLog, kDenialLogBuckets> denials_;  // each thread-safe
};

}  // namespace sluice::net
