#include "cli/scram_admin.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "net/listener.h"
#include "net/messages.h"
#include "net/scram.h"
#include "segment/base/coding.h"

namespace sluice::cli {
namespace {

using base::ErrorCode;
using base::MakeError;
using base::Result;
using base::Status;

constexpr int kTimeoutSeconds = 15;
constexpr size_t kMaxResponseBytes = 64u << 20;
constexpr char kClientId[] = "sluice-cli";

// One blocking connection that sends a frame and reads its answer.
class Connection {
 public:
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Connect(const std::string& broker) {
    auto hp = net::ParseHostPort(broker);
    if (!hp) return hp.error();
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(hp->second);
    if (int rc = ::getaddrinfo(hp->first.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return MakeError(ErrorCode::kIoError,
                       "resolving " + broker + ": " + std::string(::gai_strerror(rc)));
    }
    std::string last = "no address";
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
      if (fd < 0) continue;
      timeval tv{kTimeoutSeconds, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
        break;
      }
      last = std::strerror(errno);
      ::close(fd);
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) return MakeError(ErrorCode::kIoError, "connecting to " + broker + ": " + last);
    return {};
  }

  // Sends `frame` (no size prefix) and returns the response after its correlation id.
  Result<std::string> RoundTrip(const std::string& frame) {
    std::string out(4, '\0');
    base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(out.data()),
                           static_cast<int32_t>(frame.size()));
    out += frame;
    RETURN_IF_ERROR(WriteAll(out));
    ASSIGN_OR_RETURN(std::string size_bytes, ReadExactly(4));
    const auto size = base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(size_bytes.data()));
    if (size < 4 || static_cast<size_t>(size) > kMaxResponseBytes) {
      return MakeError(ErrorCode::kCorruption, "a response of " + std::to_string(size) + " bytes");
    }
    ASSIGN_OR_RETURN(std::string body, ReadExactly(static_cast<size_t>(size)));
    return body.substr(4);
  }

 private:
  Status WriteAll(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return MakeError(ErrorCode::kIoError, std::string("send: ") + std::strerror(errno));
      sent += static_cast<size_t>(n);
    }
    return {};
  }
  Result<std::string> ReadExactly(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        return MakeError(ErrorCode::kIoError,
                         "the broker closed the connection (a SASL listener needs "
                         "SLUICE_SASL_USERNAME and SLUICE_SASL_PASSWORD; see README)");
      }
      if (r < 0)
        return MakeError(ErrorCode::kIoError, std::string("recv: ") + std::strerror(errno));
      got += static_cast<size_t>(r);
    }
    return out;
  }
  int fd_ = -1;
};

std::string HeaderV1(net::ApiKey key, int16_t version, int32_t correlation_id) {
  std::string frame;
  net::WireWriter w(frame);
  w.Int16(static_cast<int16_t>(key));
  w.Int16(version);
  w.Int32(correlation_id);
  w.String(kClientId);
  return frame;
}

