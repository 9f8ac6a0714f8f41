#include "net/scram.h"

#include <charconv>
#include <vector>

#include "segment/base/crypto.h"

namespace sluice::net {
namespace {

using base::ErrorCode;
using base::MakeError;
using engine::ScramMechanism;

base::Error Malformed(const std::string& why) {
  return MakeError(ErrorCode::kInvalidArgument, "malformed SCRAM message: " + why);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = s.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, at - start));
    start = at + 1;
  }
}

// RFC 5802 printable: %x21-2B / %x2D-7E (no comma).
bool ValidNonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

// "k=value" with the expected key; the value, else nullopt.
std::optional<std::string_view> Attribute(std::string_view part, char key) {
  if (part.size() < 2 || part[0] != key || part[1] != '=') return std::nullopt;
  return part.substr(2);
}

std::string XorStrings(std::string_view a, std::string_view b) {
  std::string out(a.size(), '\0');
  for (size_t i = 0; i < a.size(); ++i) {
    out[i] = static_cast<char>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  }
  return out;
}

Result<std::string> RandomNonce() {
  ASSIGN_OR_RETURN(std::string raw, base::SecureRandomBytes(24));
  return base::Base64Encode(raw);  // base64 has no ','
}

}  // namespace

Result<PlainToken> ParsePlainToken(std::string_view token) {
  const std::vector<std::string_view> parts = Split(token, '\0');
  if (parts.size() != 3) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "malformed PLAIN token: expected [authzid] NUL user NUL password");
  }
  if (parts[1].empty() || parts[2].empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "malformed PLAIN token: an empty user name or password");
  }
  return PlainToken{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

std::string EncodeSaslName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> DecodeSaslName(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == ',') return Malformed("a ',' in a name");
    if (name[i] != '=') {
      out += name[i];
      continue;
    }
    const std::string_view esc = name.substr(i + 1, 2);
    if (esc == "2C") {
      out += ',';
    } else if (esc == "3D") {
      out += '=';
    } else {
      return Malformed("a bad '=' escape in a name");
    }
    i += 2;
  }
  return out;
}

Result<ScramClientFirst> ParseScramClientFirst(std::string_view message) {
  // gs2-header = gs2-cbind-flag "," [ authzid ] ","
  const size_t first_comma = message.find(',');
  if (first_comma == std::string_view::npos) return Malformed("no gs2 header");
  const size_t second_comma = message.find(',', first_comma + 1);
  if (second_comma == std::string_view::npos) return Malformed("no gs2 header");
  ScramClientFirst out;
  const std::string_view flag = message.substr(0, first_comma);
  if (flag.size() >= 2 && flag.substr(0, 2) == "p=") {
    return MakeError(ErrorCode::kRefused, "channel binding is not supported");
  }
  if (flag != "n" && flag != "y") return Malformed("gs2 flag '" + std::string(flag) + "'");
  const std::string_view authz = message.substr(first_comma + 1, second_comma - first_comma - 1);
  if (!authz.empty()) {
    const auto a = Attribute(authz, 'a');
    if (!a) return Malformed("authzid is not a=<name>");
    ASSIGN_OR_RETURN(out.authzid, DecodeSaslName(*a));
  }
  out.gs2_header = std::string(message.substr(0, second_comma + 1));
  const std::string_view bare = message.substr(second_comma + 1);
  out.bare = std::string(bare);
  const std::vector<std::string_view> parts = Split(bare, ',');
  if (parts.size() < 2) return Malformed("client-first needs n= and r=");
  if (Attribute(parts[0], 'm')) return Malformed("mandatory extension m= is not supported");
  const auto n = Attribute(parts[0], 'n');
  if (!n) return Malformed("client-first does not start with n=");
  ASSIGN_OR_RETURN(out.user, DecodeSaslName(*n));
  if (out.user.empty()) return Malformed("empty user name");
  const auto r = Attribute(parts[1], 'r');
  if (!r || !ValidNonce(*r)) return Malformed("client-first has no valid r=");
  out.nonce = std::string(*r);
  for (size_t i = 2; i < parts.size(); ++i) {
    const std::string_view ext = parts[i];
    const size_t eq = ext.find('=');
    if (eq == std::string_view::npos || eq == 0) return Malformed("an extension without '='");
    if (ext.substr(0, eq) == "tokenauth" && ext.substr(eq + 1) == "true") out.token_auth = true;
  }
  return out;
}

