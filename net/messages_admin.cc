// Codec of the administration APIs: CreateTopics, DeleteTopics, DescribeConfigs, AlterConfigs,
// DescribeClientQuotas, and those of issue 13 (DeleteRecords, DescribeLogDirs, CreatePartitions,
// IncrementalAlterConfigs, OffsetDelete, DescribeCluster, DescribeProducers), whose flexible
// versions share the helpers below.

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

namespace {

// Reads the fields of a message in a classic or a flexible version (KIP-482): strings and arrays
// in the version's encoding, and in flexible versions a tagged-field section ending each
// structure (Struct), skipped.
class FieldReader {
 public:
  FieldReader(WireReader& r, bool flexible) : r_(r), flexible_(flexible) {}
  WireReader& r() { return r_; }
  std::string Str() { return flexible_ ? r_.CompactString() : r_.String(); }
  std::optional<std::string> NullableStr() {
    return flexible_ ? r_.CompactNullableString() : r_.NullableString();
  }
  // An array of structures, each read by read_one(*this) and ended by its tagged fields.
  template <typename T, typename F>
  std::vector<T> Structs(size_t min_element_bytes, F&& read_one) {
    return Elements<T>(Count(min_element_bytes + (flexible_ ? 1 : 0)), [&] {
      T t = read_one(*this);
      EndStruct();
      return t;
    });
  }
  template <typename T, typename F>
  std::optional<std::vector<T>> NullableStructs(size_t min_element_bytes, F&& read_one) {
    const std::optional<int32_t> n = NullableCount(min_element_bytes + (flexible_ ? 1 : 0));
    if (!n) return std::nullopt;
    return Elements<T>(*n, [&] {
      T t = read_one(*this);
      EndStruct();
      return t;
    });
  }
  std::vector<int32_t> Int32s() {
    return Elements<int32_t>(Count(kInt32Bytes), [&] { return r_.Int32(); });
  }
  void EndStruct() {
    if (flexible_) r_.SkipTaggedFields();
  }

 private:
  int32_t Count(size_t min_bytes) {
    return flexible_ ? r_.CompactArrayCount(min_bytes) : r_.ArrayCount(min_bytes);
  }
  std::optional<int32_t> NullableCount(size_t min_bytes) {
    return flexible_ ? r_.CompactNullableArrayCount(min_bytes)
                     : internal::NullableArrayCount(r_, min_bytes);
  }
  template <typename T, typename F>
  std::vector<T> Elements(int32_t n, F&& one) {
    std::vector<T> out;
    out.reserve(internal::InitialCapacity(n));
    for (int32_t i = 0; i < n && r_.ok(); ++i) out.push_back(one());
    return out;
  }

  WireReader& r_;
  bool flexible_;
};

// The writing side of FieldReader. In a flexible version the body starts with response header
// v1's empty tagged fields (Start).
class FieldWriter {
 public:
  FieldWriter(OutBuffer& out, bool flexible) : w_(out.writer()), flexible_(flexible) {
    if (flexible_) w_.EmptyTaggedFields();
  }
  WireWriter& w() { return w_; }
  void Str(const std::string& s) { flexible_ ? w_.CompactString(s) : w_.String(s); }
  void NullableStr(const std::optional<std::string>& s) {
    flexible_ ? w_.CompactNullableString(s) : w_.NullableString(s);
  }
  template <typename T, typename F>
  void Structs(const std::vector<T>& items, F&& write_one) {
    Count(items.size());
    for (const T& item : items) {
      write_one(item);
      EndStruct();
    }
  }
  void Int32s(const std::vector<int32_t>& items) {
    Count(items.size());
    for (int32_t v : items) w_.Int32(v);
  }
  void EndStruct() {
    if (flexible_) w_.EmptyTaggedFields();
  }

 private:
  void Count(size_t n) { flexible_ ? w_.CompactArrayCount(n) : w_.ArrayCount(n); }
  WireWriter w_;
  bool flexible_;
};

}  // namespace