struct Login {
  std::string user;
  std::string password;
  std::string mechanism;
  std::string from;  // where the mechanism was named, for errors
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Who to log in as, if anyone: the client properties (security.protocol, sasl.username,
// sasl.password, sasl.mechanism[s]) as librdkafka reads them, else SLUICE_SASL_USERNAME /
// _PASSWORD / _MECHANISM. A TLS protocol is refused: this connection is plain TCP.
Result<std::optional<Login>> LoginFor(const kafka::ClientConfig& client) {
  std::optional<std::string> protocol;
  Login login;
  bool named = false;
  for (const auto& [key, value] : client.properties) {
    if (key == "security.protocol") protocol = Lower(value);
    if (key == "sasl.username") {
      login.user = value;
      named = true;
    }
    if (key == "sasl.password") login.password = value;
    if (key == "sasl.mechanism" || key == "sasl.mechanisms") {
      login.mechanism = value;
      login.from = key;
    }
  }
  if (protocol && (*protocol == "ssl" || *protocol == "sasl_ssl")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "user --broker does not speak TLS (security.protocol=" + *protocol +
                         "): use a PLAINTEXT or SASL_PLAINTEXT listener, the data directory of "
                         "the stopped broker, or kafka-configs.sh");
  }
  if (protocol == "plaintext") return std::optional<Login>();
  if (!named) {
    const char* user = std::getenv("SLUICE_SASL_USERNAME");
    const char* password = std::getenv("SLUICE_SASL_PASSWORD");
    if (user == nullptr || password == nullptr) {
      if (protocol == "sasl_plaintext") {
        return MakeError(ErrorCode::kInvalidArgument,
                         "security.protocol=sasl_plaintext needs sasl.username and "
                         "sasl.password (-X or --client-config)");
      }
      return std::optional<Login>();
    }
    login = Login{user, password, "", ""};
    if (const char* mech = std::getenv("SLUICE_SASL_MECHANISM"); mech != nullptr) {
      login.mechanism = mech;
      login.from = "SLUICE_SASL_MECHANISM";
    }
  }
  if (login.mechanism.empty()) login.mechanism = "SCRAM-SHA-512";
  return std::optional<Login>(std::move(login));
}

// SaslHandshake v1 + SaslAuthenticate v1 with SCRAM, when LoginFor names a user.
Status MaybeAuthenticate(Connection& conn, const kafka::ClientConfig& config) {
  ASSIGN_OR_RETURN(std::optional<Login> login, LoginFor(config));
  if (!login) return {};
  const std::string& mech_name = login->mechanism;
  const auto mechanism = engine::ParseScramMechanism(mech_name);
  if (!mechanism) {
    return MakeError(ErrorCode::kInvalidArgument,
                     login->from + ": '" + mech_name +
                         "': user --broker logs in with SCRAM-SHA-256 or SCRAM-SHA-512 only");
  }
  const char* user = login->user.c_str();
  const char* password = login->password.c_str();
  std::string hs = HeaderV1(net::ApiKey::kSaslHandshake, 1, 1);
  net::WireWriter(hs).String(mech_name);
  ASSIGN_OR_RETURN(std::string hs_resp, conn.RoundTrip(hs));
  net::WireReader hr(base::AsBytes(hs_resp));
  const auto hs_error = static_cast<net::KafkaError>(hr.Int16());
  RETURN_IF_ERROR(hr.status("SaslHandshake response"));
  if (hs_error != net::KafkaError::kNone) {
    return MakeError(ErrorCode::kRefused,
                     std::string("SaslHandshake: ") + net::KafkaErrorName(hs_error));
  }
  net::ScramClient client(*mechanism, user, password);
  std::string token = client.First();
  for (int32_t step = 0; step < 2; ++step) {
    std::string req = HeaderV1(net::ApiKey::kSaslAuthenticate, 1, 2 + step);
    net::WireWriter(req).BytesField(base::AsBytes(token));
    ASSIGN_OR_RETURN(std::string resp, conn.RoundTrip(req));
    net::WireReader r(base::AsBytes(resp));
    const auto error = static_cast<net::KafkaError>(r.Int16());
    const std::optional<std::string> message = r.NullableString();
    const std::string answer(base::AsString(r.BytesField()));
    RETURN_IF_ERROR(r.status("SaslAuthenticate response"));
    if (error != net::KafkaError::kNone) {
      return MakeError(ErrorCode::kRefused, std::string("SASL authentication failed: ") +
                                                net::KafkaErrorName(error) + ": " +
                                                message.value_or(""));
    }
    if (step == 0) {
      ASSIGN_OR_RETURN(token, client.Final(answer));
    } else {
      RETURN_IF_ERROR(client.Verify(answer));
    }
  }
  return {};
}

Result<std::string> Call(const kafka::ClientConfig& client, const std::string& frame) {
  Connection conn;
  RETURN_IF_ERROR(conn.Connect(client.bootstrap));
  RETURN_IF_ERROR(MaybeAuthenticate(conn, client));
  return conn.RoundTrip(frame);
}

}  // namespace

Result<engine::ScramUserMap> DescribeScramCredentials(const kafka::ClientConfig& client) {
  ASSIGN_OR_RETURN(std::string body,
                   Call(client, net::EncodeRequestFrame(
                                    10, kClientId, net::DescribeUserScramCredentialsRequest{})));
  ASSIGN_OR_RETURN(auto resp, net::DecodeDescribeUserScramCredentialsResponse(base::AsBytes(body)));
  if (resp.error_code != net::KafkaError::kNone) {
    return MakeError(ErrorCode::kRefused, std::string("DescribeUserScramCredentials: ") +
                                              net::KafkaErrorName(resp.error_code) + ": " +
                                              resp.error_message.value_or(""));
  }
  engine::ScramUserMap users;
  for (const auto& r : resp.results) {
    for (const auto& c : r.credential_infos) {
      const auto m = engine::ScramMechanismFromCode(c.mechanism);
      if (!m) continue;
      engine::ScramCredential cred;
      cred.iterations = c.iterations;
      users[r.user][*m] = cred;
    }
  }
  return users;
}

Status AlterScramCredentials(
    const kafka::ClientConfig& client, const std::vector<ScramUpsertion>& upsertions,
    const std::vector<std::pair<std::string, engine::ScramMechanism>>& deletions) {
  net::AlterUserScramCredentialsRequest req;
  for (const auto& [user, m] : deletions) {
    req.deletions.push_back({user, static_cast<int8_t>(m)});
  }
  for (const ScramUpsertion& u : upsertions) {
    req.upsertions.push_back(
        {u.user, static_cast<int8_t>(u.mechanism), u.iterations, u.salt, u.salted_password});
  }
  ASSIGN_OR_RETURN(std::string body, Call(client, net::EncodeRequestFrame(11, kClientId, req)));
  ASSIGN_OR_RETURN(auto resp, net::DecodeAlterUserScramCredentialsResponse(base::AsBytes(body)));
  for (const auto& r : resp.results) {
    if (r.error_code != net::KafkaError::kNone) {
      return MakeError(ErrorCode::kRefused, "user " + r.user + ": " +
                                                net::KafkaErrorName(r.error_code) + ": " +
                                                r.error_message.value_or(""));
    }
  }
  return {};
}

}  // namespace sluice::cli
