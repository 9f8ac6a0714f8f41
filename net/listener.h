#pragma once

// Listeners, Kafka-style: each is a name, a security protocol, a host and a port, written
// `NAME://HOST:PORT` in a comma-separated list (`listeners=PLAINTEXT://:9092,SASL_SSL://:9093`).
// A name is its protocol's unless `listener.security.protocol.map` (`INTERNAL:PLAINTEXT,...`)
// says which protocol a custom name speaks.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "segment/base/result.h"

namespace sluice::net {

enum class SecurityProtocol { kPlaintext, kSsl, kSaslPlaintext, kSaslSsl };

// "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL".
std::string_view SecurityProtocolName(SecurityProtocol protocol);
inline bool UsesTls(SecurityProtocol p) {
  return p == SecurityProtocol::kSsl || p == SecurityProtocol::kSaslSsl;
}
inline bool UsesSasl(SecurityProtocol p) {
  return p == SecurityProtocol::kSaslPlaintext || p == SecurityProtocol::kSaslSsl;
}

struct Listener {
  std::string name;  // "PLAINTEXT", "SASL_SSL", or a name from the protocol map
  SecurityProtocol protocol = SecurityProtocol::kPlaintext;
  std::string host = "127.0.0.1";  // an empty host in the text means every interface, "0.0.0.0"
  uint16_t port = 9092;            // 0 = any free port

  std::string ToString() const;  // "SASL_SSL://0.0.0.0:9093"
};

// "host:port" -> (host, port); an empty host is "0.0.0.0", a [v6] literal loses its brackets.
base::Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text);

// Parses a `listeners` list. Names must be distinct; `protocol_map` is
// `listener.security.protocol.map` ("" = each name is a protocol).
base::Result<std::vector<Listener>> ParseListeners(std::string_view text,
                                                   std::string_view protocol_map = "");

}  // namespace sluice::net
