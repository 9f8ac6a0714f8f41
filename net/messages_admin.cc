// Codec of the topic administration APIs: CreateTopics, DeleteTopics, DescribeConfigs,
// AlterConfigs.

#include <bit>
#include <string>

#include "net/messages.h"
#include "net/messages_internal.h"

namespace sluice::net {

using internal::kArrayMinBytes;
using internal::kInt32Bytes;
using internal::kStringMinBytes;
using internal::ReadArray;
using internal::WriteArray;
using internal::WriteError;

namespace internal {

CreateTopicsRequest DecodeCreateTopicsRequest(int16_t v, WireReader& r) {
  CreateTopicsRequest req;
  // name, num_partitions, replication_factor, assignments, configs
  constexpr size_t kTopicBytes = kStringMinBytes + 4 + 2 + kArrayMinBytes + kArrayMinBytes;
  req.topics = ReadArray<CreateTopicsRequest::Topic>(r, kTopicBytes, [](WireReader& r1) {
    CreateTopicsRequest::Topic t;
    t.name = r1.String();
    t.num_partitions = r1.Int32();
    t.replication_factor = r1.Int16();
    t.assignments = ReadArray<CreateTopicsRequest::Assignment>(r1, kInt32Bytes + kArrayMinBytes,
                                                               [](WireReader& r2) {
                                                                 CreateTopicsRequest::Assignment a;
                                                                 a.partition_index = r2.Int32();
                                                                 a.broker_ids = ReadInt32Array(r2);
                                                                 return a;
                                                               });
    t.configs = ReadArray<CreateTopicsRequest::Config>(r1, kStringMinBytes + kStringMinBytes,
                                                       [](WireReader& r2) {
                                                         CreateTopicsRequest::Config c;
                                                         c.name = r2.String();
                                                         c.value = r2.NullableString();
                                                         return c;
                                                       });
    return t;
  });
  req.timeout_ms = r.Int32();
  if (v >= 1) req.validate_only = r.Bool();
  return req;
}

DeleteTopicsRequest DecodeDeleteTopicsRequest(int16_t /*v*/, WireReader& r) {
  DeleteTopicsRequest req;
  req.topic_names = ReadStringArray(r);
  req.timeout_ms = r.Int32();
  return req;
}

DescribeConfigsRequest DecodeDescribeConfigsRequest(int16_t v, WireReader& r) {
  DescribeConfigsRequest req;
  req.resources = ReadArray<DescribeConfigsRequest::Resource>(
      r, 1 + kStringMinBytes + kArrayMinBytes, [](WireReader& r1) {
        DescribeConfigsRequest::Resource res;
        res.resource_type = r1.Int8();
        res.resource_name = r1.String();
        res.configuration_keys = ReadNullableArray<std::string>(
            r1, kStringMinBytes, [](WireReader& r2) { return r2.String(); });
        return res;
      });
  if (v >= 1) req.include_synonyms = r.Bool();
  if (v >= 3) req.include_documentation = r.Bool();
  return req;
}

AlterConfigsRequest DecodeAlterConfigsRequest(int16_t /*v*/, WireReader& r) {
  AlterConfigsRequest req;
  req.resources = ReadArray<AlterConfigsRequest::Resource>(
      r, 1 + kStringMinBytes + kArrayMinBytes, [](WireReader& r1) {
        AlterConfigsRequest::Resource res;
        res.resource_type = r1.Int8();
        res.resource_name = r1.String();
        res.configs =
            ReadArray<AlterConfigsRequest::Config>(r1, 2 * kStringMinBytes, [](WireReader& r2) {
              AlterConfigsRequest::Config c;
              c.name = r2.String();
              c.value = r2.NullableString();
              return c;
            });
        return res;
      });
  req.validate_only = r.Bool();
  return req;
}

DescribeClientQuotasRequest DecodeDescribeClientQuotasRequest(int16_t v, WireReader& r) {
  DescribeClientQuotasRequest req;
  const bool flexible = v >= 1;
  auto read_component = [flexible](WireReader& r1) {
    DescribeClientQuotasRequest::Component c;
    c.entity_type = flexible ? r1.CompactString() : r1.String();
    c.match_type = r1.Int8();
    c.match = flexible ? r1.CompactNullableString() : r1.NullableString();
    if (flexible) r1.SkipTaggedFields();
    return c;
  };
  if (flexible) {
    // A compact string is at least 1 byte, the match type 1, the tagged fields 1.
    const int32_t n = r.CompactArrayCount(1 + 1 + 1 + 1);
    req.components.reserve(InitialCapacity(n));
    for (int32_t i = 0; i < n && r.ok(); ++i) req.components.push_back(read_component(r));
  } else {
    req.components = ReadArray<DescribeClientQuotasRequest::Component>(
        r, kStringMinBytes + 1 + kStringMinBytes, read_component);
  }
  req.strict = r.Bool();
  if (flexible) r.SkipTaggedFields();
  return req;
}

}  // namespace internal

void EncodeResponse(int16_t /*v*/, const AlterConfigsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.responses, [&](const AlterConfigsResponse::Resource& res) {
    WriteError(w, res.error_code);
    w.NullableString(res.error_message);
    w.Int8(res.resource_type);
    w.String(res.resource_name);
  });
}

