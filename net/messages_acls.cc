// The ACL APIs' codec: DescribeAcls (29), CreateAcls (30), DeleteAcls (31), v0-1 (non-flexible).

#include "net/messages.h"
#include "net/messages_internal.h"

namespace sluice::net {

namespace internal {
namespace {

// Smallest wire size of a filter: 5 int8s and 3 nullable strings (v0); v1 adds an int8.
constexpr size_t kFilterMinBytes = 4 + 3 * kStringMinBytes;
constexpr size_t kCreationMinBytes = 4 + 3 * kStringMinBytes;

AclFilterFields ReadFilter(int16_t v, WireReader& r) {
  AclFilterFields f;
  f.resource_type_filter = r.Int8();
  f.resource_name_filter = r.NullableString();
  if (v >= 1) f.pattern_type_filter = r.Int8();
  f.principal_filter = r.NullableString();
  f.host_filter = r.NullableString();
  f.operation = r.Int8();
  f.permission_type = r.Int8();
  return f;
}

}  // namespace

DescribeAclsRequest DecodeDescribeAclsRequest(int16_t v, WireReader& r) {
  return DescribeAclsRequest{ReadFilter(v, r)};
}

CreateAclsRequest DecodeCreateAclsRequest(int16_t v, WireReader& r) {
  CreateAclsRequest req;
  req.creations = ReadArray<CreateAclsRequest::Creation>(r, kCreationMinBytes, [v](WireReader& in) {
    CreateAclsRequest::Creation c;
    c.resource_type = in.Int8();
    c.resource_name = in.String();
    if (v >= 1) c.resource_pattern_type = in.Int8();
    c.principal = in.String();
    c.host = in.String();
    c.operation = in.Int8();
    c.permission_type = in.Int8();
    return c;
  });
  return req;
}

DeleteAclsRequest DecodeDeleteAclsRequest(int16_t v, WireReader& r) {
  DeleteAclsRequest req;
  req.filters = ReadArray<AclFilterFields>(r, kFilterMinBytes,
                                           [v](WireReader& in) { return ReadFilter(v, in); });
  return req;
}

}  // namespace internal

using internal::WriteArray;
using internal::WriteError;

void EncodeResponse(int16_t v, const DescribeAclsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
  w.NullableString(resp.error_message);
  WriteArray(w, resp.resources, [&](const DescribeAclsResponse::Resource& res) {
    w.Int8(res.resource_type);
    w.String(res.resource_name);
    if (v >= 1) w.Int8(res.pattern_type);
    WriteArray(w, res.acls, [&](const AclDescription& a) {
      w.String(a.principal);
      w.String(a.host);
      w.Int8(a.operation);
      w.Int8(a.permission_type);
    });
  });
}

void EncodeResponse(int16_t /*v*/, const CreateAclsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.results, [&](const CreateAclsResponse::Result& res) {
    WriteError(w, res.error_code);
    w.NullableString(res.error_message);
  });
}

void EncodeResponse(int16_t v, const DeleteAclsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.filter_results, [&](const DeleteAclsResponse::FilterResult& f) {
    WriteError(w, f.error_code);
    w.NullableString(f.error_message);
    WriteArray(w, f.matching_acls, [&](const DeleteAclsResponse::MatchingAcl& m) {
      WriteError(w, m.error_code);
      w.NullableString(m.error_message);
      w.Int8(m.resource_type);
      w.String(m.resource_name);
      if (v >= 1) w.Int8(m.pattern_type);
      w.String(m.principal);
      w.String(m.host);
      w.Int8(m.operation);
      w.Int8(m.permission_type);
    });
  });
}

}  // namespace sluice::net