Result<ScramClientFinal> ParseScramClientFinal(std::string_view message) {
  const size_t p_at = message.rfind(",p=");
  if (p_at == std::string_view::npos) return Malformed("client-final has no p=");
  ScramClientFinal out;
  out.without_proof = std::string(message.substr(0, p_at));
  auto proof = base::Base64Decode(message.substr(p_at + 3));
  if (!proof || proof->empty()) return Malformed("client-final's p= is not base64");
  out.proof = std::move(*proof);
  const std::vector<std::string_view> parts = Split(out.without_proof, ',');
  if (parts.size() < 2) return Malformed("client-final needs c= and r=");
  const auto c = Attribute(parts[0], 'c');
  if (!c) return Malformed("client-final does not start with c=");
  auto binding = base::Base64Decode(*c);
  if (!binding) return Malformed("client-final's c= is not base64");
  out.channel_binding = std::move(*binding);
  const auto r = Attribute(parts[1], 'r');
  if (!r || !ValidNonce(*r)) return Malformed("client-final has no valid r=");
  out.nonce = std::string(*r);
  for (size_t i = 2; i < parts.size(); ++i) {
    if (parts[i].find('=') == std::string_view::npos) return Malformed("an extension without '='");
  }
  return out;
}

// --- ScramServer -------------------------------------------------------------------------------

ScramServer::ScramServer(ScramMechanism mechanism, ScramCredentialLookup lookup,
                         std::string nonce_suffix)
    : mechanism_(mechanism), lookup_(std::move(lookup)), nonce_suffix_(std::move(nonce_suffix)) {}

Result<std::string> ScramServer::Step(std::string_view client_message) {
  Result<std::string> out =
      MakeError(ErrorCode::kInvalidArgument, "a SCRAM message after the exchange ended");
  if (state_ == State::kFirst) {
    out = First(client_message);
  } else if (state_ == State::kFinal) {
    out = Final(client_message);
  }
  if (!out) state_ = State::kFailed;
  return out;
}

Result<std::string> ScramServer::First(std::string_view message) {
  ASSIGN_OR_RETURN(ScramClientFirst first, ParseScramClientFirst(message));
  user_ = first.user;
  if (first.token_auth) {
    return MakeError(ErrorCode::kRefused, "delegation tokens (tokenauth) are not supported");
  }
  if (!first.authzid.empty() && first.authzid != first.user) {
    return MakeError(ErrorCode::kRefused,
                     "the client requested an authorization id that is different from username");
  }
  ASSIGN_OR_RETURN(std::optional<engine::ScramCredential> credential, lookup_(first.user));
  if (!credential) {
    return MakeError(ErrorCode::kNotFound, "Invalid user credentials");
  }
  credential_ = std::move(*credential);
  std::string suffix = nonce_suffix_;
  if (suffix.empty()) {
    ASSIGN_OR_RETURN(suffix, RandomNonce());
  }
  nonce_ = first.nonce + suffix;
  client_first_bare_ = std::move(first.bare);
  gs2_header_ = std::move(first.gs2_header);
  server_first_ = "r=" + nonce_ + ",s=" + base::Base64Encode(credential_.salt) +
                  ",i=" + std::to_string(credential_.iterations);
  state_ = State::kFinal;
  return server_first_;
}