void EncodeResponse(int16_t v, const CreateTopicsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 2) w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.topics, [&](const CreateTopicsResponse::Topic& t) {
    w.String(t.name);
    WriteError(w, t.error_code);
    if (v >= 1) w.NullableString(t.error_message);
  });
}

void EncodeResponse(int16_t v, const DeleteTopicsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  if (v >= 1) w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.responses, [&](const DeleteTopicsResponse::TopicResult& t) {
    w.String(t.name);
    WriteError(w, t.error_code);
  });
}

void EncodeResponse(int16_t v, const DescribeConfigsResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  w.Int32(resp.throttle_time_ms);
  WriteArray(w, resp.results, [&](const DescribeConfigsResponse::ResourceResult& res) {
    WriteError(w, res.error_code);
    w.NullableString(res.error_message);
    w.Int8(res.resource_type);
    w.String(res.resource_name);
    WriteArray(w, res.configs, [&](const DescribeConfigsResponse::Config& c) {
      w.String(c.name);
      w.NullableString(c.value);
      w.Bool(c.read_only);
      if (v == 0) w.Bool(c.is_default);
      if (v >= 1) w.Int8(c.config_source);
      w.Bool(c.is_sensitive);
      if (v >= 1) {
        WriteArray(w, c.synonyms, [&](const DescribeConfigsResponse::Synonym& s) {
          w.String(s.name);
          w.NullableString(s.value);
          w.Int8(s.source);
        });
      }
      if (v >= 3) {
        w.Int8(c.config_type);
        w.NullableString(c.documentation);
      }
    });
  });
}

// --- DescribeClientQuotas (48) ------------------------------------------------------------------

void EncodeResponse(int16_t v, const DescribeClientQuotasResponse& resp, OutBuffer& out) {
  WireWriter w = out.writer();
  const bool flexible = v >= 1;
  auto string = [&](const std::string& s) { flexible ? w.CompactString(s) : w.String(s); };
  auto nullable = [&](const std::optional<std::string>& s) {
    flexible ? w.CompactNullableString(s) : w.NullableString(s);
  };
  auto count = [&](size_t n) { flexible ? w.CompactArrayCount(n) : w.ArrayCount(n); };
  auto tags = [&] {
    if (flexible) w.EmptyTaggedFields();
  };
  tags();  // response header v1
  w.Int32(resp.throttle_time_ms);
  WriteError(w, resp.error_code);
  nullable(resp.error_message);
  if (!resp.entries) {
    flexible ? w.UnsignedVarint(0) : w.Int32(-1);
  } else {
    count(resp.entries->size());
    for (const DescribeClientQuotasResponse::Entry& e : *resp.entries) {
      count(e.entity.size());
      for (const DescribeClientQuotasResponse::EntityPart& part : e.entity) {
        string(part.entity_type);
        nullable(part.entity_name);
        tags();
      }
      count(e.values.size());
      for (const DescribeClientQuotasResponse::Value& value : e.values) {
        string(value.key);
        w.Int64(std::bit_cast<int64_t>(value.value));  // FLOAT64
        tags();
      }
      tags();
    }
  }
  tags();
}

