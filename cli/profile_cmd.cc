// sluice profile create | use | list | delete | current: named profiles (cli/profiles.h).

#include <cstdio>

#include "cli/commands.h"
#include "cli/profiles.h"

namespace sluice::cli {
namespace {

using nlohmann::json;

struct CreateArgs {
  std::string name;
  std::string broker;
  std::string data_dir;
};

// Loads the store; on failure prints the error and returns nullopt.
std::optional<std::pair<std::string, ProfileStore>> Load(Context& ctx) {
  auto path = ProfilesPath();
  if (!path) {
    ctx.exit_code = ctx.Fail(path.error().context);
    return std::nullopt;
  }
  auto store = LoadProfiles(*path);
  if (!store) {
    ctx.exit_code = ctx.Fail(store.error().context);
    return std::nullopt;
  }
  return std::make_pair(*path, std::move(store).value());
}

int Save(Context& ctx, const std::string& path, const ProfileStore& store) {
  if (auto s = SaveProfiles(path, store); !s) return ctx.Fail(s.error());
  return kExitOk;
}

int Create(Context& ctx, const CreateArgs& a) {
  if (auto why = CheckProfileName(a.name); !why.empty()) return ctx.Usage("profile create: " + why);
  if (a.broker.empty() && a.data_dir.empty()) {
    return ctx.Usage("profile create: give --broker HOST:PORT and/or --data-dir DIR");
  }
  auto loaded = Load(ctx);
  if (!loaded) return ctx.exit_code;
  auto& [path, store] = *loaded;
  if (store.profiles.contains(a.name)) {
    return ctx.Fail("profile '" + a.name + "' already exists (sluice profile delete " + a.name +
                    " first)");
  }
  if (!ctx.client_properties_from_flags.empty() && a.broker.empty()) {
    return ctx.Usage("profile create: --client-config and -X are for a --broker profile");
  }
  // The client properties given with this command (-X, --client-config) are stored with the
  // profile, so that later commands reach a secured listener without them.
  store.profiles[a.name] = Profile{a.broker, a.data_dir, ctx.client_properties_from_flags};
  store.current = a.name;  // as rpk: a new profile is the one in use
  if (int code = Save(ctx, path, store); code != kExitOk) return code;
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"profile", a.name}, {"created", true}, {"current", true}, {"file", path}});
  } else {
    std::printf("created profile %s and switched to it (%s)\n", a.name.c_str(), path.c_str());
  }
  return kExitOk;
}

int Use(Context& ctx, const std::string& name) {
  auto loaded = Load(ctx);
  if (!loaded) return ctx.exit_code;
  auto& [path, store] = *loaded;
  if (!store.profiles.contains(name)) {
    return ctx.Fail("no profile '" + name + "' (sluice profile list shows them)");
  }
  store.current = name;
  if (int code = Save(ctx, path, store); code != kExitOk) return code;
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"profile", name}, {"current", true}});
  } else {
    std::printf("switched to profile %s\n", name.c_str());
  }
  return kExitOk;
}

int ListProfiles(Context& ctx) {
  auto loaded = Load(ctx);
  if (!loaded) return ctx.exit_code;
  const auto& store = loaded->second;
  json out = json::array();
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, p] : store.profiles) {
    const bool current = name == store.current;
    json entry = {{"profile", name}, {"current", current}};
    if (!p.broker.empty()) entry["broker"] = p.broker;
    if (!p.data_dir.empty()) entry["data_dir"] = p.data_dir;
    // The client properties' keys only: their values may be secrets.
    std::string keys;
    for (const auto& [key, value] : p.client) {
      entry["client"].push_back(key);
      keys += (keys.empty() ? "" : ",") + key;
    }
    out.push_back(std::move(entry));
    rows.push_back({current ? name + "*" : name, p.broker.empty() ? "-" : p.broker,
                    p.data_dir.empty() ? "-" : p.data_dir, keys.empty() ? "-" : keys});
  }
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson(out);
  } else {
    PrintTable({"NAME", "BROKER", "DATA-DIR", "CLIENT"}, rows);
  }
  return kExitOk;
}

int DeleteProfile(Context& ctx, const std::string& name) {
  auto loaded = Load(ctx);
  if (!loaded) return ctx.exit_code;
  auto& [path, store] = *loaded;
  if (store.profiles.erase(name) == 0) return ctx.Fail("no profile '" + name + "'");
  const bool was_current = store.current == name;
  if (was_current) store.current.clear();
  if (int code = Save(ctx, path, store); code != kExitOk) return code;
  if (ctx.format() == OutputFormat::kJson) {
    PrintJson({{"profile", name}, {"deleted", true}});
  } else {
    std::printf("deleted profile %s%s\n", name.c_str(),
                was_current ? " (it was in use: now none is)" : "");
  }
  return kExitOk;
}

int Current(Context& ctx) {
  auto loaded = Load(ctx);
  if (!loaded) return ctx.exit_code;
  const auto& store = loaded->second;
  if (store.current.empty()) return ctx.Fail("no profile in use (sluice profile use NAME)");
  if (ctx.format() == OutputFormat::kJson) {
    json entry = {{"profile", store.current}};
    if (auto it = store.profiles.find(store.current); it != store.profiles.end()) {
      if (!it->second.broker.empty()) entry["broker"] = it->second.broker;
      if (!it->second.data_dir.empty()) entry["data_dir"] = it->second.data_dir;
    }
    PrintJson(entry);
  } else {
    std::printf("%s\n", store.current.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddProfileCommands(CLI::App& app, Context& ctx) {
  CLI::App* profile = app.add_subcommand(
      "profile", "Named profiles: where commands go without --broker/--data-dir (as rpk's)");
  profile->fallthrough();
  profile->require_subcommand(1, 1);

  auto c = std::make_shared<CreateArgs>();
  CLI::App* create = profile->add_subcommand("create", "Create a profile and switch to it");
  create->add_option("name", c->name, "Profile name")->required();
  create->add_option("--broker", c->broker, "HOST:PORT of a running `sluice serve`");
  create->add_option("--data-dir", c->data_dir, "Data directory");
  create->callback([&ctx, c] { ctx.exit_code = Create(ctx, *c); });

  auto use_name = std::make_shared<std::string>();
  CLI::App* use = profile->add_subcommand("use", "Switch to a profile");
  use->add_option("name", *use_name, "Profile name")->required();
  use->callback([&ctx, use_name] { ctx.exit_code = Use(ctx, *use_name); });

  profile->add_subcommand("list", "List profiles (* marks the one in use)")->callback([&ctx] {
    ctx.exit_code = ListProfiles(ctx);
  });

  auto del_name = std::make_shared<std::string>();
  CLI::App* del = profile->add_subcommand("delete", "Delete a profile");
  del->add_option("name", *del_name, "Profile name")->required();
  del->callback([&ctx, del_name] { ctx.exit_code = DeleteProfile(ctx, *del_name); });

  profile->add_subcommand("current", "Print the profile in use")->callback([&ctx] {
    ctx.exit_code = Current(ctx);
  });
}

}  // namespace sluice::cli
