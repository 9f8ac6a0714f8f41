#pragma once

// Session: what the broker knows about the client at the other end of one connection — the
// listener it came in on, its address, and who it is (its principal, Kafka's "User:NAME").
//
// The server creates a connection's session when it accepts it (principal "User:ANONYMOUS"; on a
// TLS listener with a client certificate, the certificate's subject once the handshake is done,
// before the first request is read). Request handlers read it, and the SASL handlers set the
// principal when a client authenticates.
//
// Thread-safety: a connection's requests are handled one at a time (net/server.h), and the loop
// thread does not touch the session after the handshake, so a handler reads and writes its
// connection's session without a lock: the previous handler's writes happen-before the next
// dispatch (through the loop's inbox and the worker queue). Whoever makes connections handle
// requests concurrently must keep SASL requests serial and give the session a lock.

#include <cstddef>
#include <memory>
#include <string>

#include "net/listener.h"

namespace sluice::net {

// A SASL exchange in progress (defined by the SASL handlers; the server only holds it).
struct SaslExchange;

inline constexpr const char* kAnonymousPrincipal = "User:ANONYMOUS";

struct Session {
  const Listener* listener = nullptr;  // owned by the server's options; outlives the session
  size_t listener_index = 0;           // its position in ServerOptions::listeners
  std::string peer;                    // "127.0.0.1:53422"
  std::string ip;                      // "127.0.0.1"
  std::string principal = kAnonymousPrincipal;
  // False on a SASL listener until the client has authenticated; until then only ApiVersions,
  // SaslHandshake and SaslAuthenticate are answered.
  bool authenticated = true;
  std::shared_ptr<SaslExchange> sasl;  // the exchange in progress, if any
};

}  // namespace sluice::net
