// Codec of the SASL APIs (SaslHandshake, SaslAuthenticate) and of the SCRAM-credential APIs
// (DescribeUserScramCredentials, AlterUserScramCredentials; flexible versions only).

#include <string>

#include "net/messages.h"
#include "net/messages_internal.h"

namespace sluice::net {

using internal::kStringMinBytes;
using internal::ReadArray;
using internal::ReadStringArray;
using internal::WriteArray;
using internal::WriteError;
using internal::WriteStringArray;

namespace {

// Minimum wire sizes of flexible elements: a compact string is at least its 1-byte length, a
// tagged-field section at least its 1-byte count.
constexpr size_t kCompactMinBytes = 1;
constexpr size_t kTagsMinBytes = 1;

template <typename T, typename F>
std::vector<T> ReadCompactArray(WireReader& r, size_t min_element_bytes, F&& read_one) {
  std::vector<T> out;
  const int32_t n = r.CompactArrayCount(min_element_bytes);
  out.reserve(internal::InitialCapacity(n));
  for (int32_t i = 0; i < n && r.ok(); ++i) out.push_back(read_one(r));
  return out;
}

template <typename T, typename F>
void WriteCompactArray(WireWriter& w, const std::vector<T>& items, F&& write_one) {
  w.CompactArrayCount(items.size());
  for (const T& item : items) write_one(item);
}

std::string CopyBytes(Bytes b) { return std::string(base::AsString(b)); }

}  // namespace

namespace internal {

SaslHandshakeRequest DecodeSaslHandshakeRequest(int16_t /*v*/, WireReader& r) {
  SaslHandshakeRequest req;
  req.mechanism = r.String();
  return req;
}

SaslAuthenticateRequest DecodeSaslAuthenticateRequest(int16_t /*v*/, WireReader& r) {
  SaslAuthenticateRequest req;
  req.auth_bytes = CopyBytes(r.BytesField());
  return req;
}

DescribeUserScramCredentialsRequest DecodeDescribeUserScramCredentialsRequest(int16_t /*v*/,
                                                                              WireReader& r) {
  DescribeUserScramCredentialsRequest req;
  const std::optional<int32_t> n = r.CompactNullableArrayCount(kCompactMinBytes + kTagsMinBytes);
  if (n) {
    req.users.emplace();
    req.users->reserve(InitialCapacity(*n));
    for (int32_t i = 0; i < *n && r.ok(); ++i) {
      req.users->push_back(r.CompactString());
      r.SkipTaggedFields();
    }
  }
  r.SkipTaggedFields();
  return req;
}

AlterUserScramCredentialsRequest DecodeAlterUserScramCredentialsRequest(int16_t /*v*/,
                                                                        WireReader& r) {
  AlterUserScramCredentialsRequest req;
  req.deletions = ReadCompactArray<AlterUserScramCredentialsRequest::Deletion>(
      r, kCompactMinBytes + 1 + kTagsMinBytes, [](WireReader& r1) {
        AlterUserScramCredentialsRequest::Deletion d;
        d.name = r1.CompactString();
        d.mechanism = r1.Int8();
        r1.SkipTaggedFields();
        return d;
      });
  req.upsertions = ReadCompactArray<AlterUserScramCredentialsRequest::Upsertion>(
      r, kCompactMinBytes + 1 + 4 + 2 * kCompactMinBytes + kTagsMinBytes, [](WireReader& r1) {
        AlterUserScramCredentialsRequest::Upsertion u;
        u.name = r1.CompactString();
        u.mechanism = r1.Int8();
        u.iterations = r1.Int32();
        u.salt = CopyBytes(r1.CompactBytes());
        u.salted_password = CopyBytes(r1.CompactBytes());
        r1.SkipTaggedFields();
        return u;
      });
  r.SkipTaggedFields();
  return req;
}

}  // namespace internal

void EncodeResponse(int16_t /*v*/, const SaslHandshakeResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  WriteError(w, resp.error_code);
  WriteStringArray(w, resp.mechanisms);
}

void EncodeResponse(int16_t v, const SaslAuthenticateResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  WriteError(w, resp.error_code);
  w.NullableString(resp.error_message);
  w.BytesField(base::AsBytes(resp.auth_bytes));
  if (v >= 1) w.Int64(resp.session_lifetime_ms);
}

void EncodeResponse(int16_t /*v*/, const DescribeUserScramCredentialsResponse& resp,
                    OutBuffer& out) {
  WireWriter w = out.writer();
  w.EmptyTaggedFields();  // response header v1
  w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
  w.CompactNullableString(resp.error_message);
  WriteCompactArray(
      w, resp.results, [&](const DescribeUserScramCredentialsResponse::UserResult& res) {
        w.CompactString(res.user);
        WriteError(w, res.error_code);
        w.CompactNullableString(res.error_message);
        WriteCompactArray(w, res.credential_infos,
                          [&](const DescribeUserScramCredentialsResponse::CredentialInfo& c) {
                            w.Int8(c.mechanism);
                            w.Int32(c.iterations);
                            w.EmptyTaggedFields();
                          });
        w.EmptyTaggedFields();
      });
  w.EmptyTaggedFields();
}

void EncodeResponse(int16_t /*v*/, const AlterUserScramCredentialsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  w.EmptyTaggedFields();  // response header v1
  w.Int32(resp.throttle_time_ms);
  WriteCompactArray(w, resp.results, [&](const AlterUserScramCredentialsResponse::UserResult& res) {
    w.CompactString(res.user);
    WriteError(w, res.error_code);
    w.CompactNullableString(res.error_message);
    w.EmptyTaggedFields();
  });
  w.EmptyTaggedFields();
}

namespace {

void WriteFlexibleRequestHeader(WireWriter& w, ApiKey key, int32_t correlation_id,
                                const std::string& client_id) {
  w.Int16(static_cast<int16_t>(key));
  w.Int16(0);
  w.Int32(correlation_id);
  w.String(client_id);  // the client id keeps its int16 length in header v2
  w.EmptyTaggedFields();
}

}  // namespace

std::string EncodeRequestFrame(int32_t correlation_id, const std::string& client_id,
                               const DescribeUserScramCredentialsRequest& req) {
  std::string frame;
  WireWriter w(frame);
  WriteFlexibleRequestHeader(w, ApiKey::kDescribeUserScramCredentials, correlation_id, client_id);
  if (!req.users) {
    w.UnsignedVarint(0);
  } else {
    WriteCompactArray(w, *req.users, [&](const std::string& name) {
      w.CompactString(name);
      w.EmptyTaggedFields();
    });
  }
  w.EmptyTaggedFields();
  return frame;
}

std::string EncodeRequestFrame(int32_t correlation_id, const std::string& client_id,
                               const AlterUserScramCredentialsRequest& req) {
  std::string frame;
  WireWriter w(frame);
  WriteFlexibleRequestHeader(w, ApiKey::kAlterUserScramCredentials, correlation_id, client_id);
  WriteCompactArray(w, req.deletions, [&](const AlterUserScramCredentialsRequest::Deletion& d) {
    w.CompactString(d.name);
    w.Int8(d.mechanism);
    w.EmptyTaggedFields();
  });
  WriteCompactArray(w, req.upsertions, [&](const AlterUserScramCredentialsRequest::Upsertion& u) {
    w.CompactString(u.name);
    w.Int8(u.mechanism);
    w.Int32(u.iterations);
    w.CompactBytes(base::AsBytes(u.salt));
    w.CompactBytes(base::AsBytes(u.salted_password));
    w.EmptyTaggedFields();
  });
  w.EmptyTaggedFields();
  return frame;
}

Result<DescribeUserScramCredentialsResponse> DecodeDescribeUserScramCredentialsResponse(
    Bytes body) {
  WireReader r(body);
  r.SkipTaggedFields();
  DescribeUserScramCredentialsResponse resp;
  resp.throttle_time_ms = r.Int32();
  resp.error_code = static_cast<KafkaError>(r.Int16());
  resp.error_message = r.CompactNullableString();
  resp.results = ReadCompactArray<DescribeUserScramCredentialsResponse::UserResult>(
      r, kCompactMinBytes + 2 + kCompactMinBytes + kCompactMinBytes + kTagsMinBytes,
      [](WireReader& r1) {
        DescribeUserScramCredentialsResponse::UserResult res;
        res.user = r1.CompactString();
        res.error_code = static_cast<KafkaError>(r1.Int16());
        res.error_message = r1.CompactNullableString();
        res.credential_infos =
            ReadCompactArray<DescribeUserScramCredentialsResponse::CredentialInfo>(
                r1, 1 + 4 + kTagsMinBytes, [](WireReader& r2) {
                  DescribeUserScramCredentialsResponse::CredentialInfo c;
                  c.mechanism = r2.Int8();
                  c.iterations = r2.Int32();
                  r2.SkipTaggedFields();
                  return c;
                });
        r1.SkipTaggedFields();
        return res;
      });
  r.SkipTaggedFields();
  RETURN_IF_ERROR(r.status("DescribeUserScramCredentials response"));
  return resp;
}

Result<AlterUserScramCredentialsResponse> DecodeAlterUserScramCredentialsResponse(Bytes body) {
  WireReader r(body);
  r.SkipTaggedFields();
  AlterUserScramCredentialsResponse resp;
  resp.throttle_time_ms = r.Int32();
  resp.results = ReadCompactArray<AlterUserScramCredentialsResponse::UserResult>(
      r, kCompactMinBytes + 2 + kCompactMinBytes + kTagsMinBytes, [](WireReader& r1) {
        AlterUserScramCredentialsResponse::UserResult res;
        res.user = r1.CompactString();
        res.error_code = static_cast<KafkaError>(r1.Int16());
        res.error_message = r1.CompactNullableString();
        r1.SkipTaggedFields();
        return res;
      });
  r.SkipTaggedFields();
  RETURN_IF_ERROR(r.status("AlterUserScramCredentials response"));
  return resp;
}

}  // namespace sluice::net
