// sluice serve: the Kafka-protocol broker, in the foreground until SIGTERM or SIGINT (SIGHUP
// reloads the TLS certificate and key).

#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <map>
#include <tuple>

#include "cli/commands.h"
#include "net/broker.h"
#include "segment/base/log.h"

namespace sluice::cli {
namespace {

struct ServeFlags {
  std::string listen;  // HOST:PORT, a PLAINTEXT listener (the default: 127.0.0.1:9092)
  // HOST:PORT of the admin HTTP listener, or "none"; "" = the default, 127.0.0.1:9644, served
  // if that port is free (a warning if not).
  std::string admin_listen;
  std::string log_format = "text";  // text or json
  std::string log_level = "info";   // debug, info, warning, error
  std::string listeners;
  std::string protocol_map;
  std::string advertised;
  int32_t node_id = 0;
  bool auto_create = true;
  int32_t num_partitions = 1;
  int64_t rebalance_delay_ms = 3000;
  int32_t min_session_timeout_ms = 6000;
  int32_t group_max_size = 1000;
  size_t group_max_state_bytes = 64u << 20;
  int64_t cleaner_backoff_ms = 15'000;
  uint64_t cleaner_dedupe_buffer_bytes = 128ull << 20;
  uint64_t cleaner_io_max_bytes_per_second = engine::CleanerOptions{}.io_max_bytes_per_second;
  int event_loops = 2;
  int worker_threads = 8;
  net::ServerOptions server;  // the connection limits, the memory budget, the TLS files
  std::string ssl_client_auth = "none";
  std::vector<std::string> topic_configs;
  std::string authorizer;   // "" (none) or "acl"
  std::string super_users;  // super.users: "User:a;User:b"
  bool allow_everyone_if_no_acl_found = false;
  std::vector<std::string> sasl_mechanisms = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
};

// --listen / --listeners -> the listeners; --advertised-listeners -> what each advertises.
int ParseListenerFlags(Context& ctx, const ServeFlags& flags, net::BrokerOptions& options) {
  if (!flags.listen.empty() && !flags.listeners.empty()) {
    return ctx.Usage("give --listen HOST:PORT or --listeners NAME://HOST:PORT,..., not both");
  }
  auto listeners = net::ParseListeners(
      flags.listeners.empty()
          ? "PLAINTEXT://" + (flags.listen.empty() ? "127.0.0.1:9092" : flags.listen)
          : flags.listeners,
      flags.protocol_map);
  if (!listeners) {
    return ctx.Usage((flags.listeners.empty() ? "--listen: " : "--listeners: ") +
                     listeners.error().context);
  }
  options.server.listeners = *listeners;
  if (flags.advertised.empty()) return kExitOk;
  // HOST:PORT alone advertises the only listener.
  if (flags.advertised.find("://") == std::string::npos) {
    if (listeners->size() != 1) {
      return ctx.Usage(
          "--advertised-listeners: with several listeners, name each one "
          "(NAME://HOST:PORT,...)");
    }
    auto adv = net::ParseHostPort(flags.advertised);
    if (!adv) return ctx.Usage("--advertised-listeners: " + adv.error().context);
    net::Listener l = listeners->front();
    std::tie(l.host, l.port) = *adv;
    options.advertised = {l};
    return kExitOk;
  }
  auto adv = net::ParseListeners(flags.advertised, flags.protocol_map);
  if (!adv) return ctx.Usage("--advertised-listeners: " + adv.error().context);
  for (const net::Listener& a : *adv) {
    const bool known = std::any_of(listeners->begin(), listeners->end(),
                                   [&](const net::Listener& l) { return l.name == a.name; });
    if (!known) {
      return ctx.Usage("--advertised-listeners: '" + a.name + "' is not in --listeners");
    }
  }
  options.advertised = *adv;
  return kExitOk;
}

int Serve(Context& ctx, const ServeFlags& flags) {
  if (!ctx.broker.empty() && ctx.broker_source == "--broker")
    return ctx.Usage("serve: --broker does not apply; use --listen");
  net::BrokerOptions options;
  options.server = flags.server;
  if (int rc = ParseListenerFlags(ctx, flags, options); rc != kExitOk) return rc;
  auto client_auth = net::ParseClientAuth(flags.ssl_client_auth);
  if (!client_auth) return ctx.Usage("--ssl-client-auth: " + client_auth.error().context);
  options.server.tls.client_auth = *client_auth;
  options.server.event_loops = flags.event_loops;
  options.server.worker_threads = flags.worker_threads;
  options.node_id = flags.node_id;
  options.auto_create_topics = flags.auto_create;
  options.default_partitions = flags.num_partitions;
  options.group_initial_rebalance_delay_ms = flags.rebalance_delay_ms;
  options.group_min_session_timeout_ms = flags.min_session_timeout_ms;
  options.group_max_size = flags.group_max_size;
  options.group_max_state_bytes = flags.group_max_state_bytes;
  if (flags.authorizer == "acl") {
    auto supers = net::ParseSuperUsers(flags.super_users);
    if (!supers) return ctx.Usage("--super-users: " + supers.error().context);
    options.authorizer = net::AuthorizerOptions{*supers, flags.allow_everyone_if_no_acl_found};
  } else if (!flags.authorizer.empty() && flags.authorizer != "none") {
    return ctx.Usage("--authorizer: '" + flags.authorizer + "' (known: acl, none)");
  } else if (!flags.super_users.empty() || flags.allow_everyone_if_no_acl_found) {
    return ctx.Usage("--super-users and --allow-everyone-if-no-acl-found need --authorizer acl");
  }
  options.sasl_enabled_mechanisms = flags.sasl_mechanisms;
  if (flags.admin_listen.empty()) {
    options.admin = net::AdminHttpOptions{};  // 127.0.0.1:9644
    options.admin_bind = net::AdminBind::kBestEffort;
  } else if (flags.admin_listen != "none") {
    auto where = net::ParseHostPort(flags.admin_listen);
    if (!where) return ctx.Usage("--admin-listen: " + where.error().context);
    options.admin = net::AdminHttpOptions{};
    std::tie(options.admin->host, options.admin->port) = *where;
  }

  engine::EngineOptions engine_options;
  engine_options.data_dir = ctx.data_dir;
  engine_options.write_path = ctx.write_path;
  std::map<std::string, std::string> topic_config;
  for (const auto& entry : flags.topic_configs) {
    auto kv = engine::ParseConfigEntry(entry);
    if (!kv) return ctx.Usage("--topic-config: " + kv.error().context);
    topic_config[kv->first] = kv->second;
  }
  auto defaults = engine::ApplyConfig(engine::TopicConfig{}, topic_config);
  if (!defaults) return ctx.Usage("--topic-config: " + defaults.error().context);
  engine_options.default_topic_config = *defaults;
  engine_options.cleaner_check_interval_ms = flags.cleaner_backoff_ms;
  engine_options.cleaner.dedupe_buffer_bytes = flags.cleaner_dedupe_buffer_bytes;
  engine_options.cleaner.io_max_bytes_per_second = flags.cleaner_io_max_bytes_per_second;

  // Signals are taken by this thread with sigwait; every thread started below inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reloads the TLS certificate and key
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  base::SetLogFormat(flags.log_format == "json" ? base::LogFormat::kJson : base::LogFormat::kText);
  base::SetLogLevel(flags.log_level == "debug"     ? base::LogLevel::kDebug
                    : flags.log_level == "warning" ? base::LogLevel::kWarning
                    : flags.log_level == "error"   ? base::LogLevel::kError
                                                   : base::LogLevel::kInfo);
  auto broker = net::Broker::Start(engine_options, options);
  if (!broker) return ctx.Fail(broker.error());
  const auto& listeners = options.server.listeners;
  for (size_t i = 0; i < listeners.size(); ++i) {
    net::Listener bound = listeners[i];
    bound.port = (*broker)->port(i);
    base::LogInfo("serve: listening on " + bound.ToString());
    // Tests and scripts read the first listener's port from this line (useful with port 0);
    // every listener has a `listener NAME://HOST:PORT` line.
    if (i == 0) std::fprintf(stdout, "listening on %s:%u\n", bound.host.c_str(), bound.port);
    std::fprintf(stdout, "listener %s\n", bound.ToString().c_str());
  }
  if (const uint16_t admin = (*broker)->admin_port(); admin != 0) {
    // After the listener lines (tests read the port from here, useful with port 0).
    std::fprintf(stdout, "admin listening on %s:%u\n", options.admin->host.c_str(), admin);
  }
  base::LogInfo("serve: data in " + ctx.data_dir);
  std::fflush(stdout);

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    base::LogInfo("serve: SIGHUP, reloading the TLS certificate and key");
    if (auto s = (*broker)->ReloadTls(); !s) {
      base::LogError("serve: TLS reload failed, the previous certificate stays in use: " +
                     s.error().context);
    }
  }
  base::LogInfo(std::string("serve: ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                ", shutting down");
  if (auto s = (*broker)->Stop(); !s) return ctx.Fail(s.error());
  base::LogInfo("serve: stopped cleanly");
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run a Kafka-protocol broker on the data directory (foreground; SIGTERM stops it)");
  // A config file is the app's (CLI11 reads subcommand flags from its [serve] section).
  app.set_config("--config", "", "Read flags from a TOML/INI file ([serve] section: key = value)");
  cmd->add_option("--listen", flags->listen,
                  "HOST:PORT of a PLAINTEXT listener (port 0 = any free port; default "
                  "127.0.0.1:9092)");
  cmd->add_option("--listeners", flags->listeners,
                  "Listeners, Kafka-style: NAME://HOST:PORT,... where NAME is PLAINTEXT, SSL, "
                  "SASL_PLAINTEXT, SASL_SSL or a name in --listener-security-protocol-map");
  cmd->add_option("--listener-security-protocol-map", flags->protocol_map,
                  "NAME:PROTOCOL,... for listeners with names of their own "
                  "(listener.security.protocol.map)");
  cmd->add_option("--advertised-listeners,--advertised-listener", flags->advertised,
                  "Where clients are told to connect, NAME://HOST:PORT,... (or HOST:PORT with "
                  "one listener; default: each listener's own address)");
  cmd->add_option("--admin-listen", flags->admin_listen,
                  "HOST:PORT of the admin HTTP listener (the web console at /, /livez, "
                  "/readyz, /metrics, /api/v1/...), or "
                  "none (default 127.0.0.1:9644, skipped with a warning if that port is taken)");
  cmd->add_option("--log-format", flags->log_format,
                  "Log lines on stderr: text (timestamp level component: message) or json (one "
                  "object per line: ts, level, component, msg)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level,
                  "Least severe log level written: debug (adds connection open/close), info, "
                  "warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}))
      ->capture_default_str();
  cmd->add_option("--sasl-enabled-mechanisms", flags->sasl_mechanisms,
                  "SASL mechanisms offered on SASL_PLAINTEXT and SASL_SSL listeners, of PLAIN, "
                  "SCRAM-SHA-256, SCRAM-SHA-512 (sasl.enabled.mechanisms; PLAIN sends the "
                  "password itself: use it over SASL_SSL)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--node-id", flags->node_id, "Broker id reported to clients")
      ->capture_default_str();
  cmd->add_option("--auto-create-topics", flags->auto_create,
                  "Create unknown topics on Metadata requests (auto.create.topics.enable)")
      ->capture_default_str();
  cmd->add_option("--num-partitions", flags->num_partitions,
                  "Partitions of auto-created topics (num.partitions)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--topic-config", flags->topic_configs,
                  "Default config of new topics, key=value (repeatable)");
  cmd->add_option("--authorizer", flags->authorizer,
                  "acl: check every request against the ACLs of the data directory (`sluice "
                  "acl`); none (default): everything allowed");
  cmd->add_option("--super-users", flags->super_users,
                  "With --authorizer acl: principals allowed everything, ';'-separated "
                  "(super.users, e.g. User:admin;User:ops)");
  cmd->add_flag("--allow-everyone-if-no-acl-found", flags->allow_everyone_if_no_acl_found,
                "With --authorizer acl: a resource no ACL names is open to everyone "
                "(allow.everyone.if.no.acl.found; default: denied)");
  cmd->add_option("--group-initial-rebalance-delay-ms", flags->rebalance_delay_ms,
                  "Wait for more members before the first rebalance of an empty group")
      ->check(CLI::Range(0, 300000))
      ->capture_default_str();
  cmd->add_option("--group-min-session-timeout-ms", flags->min_session_timeout_ms,
                  "Smallest session timeout a consumer may ask for")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  cmd->add_option("--group-max-size", flags->group_max_size,
                  "Members one consumer group may have (group.max.size)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--group-max-state-bytes", flags->group_max_state_bytes,
                  "Memory all consumer groups' membership state may hold (members' metadata and "
                  "assignments); a join or sync beyond it gets COORDINATOR_NOT_AVAILABLE and "
                  "retries")
      ->check(CLI::Range(size_t{1} << 20, size_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--log-cleaner-backoff-ms", flags->cleaner_backoff_ms,
                  "How often the log cleaner looks for compacted partitions due for a pass "
                  "(log.cleaner.backoff.ms)")
      ->check(CLI::Range(int64_t{10}, int64_t{86'400'000}))
      ->capture_default_str();
  cmd->add_option("--log-cleaner-dedupe-buffer-size", flags->cleaner_dedupe_buffer_bytes,
                  "Memory for the log cleaner's map of keys in one pass "
                  "(log.cleaner.dedupe.buffer.size)")
      ->check(CLI::Range(uint64_t{1} << 10, uint64_t{1} << 36))
      ->capture_default_str();
  cmd->add_option("--log-cleaner-io-max-bytes-per-second", flags->cleaner_io_max_bytes_per_second,
                  "Pace of the background log cleaner: segment bytes it reads plus bytes it "
                  "writes, per second; 0 for no limit (log.cleaner.io.max.bytes.per.second)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--event-loops", flags->event_loops, "Threads that own connections")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--worker-threads", flags->worker_threads, "Threads that run requests")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  net::ServerOptions& server = flags->server;
  cmd->add_option("--max-request-bytes", server.max_request_bytes,
                  "Largest request accepted (socket.request.max.bytes)")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--queued-max-request-bytes", server.queued_max_request_bytes,
                  "Memory for requests being received or handled, decompressed batches and "
                  "transcoded responses; when it is spent, the broker stops reading from "
                  "clients until it frees some (queued.max.request.bytes; at least "
                  "--max-request-bytes + 128 KiB)")
      ->check(CLI::Range(size_t{1} << 20, size_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--max-connections", server.max_connections, "Connections accepted at once")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--max-connections-per-ip", server.max_connections_per_ip,
                  "Connections accepted at once from one client address")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--connections-max-idle-ms", server.connections_max_idle_ms,
                  "Close a connection that sent and received nothing for this long")
      ->check(CLI::Range(int64_t{1000}, int64_t{86'400'000}))
      ->capture_default_str();
  cmd->add_option("--request-receive-timeout-ms", server.request_receive_timeout_ms,
                  "Close a connection whose started request is not whole after this long "
                  "(a stalled or very slow sender)")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}))
      ->capture_default_str();
  cmd->add_option("--ssl-certificate-file", server.tls.certificate_file,
                  "PEM file with the TLS listeners' certificate and its chain (reread on SIGHUP)");
  cmd->add_option("--ssl-key-file", server.tls.key_file,
                  "PEM file with the certificate's private key (reread on SIGHUP)");
  cmd->add_option("--ssl-key-password", server.tls.key_password,
                  "Password of an encrypted private key (ssl.key.password)");
  cmd->add_option("--ssl-ca-file", server.tls.ca_file,
                  "PEM file with the CAs that sign client certificates (for --ssl-client-auth)");
  cmd->add_option("--ssl-client-auth", flags->ssl_client_auth,
                  "Client certificates on TLS listeners: none, requested (verified if sent) or "
                  "required (ssl.client.auth)")
      ->check(CLI::IsMember({"none", "requested", "required"}))
      ->capture_default_str();
  cmd->callback([&ctx, flags] { ctx.exit_code = Serve(ctx, *flags); });
}

}  // namespace sluice::cli