namespace internal {

// v5+ is flexible (KIP-482); the fields are those of every version from 2.
CreateTopicsRequest DecodeCreateTopicsRequest(int16_t v, WireReader& r) {
  const bool flexible = v >= 5;
  FieldReader f(r, flexible);
  // The least a string or an array takes on the wire: its length or count.
  const size_t str = flexible ? 1 : kStringMinBytes;
  const size_t arr = flexible ? 1 : kArrayMinBytes;
  CreateTopicsRequest req;
  // name, num_partitions, replication_factor, assignments, configs
  req.topics = f.Structs<CreateTopicsRequest::Topic>(str + 4 + 2 + arr + arr, [&](FieldReader& f1) {
    CreateTopicsRequest::Topic t;
    t.name = f1.Str();
    t.num_partitions = f1.r().Int32();
    t.replication_factor = f1.r().Int16();
    t.assignments =
        f1.Structs<CreateTopicsRequest::Assignment>(kInt32Bytes + arr, [](FieldReader& f2) {
          CreateTopicsRequest::Assignment a;
          a.partition_index = f2.r().Int32();
          a.broker_ids = f2.Int32s();
          return a;
        });
    t.configs = f1.Structs<CreateTopicsRequest::Config>(str + str, [](FieldReader& f2) {
      CreateTopicsRequest::Config c;
      c.name = f2.Str();
      c.value = f2.NullableStr();
      return c;
    });
    return t;
  });
  req.timeout_ms = r.Int32();
  if (v >= 1) req.validate_only = r.Bool();
  f.EndStruct();
  return req;
}

DeleteRecordsRequest DecodeDeleteRecordsRequest(int16_t v, WireReader& r) {
  FieldReader f(r, v >= 2);
  DeleteRecordsRequest req;
  req.topics =
      f.Structs<DeleteRecordsRequest::Topic>(kStringMinBytes + kArrayMinBytes, [](FieldReader& f1) {
        DeleteRecordsRequest::Topic t;
        t.name = f1.Str();
        t.partitions = f1.Structs<DeleteRecordsRequest::Partition>(12, [](FieldReader& f2) {
          DeleteRecordsRequest::Partition p;
          p.partition_index = f2.r().Int32();
          p.offset = f2.r().Int64();
          return p;
        });
        return t;
      });
  req.timeout_ms = r.Int32();
  f.EndStruct();
  return req;
}

DescribeLogDirsRequest DecodeDescribeLogDirsRequest(int16_t v, WireReader& r) {
  FieldReader f(r, v >= 2);
  DescribeLogDirsRequest req;
  req.topics = f.NullableStructs<DescribeLogDirsRequest::Topic>(kStringMinBytes + kArrayMinBytes,
                                                                [](FieldReader& f1) {
                                                                  DescribeLogDirsRequest::Topic t;
                                                                  t.topic = f1.Str();
                                                                  t.partitions = f1.Int32s();
                                                                  return t;
                                                                });
  f.EndStruct();
  return req;
}

CreatePartitionsRequest DecodeCreatePartitionsRequest(int16_t v, WireReader& r) {
  FieldReader f(r, v >= 2);
  CreatePartitionsRequest req;
  req.topics = f.Structs<CreatePartitionsRequest::Topic>(
      kStringMinBytes + 4 + kArrayMinBytes, [](FieldReader& f1) {
        CreatePartitionsRequest::Topic t;
        t.name = f1.Str();
        t.count = f1.r().Int32();
        auto assignments = f1.NullableStructs<std::vector<int32_t>>(
            kArrayMinBytes, [](FieldReader& f2) { return f2.Int32s(); });
        t.assignments = std::move(assignments);
        return t;
      });
  req.timeout_ms = r.Int32();
  req.validate_only = r.Bool();
  f.EndStruct();
  return req;
}

IncrementalAlterConfigsRequest DecodeIncrementalAlterConfigsRequest(int16_t v, WireReader& r) {
  FieldReader f(r, v >= 1);
  IncrementalAlterConfigsRequest req;
  req.resources = f.Structs<IncrementalAlterConfigsRequest::Resource>(
      1 + kStringMinBytes + kArrayMinBytes, [](FieldReader& f1) {
        IncrementalAlterConfigsRequest::Resource res;
        res.resource_type = f1.r().Int8();
        res.resource_name = f1.Str();
        res.configs = f1.Structs<IncrementalAlterConfigsRequest::Config>(
            2 * kStringMinBytes + 1, [](FieldReader& f2) {
              IncrementalAlterConfigsRequest::Config c;
              c.name = f2.Str();
              c.config_operation = f2.r().Int8();
              c.value = f2.NullableStr();
              return c;
            });
        return res;
      });
  req.validate_only = r.Bool();
  f.EndStruct();
  return req;
}

OffsetDeleteRequest DecodeOffsetDeleteRequest(int16_t /*v*/, WireReader& r) {
  FieldReader f(r, false);
  OffsetDeleteRequest req;
  req.group_id = f.Str();
  req.topics =
      f.Structs<OffsetDeleteRequest::Topic>(kStringMinBytes + kArrayMinBytes, [](FieldReader& f1) {
        OffsetDeleteRequest::Topic t;
        t.name = f1.Str();
        // Partitions are structures of one int32 each (no tagged fields: v0 is not flexible).
        t.partitions = f1.Int32s();
        return t;
      });
  return req;
}

DescribeClusterRequest DecodeDescribeClusterRequest(int16_t v, WireReader& r) {
  FieldReader f(r, true);
  DescribeClusterRequest req;
  req.include_cluster_authorized_operations = r.Bool();
  if (v >= 1) req.endpoint_type = r.Int8();
  f.EndStruct();
  return req;
}

DescribeProducersRequest DecodeDescribeProducersRequest(int16_t /*v*/, WireReader& r) {
  FieldReader f(r, true);
  DescribeProducersRequest req;
  req.topics = f.Structs<DescribeProducersRequest::Topic>(1 + 1, [](FieldReader& f1) {
    DescribeProducersRequest::Topic t;
    t.name = f1.Str();
    t.partition_indexes = f1.Int32s();
    return t;
  });
  f.EndStruct();
  return req;
}

}  // namespace internal

