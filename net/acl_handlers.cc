// The ACL APIs: DescribeAcls, CreateAcls, DeleteAcls. The bindings live in the engine
// (engine/acl_store.h); these handlers translate the wire's codes and check the caller may
// DESCRIBE (or ALTER) the cluster, as Kafka's AclApis does.

#include <map>
#include <tuple>

#include "net/broker_impl.h"
#include "segment/base/log.h"

namespace sluice::net {

namespace {

using engine::AclBinding;
using engine::AclBindingFilter;
using engine::AclPatternType;
using engine::AclPermission;

constexpr const char* kNoAuthorizer =
    "No Authorizer is configured on the broker (sluice serve --authorizer acl)";

AclBindingFilter ToFilter(const AclFilterFields& f) {
  AclBindingFilter out;
  out.resource_type = static_cast<AclResourceType>(f.resource_type_filter);
  out.resource_name = f.resource_name_filter;
  out.pattern_type = static_cast<AclPatternType>(f.pattern_type_filter);
  out.principal = f.principal_filter;
  out.host = f.host_filter;
  out.operation = static_cast<AclOperation>(f.operation);
  out.permission = static_cast<AclPermission>(f.permission_type);
  return out;
}

int8_t Code(auto v) { return static_cast<int8_t>(v); }

}  // namespace

void Broker::Impl::Handle(const RequestHeader& h, const DescribeAclsRequest& req,
                          Responder& responder) {
  DescribeAclsResponse resp;
  const RequestAuth auth = Auth(responder);
  const AclBindingFilter filter = ToFilter(req.filter);
  auto acls = engine_->Acls();
  if (!authorizer_) {
    resp.error_code = KafkaError::kSecurityDisabled;
    resp.error_message = kNoAuthorizer;
  } else if (!auth.AllowedOnCluster(AclOperation::kDescribe)) {
    resp.error_code = KafkaError::kClusterAuthorizationFailed;
  } else if (filter.HasUnknown()) {
    resp.error_code = KafkaError::kInvalidRequest;
    resp.error_message =
        "the filter has an unknown resource type, pattern type, operation or "
        "permission";
  } else if (!acls) {
    resp.error_code = KafkaError::kUnknownServerError;
    resp.error_message = acls.error().ToString();
  } else {
    // Grouped by resource pattern, as Kafka answers.
    std::map<std::tuple<int8_t, std::string, int8_t>, std::vector<AclDescription>> by_resource;
    for (const AclBinding& b : (*acls)->bindings) {
      if (!filter.Matches(b)) continue;
      // v0 has no pattern type: only LITERAL bindings can be told apart from one another there.
      if (h.api_version == 0 && b.pattern_type != AclPatternType::kLiteral) continue;
      by_resource[{Code(b.resource_type), b.resource_name, Code(b.pattern_type)}].push_back(
          {b.principal, b.host, Code(b.operation), Code(b.permission)});
    }
    for (auto& [key, descriptions] : by_resource) {
      resp.resources.push_back(
          {std::get<0>(key), std::get<1>(key), std::get<2>(key), std::move(descriptions)});
    }
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const CreateAclsRequest& req,
                          Responder& responder) {
  CreateAclsResponse resp;
  resp.results.resize(req.creations.size());
  const RequestAuth auth = Auth(responder);
  auto fail_all = [&](KafkaError code, const std::optional<std::string>& message) {
    for (auto& r : resp.results) r = {code, message};
  };
  if (!authorizer_) {
    fail_all(KafkaError::kSecurityDisabled, kNoAuthorizer);
  } else if (!auth.AllowedOnCluster(AclOperation::kAlter)) {
    fail_all(KafkaError::kClusterAuthorizationFailed, std::nullopt);
  } else {
    std::vector<AclBinding> valid;
    std::vector<size_t> valid_index;
    for (size_t i = 0; i < req.creations.size(); ++i) {
      const auto& c = req.creations[i];
      AclBinding b;
      b.resource_type = static_cast<AclResourceType>(c.resource_type);
      b.resource_name = c.resource_name;
      b.pattern_type = static_cast<AclPatternType>(c.resource_pattern_type);
      b.principal = c.principal;
      b.host = c.host;
      b.operation = static_cast<AclOperation>(c.operation);
      b.permission = static_cast<AclPermission>(c.permission_type);
      if (Status s = engine::ValidateAclBinding(b); !s) {
        resp.results[i] = {KafkaError::kInvalidRequest, s.error().context};
      } else {
        valid.push_back(std::move(b));
        valid_index.push_back(i);
      }
    }
    if (!valid.empty()) {
      if (auto added = engine_->CreateAcls(valid); !added) {
        base::LogError("serve: " + responder.peer() +
                       ": cannot store ACLs: " + added.error().ToString());
        for (size_t i : valid_index) {
          resp.results[i] = {KafkaError::kUnknownServerError, added.error().ToString()};
        }
      } else {
        for (const AclBinding& b : valid) {
          base::LogInfo("serve: " + responder.session().principal + " added ACL: " + b.ToString());
        }
      }
    }
  }
  Reply(responder, h.api_version, resp);
}

void Broker::Impl::Handle(const RequestHeader& h, const DeleteAclsRequest& req,
                          Responder& responder) {
  DeleteAclsResponse resp;
  resp.filter_results.resize(req.filters.size());
  const RequestAuth auth = Auth(responder);
  auto fail_all = [&](KafkaError code, const std::optional<std::string>& message) {
    for (auto& r : resp.filter_results) r = {code, message, {}};
  };
  if (!authorizer_) {
    fail_all(KafkaError::kSecurityDisabled, kNoAuthorizer);
  } else if (!auth.AllowedOnCluster(AclOperation::kAlter)) {
    fail_all(KafkaError::kClusterAuthorizationFailed, std::nullopt);
  } else {
    std::vector<AclBindingFilter> valid;
    std::vector<size_t> valid_index;
    for (size_t i = 0; i < req.filters.size(); ++i) {
      AclBindingFilter f = ToFilter(req.filters[i]);
      if (f.HasUnknown()) {
        resp.filter_results[i] = {KafkaError::kInvalidRequest,
                                  "the filter has an unknown resource type, pattern type, "
                                  "operation or permission",
                                  {}};
      } else {
        valid.push_back(std::move(f));
        valid_index.push_back(i);
      }
    }
    if (!valid.empty()) {
      auto deleted = engine_->DeleteAcls(valid);
      if (!deleted) {
        base::LogError("serve: " + responder.peer() +
                       ": cannot delete ACLs: " + deleted.error().ToString());
        for (size_t i : valid_index) {
          resp.filter_results[i] = {
              KafkaError::kUnknownServerError, deleted.error().ToString(), {}};
        }
      } else {
        for (size_t k = 0; k < valid.size(); ++k) {
          auto& result = resp.filter_results[valid_index[k]];
          for (const AclBinding& b : (*deleted)[k]) {
            base::LogInfo("serve: " + responder.session().principal +
                          " removed ACL: " + b.ToString());
            DeleteAclsResponse::MatchingAcl m;
            m.resource_type = Code(b.resource_type);
            m.resource_name = b.resource_name;
            m.pattern_type = Code(b.pattern_type);
            m.principal = b.principal;
            m.host = b.host;
            m.operation = Code(b.operation);
            m.permission_type = Code(b.permission);
            result.matching_acls.push_back(std::move(m));
          }
        }
      }
    }
  }
  Reply(responder, h.api_version, resp);
}

}  // namespace sluice::net
