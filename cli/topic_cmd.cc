// sluice topic create | list | describe | delete | alter | add-partitions | compact

#include <map>

#include "cli/commands.h"

namespace sluice::cli {
namespace {

using nlohmann::json;

Result<std::map<std::string, std::string>> ParseConfigs(const std::vector<std::string>& entries) {
  std::map<std::string, std::string> out;
  for (const auto& e : entries) {
    ASSIGN_OR_RETURN(auto kv, engine::ParseConfigEntry(e));
    out[kv.first] = kv.second;
  }
  return out;
}

// Bad arguments (name, partitions, config) are usage errors, as the engine or the broker says.
int Failed(Context& ctx, const base::Error& e) {
  return e.code == base::ErrorCode::kInvalidArgument ? ctx.Usage(e.context) : ctx.Fail(e);
}

// A size or count only the embedded engine knows: "-" remotely.
std::string Known(const std::optional<uint64_t>& v, std::string (*format)(uint64_t)) {
  return v ? format(*v) : "-";
}
std::string Count(uint64_t v) { return std::to_string(v); }

int Create(Context& ctx, const std::string& name, int32_t partitions,
           const std::vector<std::string>& configs) {
  auto kv = ParseConfigs(configs);
  if (!kv) return ctx.Usage(kv.error().context);
  // The one topic command that may start a new data directory.
  Backend* b = ctx.OpenBackend(engine::CreateIfMissing::kYes);
  if (b == nullptr) return ctx.exit_code;
  if (auto s = b->CreateTopic(name, partitions, *kv); !s) return Failed(ctx, s.error());
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"topic", name}, {"partitions", partitions}, {"created", true}});
  } else {
    std::printf("created topic %s with %d partition%s\n", name.c_str(), partitions,
                partitions == 1 ? "" : "s");
  }
  return kExitOk;
}

int List(Context& ctx, bool internal) {
  Backend* b = ctx.OpenBackendToInspect();
  if (b == nullptr) return ctx.exit_code;
  auto topics = b->ListTopics(internal ? IncludeInternal::kYes : IncludeInternal::kNo);
  if (!topics) return ctx.Fail(topics.error());
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  int32_t offline = 0;
  for (const auto& t : *topics) {
    json entry = {{"topic", t.name},
                  {"partitions", t.partitions},
                  {"records", t.records},
                  {"offline_partitions", t.offline_partitions}};
    if (t.size_bytes) entry["size_bytes"] = *t.size_bytes;
    out.push_back(std::move(entry));
    rows.push_back(
        {t.name, std::to_string(t.partitions), std::to_string(t.records),
         Known(t.size_bytes, HumanBytes),
         t.offline_partitions == 0 ? "ok" : std::to_string(t.offline_partitions) + " OFFLINE"});
    offline += t.offline_partitions;
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(out);
  } else {
    PrintTable({"NAME", "PARTITIONS", "RECORDS", "SIZE", "STATUS"}, rows);
    if (offline > 0) {
      std::printf(
          "\n%d partition%s offline: `sluice topic describe NAME` says why, `sluice verify` "
          "shows the damage\n",
          offline, offline == 1 ? " is" : "s are");
    }
  }
  return kExitOk;
}

