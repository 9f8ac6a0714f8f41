// Codec of the topic administration APIs: CreateTopics, DeleteTopics, DescribeConfigs,
// AlterConfigs.

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

}  // namespace sluice::net