std::string EncodeRequestFrame(int32_t correlation_id, const std::string& client_id, int16_t v,
                               const DescribeClientQuotasRequest& req) {
  std::string frame;
  WireWriter w(frame);
  const bool flexible = v >= 1;
  w.Int16(static_cast<int16_t>(ApiKey::kDescribeClientQuotas));
  w.Int16(v);
  w.Int32(correlation_id);
  w.String(client_id);
  if (flexible) w.EmptyTaggedFields();  // request header v2
  flexible ? w.CompactArrayCount(req.components.size()) : w.ArrayCount(req.components.size());
  for (const DescribeClientQuotasRequest::Component& c : req.components) {
    flexible ? w.CompactString(c.entity_type) : w.String(c.entity_type);
    w.Int8(c.match_type);
    flexible ? w.CompactNullableString(c.match) : w.NullableString(c.match);
    if (flexible) w.EmptyTaggedFields();
  }
  w.Bool(req.strict);
  if (flexible) w.EmptyTaggedFields();
  return frame;
}

Result<DescribeClientQuotasResponse> DecodeDescribeClientQuotasResponse(int16_t v, Bytes body) {
  WireReader r(body);
  const bool flexible = v >= 1;
  auto string = [&](WireReader& r1) { return flexible ? r1.CompactString() : r1.String(); };
  auto nullable = [&](WireReader& r1) {
    return flexible ? r1.CompactNullableString() : r1.NullableString();
  };
  auto count = [&](WireReader& r1) -> std::optional<int32_t> {
    if (flexible) return r1.CompactNullableArrayCount(1);
    const int32_t n = r1.Int32();
    if (n < 0) return std::nullopt;
    if (static_cast<size_t>(n) > r1.remaining()) {
      r1.Fail("array count " + std::to_string(n) + " exceeds the bytes left");
      return 0;
    }
    return n;
  };
  auto tags = [&](WireReader& r1) {
    if (flexible) r1.SkipTaggedFields();
  };
  DescribeClientQuotasResponse resp;
  tags(r);
  resp.throttle_time_ms = r.Int32();
  resp.error_code = static_cast<KafkaError>(r.Int16());
  resp.error_message = nullable(r);
  if (const std::optional<int32_t> n = count(r)) {
    resp.entries.emplace();
    for (int32_t i = 0; i < *n && r.ok(); ++i) {
      DescribeClientQuotasResponse::Entry e;
      const int32_t parts = count(r).value_or(0);
      for (int32_t j = 0; j < parts && r.ok(); ++j) {
        DescribeClientQuotasResponse::EntityPart part;
        part.entity_type = string(r);
        part.entity_name = nullable(r);
        tags(r);
        e.entity.push_back(std::move(part));
      }
      const int32_t values = count(r).value_or(0);
      for (int32_t j = 0; j < values && r.ok(); ++j) {
        DescribeClientQuotasResponse::Value value;
        value.key = string(r);
        value.value = std::bit_cast<double>(r.Int64());
        tags(r);
        e.values.push_back(std::move(value));
      }
      tags(r);
      resp.entries->push_back(std::move(e));
    }
  }
  tags(r);
  RETURN_IF_ERROR(r.status("DescribeClientQuotas response"));
  return resp;
}

}  // namespace sluice::net
