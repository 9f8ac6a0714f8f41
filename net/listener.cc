#include "net/listener.h"

#include <cstdlib>
#include <map>
#include <optional>
#include <set>

namespace sluice::net {

namespace {

using base::ErrorCode;
using base::MakeError;

std::optional<SecurityProtocol> ProtocolNamed(std::string_view name) {
  for (auto p : {SecurityProtocol::kPlaintext, SecurityProtocol::kSsl,
                 SecurityProtocol::kSaslPlaintext, SecurityProtocol::kSaslSsl}) {
    if (SecurityProtocolName(p) == name) return p;
  }
  return std::nullopt;
}

std::vector<std::string_view> SplitList(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

std::string_view SecurityProtocolName(SecurityProtocol protocol) {
  switch (protocol) {
    case SecurityProtocol::kPlaintext:
      return "PLAINTEXT";
    case SecurityProtocol::kSsl:
      return "SSL";
    case SecurityProtocol::kSaslPlaintext:
      return "SASL_PLAINTEXT";
    case SecurityProtocol::kSaslSsl:
      return "SASL_SSL";
  }
  return "?";
}

std::string Listener::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return name + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

base::Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "'" + std::string(text) + "' is not HOST:PORT");
  }
  std::string host(text.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port(text.substr(colon + 1));
  char* end = nullptr;
  const long v = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || v < 0 || v > 65535) {
    return MakeError(ErrorCode::kInvalidArgument, "'" + std::string(text) + "' has no valid port");
  }
  return std::pair{host.empty() ? std::string("0.0.0.0") : host, static_cast<uint16_t>(v)};
}

base::Result<std::vector<Listener>> ParseListeners(std::string_view text,
                                                   std::string_view protocol_map) {
  std::map<std::string, SecurityProtocol, std::less<>> named;
  for (std::string_view entry : SplitList(protocol_map)) {
    const auto colon = entry.find(':');
    const auto protocol =
        colon == std::string_view::npos ? std::nullopt : ProtocolNamed(entry.substr(colon + 1));
    if (!protocol) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "listener.security.protocol.map: '" + std::string(entry) +
                           "' is not NAME:PROTOCOL (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)");
    }
    named[std::string(entry.substr(0, colon))] = *protocol;
  }
  std::vector<Listener> listeners;
  std::set<std::string, std::less<>> names;
  for (std::string_view entry : SplitList(text)) {
    const auto sep = entry.find("://");
    if (sep == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "listener '" + std::string(entry) + "' is not NAME://HOST:PORT");
    }
    Listener l;
    l.name = std::string(entry.substr(0, sep));
    if (auto it = named.find(l.name); it != named.end()) {
      l.protocol = it->second;
    } else if (auto p = ProtocolNamed(l.name)) {
      l.protocol = *p;
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "listener '" + std::string(entry) + "': '" + l.name +
                           "' is neither a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, "
                           "SASL_SSL) nor named in listener.security.protocol.map");
    }
    auto hp = ParseHostPort(entry.substr(sep + 3));
    if (!hp) return std::move(hp).error();
    l.host = hp->first;
    l.port = hp->second;
    if (!names.insert(l.name).second) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "listener name '" + l.name + "' appears twice in listeners");
    }
    listeners.push_back(std::move(l));
  }
  if (listeners.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "listeners is empty");
  }
  return listeners;
}

}  // namespace sluice::net