Result<std::string> ScramServer::Final(std::string_view message) {
  ASSIGN_OR_RETURN(ScramClientFinal final_message, ParseScramClientFinal(message));
  // Kafka's rule (ScramSaslServer): the nonce must END with the server's nonce. librdkafka sends
  // its client nonce again in front of it, and Kafka accepts that; the AuthMessage below uses
  // the message as sent, so the proof still covers it.
  if (!final_message.nonce.ends_with(nonce_)) {
    return MakeError(ErrorCode::kRefused, "Invalid client nonce in the final client message.");
  }
  if (final_message.channel_binding != gs2_header_) {
    return MakeError(ErrorCode::kRefused, "Invalid channel binding in the final client message.");
  }
  const base::HashAlgorithm h = engine::ScramHash(mechanism_);
  const std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + final_message.without_proof;
  const std::string client_signature = base::Hmac(h, credential_.stored_key, auth_message);
  if (final_message.proof.size() != client_signature.size()) {
    return MakeError(ErrorCode::kRefused, "Invalid client credentials");
  }
  const std::string client_key = XorStrings(final_message.proof, client_signature);
  if (!base::ConstantTimeEqual(base::Hash(h, client_key), credential_.stored_key)) {
    return MakeError(ErrorCode::kRefused, "Invalid client credentials");
  }
  state_ = State::kDone;
  return "v=" + base::Base64Encode(base::Hmac(h, credential_.server_key, auth_message));
}

// --- ScramClient -------------------------------------------------------------------------------

ScramClient::ScramClient(ScramMechanism mechanism, std::string user, std::string password,
                         std::string nonce)
    : mechanism_(mechanism),
      user_(std::move(user)),
      password_(std::move(password)),
      nonce_(std::move(nonce)) {
  if (nonce_.empty()) {
    auto random = RandomNonce();
    nonce_ = random ? *random : "sluice-fallback-nonce";
  }
}

std::string ScramClient::First() {
  client_first_bare_ = "n=" + EncodeSaslName(user_) + ",r=" + nonce_;
  return "n,," + client_first_bare_;
}

Result<std::string> ScramClient::Final(std::string_view server_first) {
  const std::vector<std::string_view> parts = Split(server_first, ',');
  if (parts.size() < 3) return Malformed("server-first needs r=, s= and i=");
  const auto r = Attribute(parts[0], 'r');
  const auto s = Attribute(parts[1], 's');
  const auto i = Attribute(parts[2], 'i');
  if (!r || !s || !i) return Malformed("server-first needs r=, s= and i=");
  if (r->size() <= nonce_.size() || r->substr(0, nonce_.size()) != nonce_) {
    return Malformed("the server's nonce does not extend the client's");
  }
  ASSIGN_OR_RETURN(std::string salt, base::Base64Decode(*s));
  int iterations = 0;
  const auto [end, ec] = std::from_chars(i->data(), i->data() + i->size(), iterations);
  if (ec != std::errc() || end != i->data() + i->size() || iterations <= 0) {
    return Malformed("server-first's i= is not a positive number");
  }
  const base::HashAlgorithm h = engine::ScramHash(mechanism_);
  const std::string salted = base::Pbkdf2(h, password_, salt, iterations);
  const std::string client_key = base::Hmac(h, salted, "Client Key");
  const std::string stored_key = base::Hash(h, client_key);
  const std::string server_key = base::Hmac(h, salted, "Server Key");
  const std::string without_proof = "c=biws,r=" + std::string(*r);
  const std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
  const std::string proof = XorStrings(client_key, base::Hmac(h, stored_key, auth_message));
  server_signature_ = base::Hmac(h, server_key, auth_message);
  return without_proof + ",p=" + base::Base64Encode(proof);
}

Status ScramClient::Verify(std::string_view server_final) {
  if (const auto e = Attribute(server_final, 'e')) {
    return MakeError(ErrorCode::kRefused, "the server refused: " + std::string(*e));
  }
  const auto v = Attribute(server_final, 'v');
  if (!v) return Malformed("server-final has no v=");
  auto signature = base::Base64Decode(*v);
  if (!signature || !base::ConstantTimeEqual(*signature, server_signature_)) {
    return MakeError(ErrorCode::kRefused, "the server's signature is wrong");
  }
  return {};
}

}  // namespace sluice::net