// v5+ is flexible and adds each topic's partitions, replication factor and configs (KIP-525), and
// a tagged TopicConfigErrorCode (tag 0) when that is not NONE; v7 adds the topic id.
void EncodeResponse(int16_t v, const CreateTopicsResponse& resp, OutBuffer& out) {
  const bool flexible = v >= 5;
  FieldWriter f(out, flexible);
  WireWriter& w = f.w();
  w.Int32(resp.throttle_time_ms);  // v2+, the lowest version served
  flexible ? w.CompactArrayCount(resp.topics.size()) : w.ArrayCount(resp.topics.size());
  for (const CreateTopicsResponse::Topic& t : resp.topics) {
    f.Str(t.name);
    if (v >= 7) {
      for (uint8_t b : t.topic_id) w.Int8(static_cast<int8_t>(b));
    }
    WriteError(w, t.error_code);
    f.NullableStr(t.error_message);
    if (!flexible) continue;
    w.Int32(t.num_partitions);
    w.Int16(t.replication_factor);
    if (!t.configs) {
      w.UnsignedVarint(0);  // the null COMPACT_ARRAY
    } else {
      f.Structs(*t.configs, [&](const CreateTopicsResponse::Config& c) {
        f.Str(c.name);
        f.NullableStr(c.value);
        w.Bool(c.read_only);
        w.Int8(c.config_source);
        w.Bool(c.is_sensitive);
      });
    }
    if (t.topic_config_error_code == KafkaError::kNone) {
      f.EndStruct();
    } else {
      w.UnsignedVarint(1);  // one tagged field:
      w.UnsignedVarint(0);  // tag 0, TopicConfigErrorCode,
      w.UnsignedVarint(2);  // of 2 bytes
      WriteError(w, t.topic_config_error_code);
    }
  }
  f.EndStruct();
}

void EncodeResponse(int16_t v, const DeleteRecordsResponse& resp, OutBuffer& out) {
  FieldWriter f(out, v >= 2);
  f.w().Int32(resp.throttle_time_ms);
  f.Structs(resp.topics, [&](const DeleteRecordsResponse::Topic& t) {
    f.Str(t.name);
    f.Structs(t.partitions, [&](const DeleteRecordsResponse::Partition& p) {
      f.w().Int32(p.partition_index);
      f.w().Int64(p.low_watermark);
      WriteError(f.w(), p.error_code);
    });
  });
  f.EndStruct();
}