int Describe(Context& ctx, const std::string& name) {
  Backend* b = ctx.OpenBackendToInspect();
  if (b == nullptr) return ctx.exit_code;
  auto d = b->DescribeTopic(name);
  if (!d) return ctx.Fail(d.error());
  if (ctx.format() == OutputFormat::kJson) {
    json parts = json::array();
    for (const auto& s : d->partitions) {
      json entry = {{"partition", s.partition},
                    {"log_start_offset", s.log_start_offset.value()},
                    {"high_watermark", s.high_watermark.value()}};
      if (s.segments) entry["segments"] = *s.segments;
      if (s.size_bytes) entry["size_bytes"] = *s.size_bytes;
      if (s.offline) entry["offline"] = *s.offline;
      parts.push_back(std::move(entry));
    }
    PrintJson({{"topic", name}, {"partitions", parts}, {"config", d->config}});
    return kExitOk;
  }
  std::printf("TOPIC %s\n\n", name.c_str());
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> offline;
  for (const auto& s : d->partitions) {
    if (s.offline) {
      rows.push_back({std::to_string(s.partition), "-", "-", "-", "-", "OFFLINE"});
      offline.push_back(*s.offline);
      continue;
    }
    rows.push_back({std::to_string(s.partition), std::to_string(s.log_start_offset.value()),
                    std::to_string(s.high_watermark.value()), Known(s.segments, Count),
                    Known(s.size_bytes, HumanBytes), "ok"});
  }
  PrintTable({"PARTITION", "START-OFFSET", "END-OFFSET", "SEGMENTS", "SIZE", "STATUS"}, rows);
  for (const auto& why : offline) std::printf("\n%s\n", why.c_str());
  std::printf("\nCONFIG\n");
  std::vector<std::vector<std::string>> crows;
  for (const auto& [k, v] : d->config) crows.push_back({k, v});
  PrintTable({"KEY", "VALUE"}, crows);
  return kExitOk;
}

int Delete(Context& ctx, const std::string& name) {
  Backend* b = ctx.OpenBackend();
  if (b == nullptr) return ctx.exit_code;
  if (auto s = b->DeleteTopic(name); !s) return ctx.Fail(s.error());
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"topic", name}, {"deleted", true}});
  } else {
    std::printf("deleted topic %s\n", name.c_str());
  }
  return kExitOk;
}

int Alter(Context& ctx, const std::string& name, const std::vector<std::string>& configs) {
  auto kv = ParseConfigs(configs);
  if (!kv) return ctx.Usage(kv.error().context);
  Backend* b = ctx.OpenBackend();
  if (b == nullptr) return ctx.exit_code;
  if (auto s = b->AlterTopicConfig(name, *kv); !s) return Failed(ctx, s.error());
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(json{{"topic", name}, {"altered", json(*kv)}});
  } else {
    for (const auto& [k, v] : *kv) std::printf("%s: %s = %s\n", name.c_str(), k.c_str(), v.c_str());
  }
  return kExitOk;
}

int AddPartitions(Context& ctx, const std::string& name, int32_t count) {
  Backend* b = ctx.OpenBackend();
  if (b == nullptr) return ctx.exit_code;
  if (auto s = b->AddPartitions(name, count); !s) return Failed(ctx, s.error());
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(json{{"topic", name}, {"partitions", count}});
  } else {
    std::printf("topic %s now has %d partitions\n", name.c_str(), count);
  }
  return kExitOk;
}

int Compact(Context& ctx, const std::string& name) {
  if (ctx.remote()) {
    return ctx.Usage(
        "topic compact runs on the data directory (--data-dir); a server (`sluice "
        "serve`) cleans its compacted topics by itself");
  }
  engine::Engine* e = ctx.Engine();
  if (e == nullptr) return ctx.exit_code;
  auto done = e->CompactTopic(name, engine::CleanTrigger::kNow);
  if (!done) return Failed(ctx, done.error());
  json out = json::array();
  for (const auto& [partition, s] : *done) {
    if (ctx.format() == OutputFormat::kJson) {
      out.push_back({{"partition", partition},
                     {"cleaned", s.cleaned},
                     {"why", s.why},
                     {"segments_before", s.segments_before},
                     {"segments_after", s.segments_after},
                     {"records_before", s.records_before},
                     {"records_after", s.records_after},
                     {"bytes_before", s.bytes_before},
                     {"bytes_after", s.bytes_after},
                     {"tombstones_dropped", s.tombstones_dropped},
                     {"keyless_dropped", s.keyless_dropped},
                     {"cleaned_up_to", s.cleaned_up_to.value()}});
    } else if (!s.cleaned) {
      std::printf("%s-%d: not cleaned: %s\n", name.c_str(), partition, s.why.c_str());
    } else {
      std::printf(
          "%s-%d: %zu segments -> %zu, %lld records -> %lld, %llu bytes -> %llu (below offset "
          "%lld; %lld tombstones expired)\n",
          name.c_str(), partition, s.segments_before, s.segments_after,
          static_cast<long long>(s.records_before), static_cast<long long>(s.records_after),
          static_cast<unsigned long long>(s.bytes_before),
          static_cast<unsigned long long>(s.bytes_after),
          static_cast<long long>(s.cleaned_up_to.value()),
          static_cast<long long>(s.tombstones_dropped));
    }
  }
  if (ctx.format() == OutputFormat::kJson) PrintJson(json{{"topic", name}, {"partitions", out}});
  return kExitOk;
}

}  // namespace

