// The sluice command-line tool. This file is the program's one exception boundary: libraries
// report errors as values; anything thrown (bad_alloc, a third-party throw) ends here as a message.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/profiles.h"
#include "segment/base/log.h"

namespace {

using sluice::cli::Context;

// Where the command works: the broker or the data directory. The first level that names one
// decides: --broker/--data-dir, then SLUICE_BROKER/SLUICE_DATA_DIR, then the profile
// (--profile, SLUICE_PROFILE, the one in use), then ./sluice-data. Usage errors throw.
void ResolveTarget(const CLI::App& app, Context& ctx, const CLI::Option& data_dir,
                   const CLI::Option& broker, const CLI::Option& profile,
                   const std::string& profile_name) {
  // An empty path would make the current directory the data directory: a usage error.
  if (data_dir.count() > 0 && ctx.data_dir.empty()) {
    throw CLI::ValidationError("--data-dir is empty: name a directory (. for this one)");
  }
  if (broker.count() > 0 && ctx.broker.empty()) {
    throw CLI::ValidationError("--broker is empty: name HOST:PORT");
  }
  if (broker.count() > 0 && data_dir.count() > 0) {
    throw CLI::ValidationError(
        "--broker and --data-dir exclude each other: a command works on a running server "
        "or on a data directory");
  }
  ctx.data_dir_given = data_dir.count() > 0;
  if (broker.count() > 0 || data_dir.count() > 0) return;
  // Commands that use no data: a broken environment or profiles file does not stop them.
  for (const char* none : {"profile", "completion", "help-man"}) {
    if (app.got_subcommand(none)) return;
  }

  const char* env_dir = std::getenv("SLUICE_DATA_DIR");
  const char* env_broker = std::getenv("SLUICE_BROKER");
  if (env_dir != nullptr && *env_dir == '\0') {
    throw CLI::ValidationError(
        "SLUICE_DATA_DIR is set but empty: name a directory (. for this one) or unset it");
  }
  if (env_broker != nullptr && *env_broker == '\0') {
    throw CLI::ValidationError("SLUICE_BROKER is set but empty: name HOST:PORT or unset it");
  }
  if (env_dir != nullptr && env_broker != nullptr) {
    throw CLI::ValidationError(
        "SLUICE_BROKER and SLUICE_DATA_DIR are both set: unset one, or say --broker or "
        "--data-dir");
  }
  if (env_broker != nullptr) {
    ctx.broker = env_broker;
    ctx.broker_source = "SLUICE_BROKER";
    return;
  }
  if (env_dir != nullptr) {
    ctx.data_dir = env_dir;
    return;
  }

  std::string name = profile_name;
  std::string named_by = "--profile";
  if (profile.count() == 0) {
    const char* env_profile = std::getenv("SLUICE_PROFILE");
    name = env_profile != nullptr ? env_profile : "";
    named_by = "SLUICE_PROFILE";
  }
  auto path = sluice::cli::ProfilesPath();
  if (!path) {
    if (name.empty()) return;  // no HOME: no profile in use either
    throw CLI::ValidationError(path.error().context);
  }
  auto store = sluice::cli::LoadProfiles(*path);
  if (!store) throw CLI::ValidationError(store.error().context);
  if (name.empty()) {
    name = store->current;
    named_by = "the profile in use (" + *path + ")";
  }
  if (name.empty()) return;
  auto it = store->profiles.find(name);
  if (it == store->profiles.end()) {
    throw CLI::ValidationError(named_by + ": no profile '" + name +
                               "' (sluice profile list shows them)");
  }
  if (!it->second.broker.empty()) {
    ctx.broker = it->second.broker;
    ctx.broker_source = "profile " + name;
    ctx.client_properties = it->second.client;
  }
  if (!it->second.data_dir.empty()) ctx.data_dir = it->second.data_dir;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// After a parse error: if the deepest command given wants a subcommand and a word on the command
// line names none, the message naming that word and the nearest subcommand; else empty.
std::string UnknownCommandMessage(CLI::App& app) {
  CLI::App* cur = &app;
  std::string path = "sluice";
  while (!cur->get_subcommands().empty()) {
    cur = cur->get_subcommands().front();
    path += " " + cur->get_name();
  }
  const auto subs = cur->get_subcommands([](const CLI::App*) { return true; });
  if (subs.empty()) return "";
  std::string word;
  for (const std::string& w : app.remaining(/*recurse=*/true)) {
    if (!w.empty() && w[0] != '-') {
      word = w;
      break;
    }
  }
  if (word.empty()) return "";
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  std::string names;
  for (const CLI::App* sub : subs) {
    const std::string& name = sub->get_name();
    names += (names.empty() ? "" : ", ") + name;
    size_t d = EditDistance(word, name);
    if (name.rfind(word, 0) == 0) d = std::min<size_t>(d, 1);  // a prefix: "rep" for "replay"
    if (d < best_distance) {
      best_distance = d;
      best = name;
    }
  }
  std::string message = "unknown command '" + word + "' for '" + path + "'";
  if (best_distance <= std::max<size_t>(2, word.size() / 3)) {
    return message + ": did you mean '" + best + "'?";
  }
  return message + " (commands: " + names + ")";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice::cli;
  try {
    Context ctx;
    CLI::App app{"sluice: an append-only log streaming engine (Kafka-style topics on local disk)"};
    app.require_subcommand(1, 1);
    app.fallthrough();  // global flags (--data-dir, --output, --broker) work after the subcommand
                        // too
    app.set_version_flag("--version", "sluice 0.1.0");
    // A key of the --config file that names no flag is an error (CLI11 ignores it by default).
    app.allow_config_extras(CLI::config_extras_mode::error);
    app.option_defaults()->always_capture_default();
    CLI::Option* data_dir =
        app.add_option(
               "--data-dir", ctx.data_dir,
               "Data directory (env SLUICE_DATA_DIR, else the profile's, else ./sluice-data)")
            ->capture_default_str();
    CLI::Option* broker =
        app.add_option("--broker", ctx.broker,
                       "HOST:PORT of a running `sluice serve`: work through it (remote mode) "
                       "instead of on a data directory (env SLUICE_BROKER, else the profile's)");
    std::string profile_name;
    CLI::Option* profile = app.add_option(
        "--profile", profile_name,
        "Take --broker/--data-dir from this profile (env SLUICE_PROFILE; default: the one in "
        "use, see `sluice profile`)");
    int verbosity = 0;
    app.add_flag("--verbose,-v", verbosity,
                 "Log engine activity (recovery, compaction, retention) or, with --broker, the "
                 "Kafka client's; -vv adds the Kafka client's debug log (broker,protocol,...)");
    CLI::Option* client_debug =
        app.add_option("--client-debug", ctx.client_debug,
                       "With --broker: librdkafka's debug contexts (e.g. protocol,admin,fetch)");
    std::string client_config;
    app.add_option("--client-config", client_config,
                   "With --broker: a file of librdkafka properties, KEY=VALUE a line (# comments), "
                   "e.g. security.protocol=SASL_SSL, ssl.ca.location, sasl.mechanism, "
                   "sasl.username, sasl.password")
        ->check(CLI::ExistingFile);
    std::vector<std::string> client_settings;
    app.add_option("-X", client_settings,
                   "With --broker: a librdkafka property KEY=VALUE (repeatable, as kcat's -X; "
                   "wins over --client-config)")
        ->allow_extra_args(false);
    // Runs after the flags are read, before the subcommand's callback.
    app.parse_complete_callback([&] {
      sluice::base::SetLogLevel(verbosity > 0 || client_debug->count() > 0
                                    ? sluice::base::LogLevel::kInfo
                                    : sluice::base::LogLevel::kWarning);
      if (verbosity > 1 && ctx.client_debug.empty()) {
        ctx.client_debug = "broker,protocol,admin,topic,fetch,msg,consumer,cgrp";
      }
      ResolveTarget(app, ctx, *data_dir, *broker, *profile, profile_name);
      if (!client_config.empty()) {
        auto file = sluice::cli::LoadClientProperties(client_config);
        if (!file) throw CLI::ValidationError(file.error().context);
        ctx.client_properties_from_flags = *std::move(file);
      }
      for (const std::string& setting : client_settings) {
        auto property = sluice::cli::ParseClientProperty(setting);
        if (!property) throw CLI::ValidationError("-X: " + property.error().context);
        ctx.client_properties_from_flags.push_back(*property);
      }
      ctx.client_properties.insert(ctx.client_properties.end(),
                                   ctx.client_properties_from_flags.begin(),
                                   ctx.client_properties_from_flags.end());
    });
    std::string write_path = sluice::engine::WritePathName(ctx.write_path);
    app.add_option("--io", write_path,
                   "How the engine writes its files: posix (pwritev) or uring (io_uring; pwritev "
                   "where unavailable). The default measured fastest (bench/RESULTS.md)")
        ->check(CLI::IsMember({"posix", "uring"}))
        ->each([&](const std::string& name) {
          ctx.write_path = sluice::engine::ParseWritePath(name).value_or(ctx.write_path);
        })
        ->capture_default_str();
    app.add_option("--output,-o", ctx.output, "Output format")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    // Usage errors: one line on stderr, exit code 2 (as kcat and rpk do).
    app.failure_message([](const CLI::App*, const CLI::Error& e) {
      const std::string what = e.what();
      const std::string extras = "INI was not able to parse ";
      if (what.rfind(extras, 0) == 0) {
        return "sluice: --config file: unknown key '" + what.substr(extras.size()) +
               "' (keys are the flags' names; serve's go in the [serve] section)\n";
      }
      return std::string("sluice: ") + what + " (see --help)\n";
    });

    AddDemoCommand(app, ctx);
    AddTopicCommands(app, ctx);
    AddProduceCommand(app, ctx);
    AddConsumeCommand(app, ctx);
    AddGroupCommands(app, ctx);
    AddReplayCommand(app, ctx);
    AddVerifyCommands(app, ctx);
    AddRepairCommand(app, ctx);
    AddBenchCommand(app, ctx);
    AddServeCommand(app, ctx);
    AddAclCommands(app, ctx);
    AddUserCommands(app, ctx);
    AddProfileCommands(app, ctx);
    AddCompletionCommands(app, ctx);

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() != 0) {
        if (const std::string m = UnknownCommandMessage(app); !m.empty()) {
          std::fprintf(stderr, "sluice: %s\n", m.c_str());
          return kExitUsage;
        }
      }
      const int code = app.exit(e);  // prints help/version (exit 0) or the one-line error
      return code == 0 ? kExitOk : kExitUsage;
    }
    if (!ctx.CloseEngine() && ctx.exit_code == kExitOk) ctx.exit_code = kExitFailure;
    return ctx.exit_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sluice: fatal: %s\n", e.what());
    return kExitFailure;
  } catch (...) {
    std::fprintf(stderr, "sluice: fatal: unknown error\n");
    return kExitFailure;
  }
}