void EncodeResponse(int16_t v, const DescribeLogDirsResponse& resp, OutBuffer& out) {
  FieldWriter f(out, v >= 2);
  f.w().Int32(resp.throttle_time_ms);
  if (v >= 3) WriteError(f.w(), resp.error_code);
  f.Structs(resp.results, [&](const DescribeLogDirsResponse::Result& res) {
    WriteError(f.w(), res.error_code);
    f.Str(res.log_dir);
    f.Structs(res.topics, [&](const DescribeLogDirsResponse::Topic& t) {
      f.Str(t.name);
      f.Structs(t.partitions, [&](const DescribeLogDirsResponse::Partition& p) {
        f.w().Int32(p.partition_index);
        f.w().Int64(p.partition_size);
        f.w().Int64(p.offset_lag);
        f.w().Bool(p.is_future_key);
      });
    });
    if (v >= 4) {
      f.w().Int64(res.total_bytes);
      f.w().Int64(res.usable_bytes);
    }
  });
  f.EndStruct();
}

void EncodeResponse(int16_t v, const CreatePartitionsResponse& resp, OutBuffer& out) {
  FieldWriter f(out, v >= 2);
  f.w().Int32(resp.throttle_time_ms);
  f.Structs(resp.results, [&](const CreatePartitionsResponse::Result& res) {
    f.Str(res.name);
    WriteError(f.w(), res.error_code);
    f.NullableStr(res.error_message);
  });
  f.EndStruct();
}

void EncodeResponse(int16_t v, const IncrementalAlterConfigsResponse& resp, OutBuffer& out) {
  FieldWriter f(out, v >= 1);
  f.w().Int32(resp.throttle_time_ms);
  f.Structs(resp.responses, [&](const IncrementalAlterConfigsResponse::Resource& res) {
    WriteError(f.w(), res.error_code);
    f.NullableStr(res.error_message);
    f.w().Int8(res.resource_type);
    f.Str(res.resource_name);
  });
  f.EndStruct();
}

void EncodeResponse(int16_t /*v*/, const OffsetDeleteResponse& resp, OutBuffer& out) {
  FieldWriter f(out, false);
  WriteError(f.w(), resp.error_code);
  f.w().Int32(resp.throttle_time_ms);
  f.Structs(resp.topics, [&](const OffsetDeleteResponse::Topic& t) {
    f.Str(t.name);
    f.Structs(t.partitions, [&](const OffsetDeleteResponse::Partition& p) {
      f.w().Int32(p.partition_index);
      WriteError(f.w(), p.error_code);
    });
  });
}

void EncodeResponse(int16_t v, const DescribeClusterResponse& resp, OutBuffer& out) {
  FieldWriter f(out, true);
  f.w().Int32(resp.throttle_time_ms);
  WriteError(f.w(), resp.error_code);
  f.NullableStr(resp.error_message);
  if (v >= 1) f.w().Int8(resp.endpoint_type);
  f.Str(resp.cluster_id);
  f.w().Int32(resp.controller_id);
  f.Structs(resp.brokers, [&](const DescribeClusterResponse::Broker& b) {
    f.w().Int32(b.broker_id);
    f.Str(b.host);
    f.w().Int32(b.port);
    f.NullableStr(b.rack);
  });
  f.w().Int32(resp.cluster_authorized_operations);
  f.EndStruct();
}

void EncodeResponse(int16_t /*v*/, const DescribeProducersResponse& resp, OutBuffer& out) {
  FieldWriter f(out, true);
  f.w().Int32(resp.throttle_time_ms);
  f.Structs(resp.topics, [&](const DescribeProducersResponse::Topic& t) {
    f.Str(t.name);
    f.Structs(t.partitions, [&](const DescribeProducersResponse::Partition& p) {
      f.w().Int32(p.partition_index);
      WriteError(f.w(), p.error_code);
      f.NullableStr(p.error_message);
      f.Structs(p.active_producers, [&](const DescribeProducersResponse::Producer& pr) {
        f.w().Int64(pr.producer_id);
        f.w().Int32(pr.producer_epoch);
        f.w().Int32(pr.last_sequence);
        f.w().Int64(pr.last_timestamp);
        f.w().Int32(pr.coordinator_epoch);
        f.w().Int64(pr.current_txn_start_offset);
      });
    });
  });
  f.EndStruct();
}

}  // namespace sluice::net