void AddTopicCommands(CLI::App& app, Context& ctx) {
  CLI::App* topic =
      app.add_subcommand("topic", "Create, list, describe, alter, grow and delete topics");
  topic->require_subcommand(1, 1);

  struct CreateArgs {
    std::string name;
    int32_t partitions = 1;
    std::vector<std::string> configs;
  };
  auto c = std::make_shared<CreateArgs>();
  CLI::App* create = topic->add_subcommand("create", "Create a topic");
  create->add_option("name", c->name, "Topic name")->required();
  create->add_option("--partitions,-p", c->partitions, "Number of partitions")
      ->check(CLI::Range(1, 100000));
  create->add_option("--config,-c", c->configs,
                     "Topic config key=value (repeatable): compression.type, flush, segment.bytes, "
                     "retention.ms, ...");
  create->callback([&ctx, c] { ctx.exit_code = Create(ctx, c->name, c->partitions, c->configs); });

  auto internal = std::make_shared<bool>(false);
  CLI::App* list = topic->add_subcommand("list", "List topics");
  list->add_flag("--internal,-i", *internal, "Also list internal topics (__consumer_offsets)");
  list->callback([&ctx, internal] { ctx.exit_code = List(ctx, *internal); });

  auto name = std::make_shared<std::string>();
  CLI::App* describe = topic->add_subcommand("describe", "Partitions, offsets, sizes and config");
  describe->add_option("name", *name, "Topic name")->required();
  describe->callback([&ctx, name] { ctx.exit_code = Describe(ctx, *name); });

  auto del = std::make_shared<std::string>();
  CLI::App* remove = topic->add_subcommand("delete", "Delete a topic and all its data");
  remove->add_option("name", *del, "Topic name")->required();
  remove->callback([&ctx, del] { ctx.exit_code = Delete(ctx, *del); });

  auto a = std::make_shared<CreateArgs>();
  CLI::App* alter = topic->add_subcommand("alter", "Change topic config");
  alter->add_option("name", a->name, "Topic name")->required();
  alter->add_option("--config,-c", a->configs, "key=value (repeatable)")->required();
  alter->callback([&ctx, a] { ctx.exit_code = Alter(ctx, a->name, a->configs); });

  auto grow = std::make_shared<CreateArgs>();
  CLI::App* add = topic->add_subcommand(
      "add-partitions",
      "Grow a topic to --num partitions (Kafka's CreatePartitions; never shrinks)");
  add->add_option("name", grow->name, "Topic name")->required();
  add->add_option("--num,-n", grow->partitions, "The new partition count (more than now)")
      ->required()
      ->check(CLI::Range(1, 100000));
  add->callback([&ctx, grow] { ctx.exit_code = AddPartitions(ctx, grow->name, grow->partitions); });

  auto compact = std::make_shared<std::string>();
  CLI::App* clean = topic->add_subcommand(
      "compact",
      "Run the log cleaner over a compacted topic now (cleanup.policy=compact): keep the latest "
      "record per key in its sealed segments");
  clean->add_option("name", *compact, "Topic name")->required();
  clean->callback([&ctx, compact] { ctx.exit_code = Compact(ctx, *compact); });
}

}  // namespace sluice::cli
