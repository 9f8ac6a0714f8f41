#pragma once

// Broker: `sluice serve`, a single-node Kafka broker over the embedded engine. It owns the engine,
// the connection server, the long-poll fetch waiters and the consumer-group coordinator. This is
// net/'s public API for cli/.
//
// Thread-safety: Start, Stop and the accessors from one thread. The admin listener's thread reads
// the broker's state only between the end of Start and the beginning of Stop (Impl::admin_mu_).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "net/admin_http.h"
#include "net/authorizer.h"
#include "net/server.h"

namespace sluice::net {

// What a failure to bind the admin listener does: fail Start (it was asked for), or log a warning
// and serve without it (the default address, which a second broker on the machine may hold).
enum class AdminBind : bool { kRequired, kBestEffort };

struct BrokerOptions {
  ServerOptions server;
  // The admin HTTP listener (GET /livez, /readyz, /metrics; net/admin_http.h); nullopt = none. It
  // listens before recovery starts, so that /livez answers and /readyz says what is not ready.
  std::optional<AdminHttpOptions> admin;
  AdminBind admin_bind = AdminBind::kRequired;
  // Where clients are told to connect (Metadata, FindCoordinator), by listener name
  // (advertised.listeners): a client is told the address of the listener it came in on. A
  // listener not named here advertises its own host and bound port (0.0.0.0 as 127.0.0.1).
  std::vector<Listener> advertised;
  // sasl.enabled.mechanisms: what SASL listeners offer (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
  std::vector<std::string> sasl_enabled_mechanisms = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
  int32_t node_id = 0;
  std::string cluster_id = "sluice";
  bool auto_create_topics = true;  // auto.create.topics.enable
  int32_t default_partitions = 1;  // num.partitions, for auto-created topics and -1
  int64_t group_initial_rebalance_delay_ms = 3000;  // group.initial.rebalance.delay.ms
  int32_t group_min_session_timeout_ms = 6000;
  int32_t group_max_session_timeout_ms = 1800000;
  int32_t group_max_size = 1000;             // group.max.size
  size_t group_max_state_bytes = 64u << 20;  // see GroupCoordinatorOptions::max_state_bytes
  // The ACL authorizer (Kafka's authorizer.class.name; `sluice serve --authorizer acl`): every
  // request is checked against the engine's ACLs (net/authorizer.h). nullopt = no authorizer:
  // everything is allowed and the ACL APIs answer SECURITY_DISABLED, as Kafka without one.
  std::optional<AuthorizerOptions> authorizer;
};

class Broker {
 public:
  // Opens the engine (`engine_options.on_data` is the broker's) and starts serving.
  static base::Result<std::unique_ptr<Broker>> Start(engine::EngineOptions engine_options,
                                                     BrokerOptions options);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Stops serving (closing connections; requests in progress finish, parked ones end) and closes
  // the engine cleanly. Idempotent.
  base::Status Stop();

  // The port listeners[i] is bound to.
  uint16_t port(size_t listener = 0) const;
  // The admin listener's port; 0 when there is none.
  uint16_t admin_port() const;
  // Reads the TLS certificate and key files again (SIGHUP): new connections get them; existing
  // ones keep theirs. On an error (a missing or bad file) the old ones stay in use.
  base::Status ReloadTls();
  engine::Engine& engine();

  class Impl;

 private:
  explicit Broker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::net
