// sluice topic create | list | describe | delete | alter

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

int Create(Context& ctx, const std::string& name, int32_t partitions,
           const std::vector<std::string>& configs) {
  auto kv = ParseConfigs(configs);
  if (!kv) return ctx.Usage(kv.error().context);
  engine::Engine* e = ctx.Engine();
  if (e == nullptr) return kExitFailure;
  if (auto s = e->CreateTopic(name, partitions, *kv); !s) {
    return s.error().code == base::ErrorCode::kInvalidArgument ? ctx.Usage(s.error().context)
                                                               : ctx.Fail(s.error());
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"topic", name}, {"partitions", partitions}, {"created", true}});
  } else {
    std::printf("created topic %s with %d partition%s\n", name.c_str(), partitions,
                partitions == 1 ? "" : "s");
  }
  return kExitOk;
}

int List(Context& ctx, bool internal) {
  engine::Engine* e = ctx.Engine();
  if (e == nullptr) return kExitFailure;
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : e->ListTopics()) {
    if (!internal && engine::IsInternalTopic(t.name)) continue;
    auto d = e->DescribeTopic(t.name);
    if (!d) return ctx.Fail(d.error());
    int64_t records = 0;
    uint64_t bytes = 0;
    for (const auto& p : d->partitions) {
      records += p.high_watermark - p.log_start_offset;
      bytes += p.size_bytes;
    }
    out.push_back({{"topic", t.name},
                   {"partitions", t.partitions},
                   {"records", records},
                   {"size_bytes", bytes}});
    rows.push_back(
        {t.name, std::to_string(t.partitions), std::to_string(records), HumanBytes(bytes)});
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(out);
  } else {
    PrintTable({"NAME", "PARTITIONS", "RECORDS", "SIZE"}, rows);
  }
  return kExitOk;
}

int Describe(Context& ctx, const std::string& name) {
  engine::Engine* e = ctx.Engine();
  if (e == nullptr) return kExitFailure;
  auto d = e->DescribeTopic(name);
  if (!d) return ctx.Fail(d.error());
  const auto config = engine::ConfigToMap(d->info.config);
  if (ctx.format() == OutputFormat::kJson) {
    json parts = json::array();
    for (size_t p = 0; p < d->partitions.size(); ++p) {
      const auto& s = d->partitions[p];
      parts.push_back({{"partition", p},
                       {"log_start_offset", s.log_start_offset.value()},
                       {"high_watermark", s.high_watermark.value()},
                       {"segments", s.segment_count},
                       {"size_bytes", s.size_bytes}});
    }
    PrintJson({{"topic", name}, {"partitions", parts}, {"config", config}});
    return kExitOk;
  }
  std::printf("TOPIC %s\n\n", name.c_str());
  std::vector<std::vector<std::string>> rows;
  for (size_t p = 0; p < d->partitions.size(); ++p) {
    const auto& s = d->partitions[p];
    rows.push_back({std::to_string(p), std::to_string(s.log_start_offset.value()),
                    std::to_string(s.high_watermark.value()), std::to_string(s.segment_count),
                    HumanBytes(s.size_bytes)});
  }
  PrintTable({"PARTITION", "START-OFFSET", "END-OFFSET", "SEGMENTS", "SIZE"}, rows);
  std::printf("\nCONFIG\n");
  std::vector<std::vector<std::string>> crows;
  for (const auto& [k, v] : config) crows.push_back({k, v});
  PrintTable({"KEY", "VALUE"}, crows);
  return kExitOk;
}

int Delete(Context& ctx, const std::string& name) {
  engine::Engine* e = ctx.Engine();
  if (e == nullptr) return kExitFailure;
  if (auto s = e->DeleteTopic(name); !s) return ctx.Fail(s.error());
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
  engine::Engine* e = ctx.Engine();
  if (e == nullptr) return kExitFailure;
  if (auto s = e->AlterTopicConfig(name, *kv); !s) {
    return s.error().code == base::ErrorCode::kInvalidArgument ? ctx.Usage(s.error().context)
                                                               : ctx.Fail(s.error());
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(json{{"topic", name}, {"altered", json(*kv)}});
  } else {
    for (const auto& [k, v] : *kv) std::printf("%s: %s = %s\n", name.c_str(), k.c_str(), v.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddTopicCommands(CLI::App& app, Context& ctx) {
  CLI::App* topic = app.add_subcommand("topic", "Create, list, describe, alter and delete topics");
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
  create->callback([&ctx, c] {
    if (ctx.RejectRemote("topic create")) return;
    ctx.exit_code = Create(ctx, c->name, c->partitions, c->configs);
  });

  auto internal = std::make_shared<bool>(false);
  CLI::App* list = topic->add_subcommand("list", "List topics");
  list->add_flag("--internal,-i", *internal, "Also list internal topics (__consumer_offsets)");
  list->callback([&ctx, internal] {
    if (ctx.RejectRemote("topic list")) return;
    ctx.exit_code = List(ctx, *internal);
  });

  auto name = std::make_shared<std::string>();
  CLI::App* describe = topic->add_subcommand("describe", "Partitions, offsets, sizes and config");
  describe->add_option("name", *name, "Topic name")->required();
  describe->callback([&ctx, name] {
    if (ctx.RejectRemote("topic describe")) return;
    ctx.exit_code = Describe(ctx, *name);
  });

  auto del = std::make_shared<std::string>();
  CLI::App* remove = topic->add_subcommand("delete", "Delete a topic and all its data");
  remove->add_option("name", *del, "Topic name")->required();
  remove->callback([&ctx, del] {
    if (ctx.RejectRemote("topic delete")) return;
    ctx.exit_code = Delete(ctx, *del);
  });

  auto a = std::make_shared<CreateArgs>();
  CLI::App* alter = topic->add_subcommand("alter", "Change topic config");
  alter->add_option("name", a->name, "Topic name")->required();
  alter->add_option("--config,-c", a->configs, "key=value (repeatable)")->required();
  alter->callback([&ctx, a] {
    if (ctx.RejectRemote("topic alter")) return;
    ctx.exit_code = Alter(ctx, a->name, a->configs);
  });
}

}  // namespace sluice::cli
