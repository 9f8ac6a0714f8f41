// TLS listeners (net/tls.h, net/transport.h, the server's TLS path in net/server.cc) over real
// sockets on 127.0.0.1, with certificates made by the openssl CLI for each test run
// (tests/support/make_test_certs.sh) and a client built on the same OpenSSL wrapper: requests and
// answers, large ones both ways; the principal from a client certificate; mTLS refusing no
// certificate, another CA's and an expired one; reloading the certificate for new connections;
// a plaintext client and a silent one on the TLS port; the memory of 1,000 idle TLS connections.
// Runs under TSan (label `concurrent`).

#include "net/tls.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "net/server.h"
#include "segment/base/coding.h"
#include "tests/support/test_util.h"

namespace sluice::net {
namespace {

using Status = TlsSession::Status;

// Certificates for the whole suite (made once: the openssl CLI takes about a second).
class Certs {
 public:
  static const Certs& Get() {
    static Certs certs;
    return certs;
  }
  std::string operator()(const std::string& name) const { return dir_.Join(name); }
  bool ok() const { return ok_; }

 private:
  Certs() {
    const std::string cmd = std::string(SLUICE_SOURCE_DIR) + "/tests/support/make_test_certs.sh " +
                            dir_.path() + " >" + dir_.Join("make.log") + " 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
  }
  testing::TempDir dir_;
  bool ok_ = false;
};

// `rcvbuf` > 0: a receive buffer that small (set before connecting, so the window stays small).
int ConnectTcp(uint16_t port, int rcvbuf = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

std::string Frame(int32_t correlation_id, const std::string& body) {
  std::string frame(12, '\0');
  auto* p = reinterpret_cast<std::byte*>(frame.data());
  base::StoreBE<int32_t>(p, static_cast<int32_t>(8 + body.size()));
  base::StoreBE<int32_t>(p + 8, correlation_id);
  return frame + body;
}

// A blocking TLS client (the socket has 20 s timeouts).
class TlsClient {
 public:
  TlsClient(uint16_t port, const TlsClientOptions& options, int rcvbuf = 0)
      : fd_(ConnectTcp(port, rcvbuf)) {
    auto ctx = TlsContext::CreateClient(options);
    if (!ctx) {
      error_ = ctx.error().context;
      return;
    }
    auto session = TlsSession::Connect(*ctx, fd_, "127.0.0.1");
    if (!session) {
      error_ = session.error().context;
      return;
    }
    session_ = std::move(*session);
    const TlsSession::IoResult r = session_->Handshake();
    if (r.status != Status::kOk) {
      error_ = r.error.empty() ? "handshake ended" : r.error;
      return;
    }
    ok_ = true;
  }
  ~TlsClient() {
    session_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  TlsSession& session() { return *session_; }

  bool SendAll(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const auto r = session_->Write(bytes.data() + done, bytes.size() - done);
      if (r.status != Status::kOk) {
        error_ = r.error;
        return false;
      }
      done += r.bytes;
    }
    return true;
  }
  bool RecvAll(char* out, size_t n) {
    while (n > 0) {
      const auto r = session_->Read(out, n);
      if (r.status != Status::kOk) {
        error_ = r.status == Status::kClosed ? "closed by the server" : r.error;
        return false;
      }
      out += r.bytes;
      n -= r.bytes;
    }
    return true;
  }
  // Sends a request with `body` and returns the response body (after the correlation id), or
  // nullopt with error() saying why.
  std::optional<std::string> Call(int32_t correlation_id, const std::string& body) {
    if (!SendAll(Frame(correlation_id, body))) return std::nullopt;
    char header[8];
    if (!RecvAll(header, 8)) return std::nullopt;
    const auto size = base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(header));
    if (base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(header + 4)) != correlation_id) {
      error_ = "wrong correlation id";
      return std::nullopt;
    }
    std::string rest(static_cast<size_t>(size - 4), '\0');
    if (!RecvAll(rest.data(), rest.size())) return std::nullopt;
    return rest;
  }

 private:
  int fd_;
  std::unique_ptr<TlsSession> session_;
  bool ok_ = false;
  std::string error_;
};

// The answer to each request: the session's principal, a newline, then the request's body.
class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Certs::Get().ok()) << "tests/support/make_test_certs.sh"; }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  const Certs& certs() { return Certs::Get(); }

  TlsOptions ServerTls(ClientAuth auth = ClientAuth::kNone) {
    TlsOptions o;
    o.certificate_file = certs()("server.pem");
    o.key_file = certs()("server.key");
    o.ca_file = certs()("ca.pem");
    o.client_auth = auth;
    return o;
  }
  TlsClientOptions ClientTls(const std::string& cert = "") {
    TlsClientOptions o;
    o.ca_file = certs()("ca.pem");
    if (!cert.empty()) {
      o.certificate_file = certs()(cert + ".pem");
      o.key_file = certs()(cert + ".key");
    }
    return o;
  }

  // `handler`: the server's (the default answers with the principal and the request's body).
  void Start(TlsOptions tls, ServerOptions options = {}, RequestHandlerFn handler = nullptr) {
    options.listeners = {Listener{"SSL", SecurityProtocol::kSsl, "127.0.0.1", 0},
                         Listener{"PLAINTEXT", SecurityProtocol::kPlaintext, "127.0.0.1", 0}};
    options.tls = std::move(tls);
    if (!handler) {
      handler = [](std::shared_ptr<const RequestFrame> frame, Responder r) {
        OutBuffer out;
        WireWriter w = out.writer();
        w.Raw(r.session().principal + "\n");
        w.Raw(std::string_view(reinterpret_cast<const char*>(frame->bytes().data()) + 8,
                               frame->bytes().size() - 8));
        r.Send(std::move(out));
      };
    }
    server_ = std::make_unique<Server>(options, std::move(handler));
    auto s = server_->Start();
    ASSERT_TRUE(s) << s.error().context;
  }
  uint16_t tls_port() { return server_->port(0); }

  std::unique_ptr<Server> server_;
};

TEST_F(TlsServerTest, AnswersRequestsSmallAndLargeOverTls) {
  Start(ServerTls());
  TlsClient c(tls_port(), ClientTls());
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c.session().Protocol(), "TLSv1.3");
  auto r = c.Call(1, "hello");
  ASSERT_TRUE(r) << c.error();
  EXPECT_EQ(*r, "User:ANONYMOUS\nhello");
  // Larger than the loop's 64 KiB scratch (read in place) and than many TLS records each way.
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  for (int32_t id = 2; id < 5; ++id) {
    auto answer = c.Call(id, big);
    ASSERT_TRUE(answer) << c.error();
    EXPECT_EQ(*answer, "User:ANONYMOUS\n" + big);
  }
  // Pipelined small requests, sent at once: answered in order.
  std::string burst;
  for (int32_t id = 10; id < 60; ++id) burst += Frame(id, std::to_string(id));
  ASSERT_TRUE(c.SendAll(burst));
  for (int32_t id = 10; id < 60; ++id) {
    char header[8];
    ASSERT_TRUE(c.RecvAll(header, 8)) << c.error();
    EXPECT_EQ(base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(header + 4)), id);
    std::string rest(
        static_cast<size_t>(base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(header))) - 4,
        '\0');
    ASSERT_TRUE(c.RecvAll(rest.data(), rest.size()));
    EXPECT_EQ(rest, "User:ANONYMOUS\n" + std::to_string(id));
  }
}

// A response as a Fetch builds it: owned bytes of a few to a few hundred bytes (headers) between
// views of every size into stored data (record batches), about 6 MiB and 3,000 pieces, more than
// one writev's IOV_MAX. Returns the bytes it holds, in order.
std::string PiecewiseResponse(OutBuffer& out) {
  static const auto pool = [] {
    auto p = std::make_shared<std::string>(1 << 20, '\0');
    for (size_t i = 0; i < p->size(); ++i) (*p)[i] = static_cast<char>(i * 7 + i / 251);
    return p;
  }();
  out.AddPin(pool);
  static constexpr size_t kViewSizes[] = {1, 100, 4000, 16383, 16384, 16385, 40000, 300000, 9};
  std::string expected;
  uint32_t x = 12345;
  for (int i = 0; i < 1500; ++i) {
    x = x * 1103515245 + 12345;
    const std::string owned((x >> 16) % 300 + 1, static_cast<char>('A' + i % 26));
    out.writer().Raw(owned);
    expected += owned;
    const size_t size = kViewSizes[(x >> 8) % std::size(kViewSizes)] / (i % 3 == 0 ? 1 : 8);
    const size_t from = (x >> 4) % (pool->size() - size);
    out.AppendView(base::AsBytes(*pool).subspan(from, size));
    expected.append(*pool, from, size);
  }
  return expected;
}

// The TLS writes encrypt a response's pieces into full 16 KiB records (small pieces gathered,
// large ones encrypted where they lie), many records to a send; the bytes arrive intact and in
// order, and in about as many records as full ones would take. The client's small receive buffer
// fills the server's socket again and again: each write waits with its records queued and sends
// them when the socket drains.
TEST_F(TlsServerTest, APiecewiseResponseArrivesIntactInFullRecords) {
  Start(ServerTls(), {}, [](std::shared_ptr<const RequestFrame>, Responder r) {
    OutBuffer out;
    PiecewiseResponse(out);
    r.Send(std::move(out));
  });
  OutBuffer unused;
  const std::string expected = PiecewiseResponse(unused);
  ASSERT_GT(expected.size(), 4u << 20);
  TlsClient c(tls_port(), ClientTls(), /*rcvbuf=*/16 << 10);
  ASSERT_TRUE(c.ok()) << c.error();
  for (int32_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(c.SendAll(Frame(id, "fetch")));
    char header[8];
    ASSERT_TRUE(c.RecvAll(header, 8)) << c.error();
    ASSERT_EQ(base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(header + 4)), id);
    const auto size = base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(header));
    ASSERT_EQ(static_cast<size_t>(size), 4 + expected.size());
    // Read a record at a time: TlsSession::Read returns at most one record's bytes.
    std::string got(expected.size(), '\0');
    size_t done = 0;
    size_t reads = 0;
    while (done < got.size()) {
      const auto r =
          c.session().Read(got.data() + done, std::min<size_t>(16 << 10, got.size() - done));
      ASSERT_EQ(r.status, Status::kOk) << r.error;
      done += r.bytes;
      ++reads;
    }
    EXPECT_TRUE(got == expected) << "response " << id << " differs";
    // Full records would take size / 16 KiB; a short one may end each write of 128 KiB (and each
    // writev's worth of pieces). Encrypting each of the 3,000 pieces on its own would take
    // 3,000 records and more.
    const size_t full = expected.size() / (16 << 10) + 1;
    EXPECT_LE(reads, full + full / 8 + 8) << "records of " << expected.size() << " bytes";
  }
}

TEST_F(TlsServerTest, AClientThatLeavesBeforeItsAnswerDoesNotHurtTheServer) {
  Start(ServerTls());
  for (int i = 0; i < 5; ++i) {
    TlsClient c(tls_port(), ClientTls());
    ASSERT_TRUE(c.ok()) << c.error();
    // Nothing left unread (the session tickets, an answer), so the close is a FIN, not a reset;
    // then a 3 MiB answer goes to a socket closed behind it: EPIPE, never SIGPIPE.
    ASSERT_TRUE(c.Call(1, "first"));
    ASSERT_TRUE(c.SendAll(Frame(2, std::string(3 << 20, 'q'))));
  }
  TlsClient c(tls_port(), ClientTls());
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c.Call(1, "after"), "User:ANONYMOUS\nafter");
}

TEST_F(TlsServerTest, TheClientCertificateSubjectIsThePrincipal) {
  Start(ServerTls(ClientAuth::kRequired));
  TlsClient c(tls_port(), ClientTls("client"));
  ASSERT_TRUE(c.ok()) << c.error();
  auto r = c.Call(7, "x");
  ASSERT_TRUE(r) << c.error();
  EXPECT_EQ(*r, "User:CN=alice,OU=eng,O=acme\nx");
  // What the client sees of the server.
  EXPECT_EQ(c.session().PeerPrincipal(), "User:CN=localhost");
}

TEST_F(TlsServerTest, RequiredClientAuthRefusesNoCertificateAnotherCasAndAnExpiredOne) {
  Start(ServerTls(ClientAuth::kRequired));
  for (const std::string cert : {"", "stranger", "expired"}) {
    SCOPED_TRACE("client certificate: " + (cert.empty() ? std::string("none") : cert));
    TlsClient c(tls_port(), ClientTls(cert));
    // In TLS 1.3 the client's handshake ends before the server has checked its certificate: the
    // refusal comes as an alert on the first read.
    if (c.ok()) {
      EXPECT_FALSE(c.Call(1, "let me in")) << "the server answered";
    }
    EXPECT_FALSE(c.error().empty());
  }
  // And the server goes on serving a good client.
  TlsClient good(tls_port(), ClientTls("client"));
  ASSERT_TRUE(good.ok()) << good.error();
  auto r = good.Call(2, "ok");
  ASSERT_TRUE(r) << good.error();
  EXPECT_EQ(*r, "User:CN=alice,OU=eng,O=acme\nok");
}

TEST_F(TlsServerTest, RequestedClientAuthTakesACertificateOrNone) {
  Start(ServerTls(ClientAuth::kRequested));
  TlsClient with(tls_port(), ClientTls("client"));
  ASSERT_TRUE(with.ok()) << with.error();
  EXPECT_EQ(with.Call(1, ""), "User:CN=alice,OU=eng,O=acme\n");
  TlsClient without(tls_port(), ClientTls());
  ASSERT_TRUE(without.ok()) << without.error();
  EXPECT_EQ(without.Call(1, ""), "User:ANONYMOUS\n");
  // A certificate that is sent is checked.
  TlsClient stranger(tls_port(), ClientTls("stranger"));
  if (stranger.ok()) {
    EXPECT_FALSE(stranger.Call(1, ""));
  }
}

TEST_F(TlsServerTest, AClientThatDoesNotTrustTheServerCaFailsItsHandshake) {
  Start(ServerTls());
  TlsClientOptions o;
  o.ca_file = certs()("other-ca.pem");
  TlsClient c(tls_port(), o);
  EXPECT_FALSE(c.ok());
  EXPECT_NE(c.error().find("certificate verify failed"), std::string::npos) << c.error();
}

TEST_F(TlsServerTest, ReloadServesTheNewCertificateToNewConnectionsAndKeepsTheOldOnAnError) {
  testing::TempDir dir;
  const std::string cert = dir.Join("cert.pem");
  const std::string key = dir.Join("key.pem");
  std::filesystem::copy_file(certs()("server.pem"), cert);
  std::filesystem::copy_file(certs()("server.key"), key);
  TlsOptions tls = ServerTls();
  tls.certificate_file = cert;
  tls.key_file = key;
  Start(tls);

  TlsClient before(tls_port(), ClientTls());
  ASSERT_TRUE(before.ok()) << before.error();
  EXPECT_EQ(before.session().PeerPrincipal(), "User:CN=localhost");

  const auto overwrite = std::filesystem::copy_options::overwrite_existing;
  std::filesystem::copy_file(certs()("server2.pem"), cert, overwrite);
  std::filesystem::copy_file(certs()("server2.key"), key, overwrite);
  ASSERT_TRUE(server_->ReloadTls());
  TlsClient after(tls_port(), ClientTls());
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after.session().PeerPrincipal(), "User:CN=localhost-2");
  // The connection made before the reload carries on with its own.
  EXPECT_EQ(before.Call(1, "still here"), "User:ANONYMOUS\nstill here");

  // A certificate that does not match the key: refused, the last good one stays.
  std::filesystem::copy_file(certs()("server.pem"), cert, overwrite);
  auto bad = server_->ReloadTls();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().context.find("does not match"), std::string::npos) << bad.error().context;
  { std::ofstream(cert, std::ios::trunc) << "not a certificate\n"; }
  EXPECT_FALSE(server_->ReloadTls());
  TlsClient later(tls_port(), ClientTls());
  ASSERT_TRUE(later.ok()) << later.error();
  EXPECT_EQ(later.session().PeerPrincipal(), "User:CN=localhost-2");
}

TEST_F(TlsServerTest, APlaintextClientOnTheTlsPortIsClosedAndTheServerGoesOn) {
  Start(ServerTls());
  const int fd = ConnectTcp(tls_port());
  ASSERT_GE(fd, 0);
  // An ApiVersions v0 request, as a client that forgot security.protocol=SSL sends it.
  std::string body = "\x00\x12\x00\x00";
  body.resize(4);
  std::string frame = Frame(1, "");
  frame.replace(4, 4, body);
  ASSERT_EQ(::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frame.size()));
  // The server answers with at most a TLS alert, then closes: recv reaches the end.
  std::string got;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(n, 0) << "not an orderly close: " << std::strerror(errno);
  EXPECT_LT(got.size(), 64u);
  if (!got.empty()) {
    EXPECT_EQ(got[0], '\x15') << "not a TLS alert record";
  }
  ::close(fd);

  TlsClient c(tls_port(), ClientTls());
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c.Call(1, ""));
}

TEST_F(TlsServerTest, AHandshakeNotDoneInTimeIsClosed) {
  ServerOptions options;
  options.request_receive_timeout_ms = 200;
  Start(ServerTls(), options);
  const int fd = ConnectTcp(tls_port());
  ASSERT_GE(fd, 0);
  const auto start = std::chrono::steady_clock::now();
  char buf[16];
  EXPECT_EQ(::recv(fd, buf, sizeof buf, 0), 0);  // within the 20 s receive timeout
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ::close(fd);
}

TEST_F(TlsServerTest, TheListenerRefusesToStartWithoutUsableFiles) {
  ServerOptions options;
  options.listeners = {Listener{"SSL", SecurityProtocol::kSsl, "127.0.0.1", 0}};
  Server s1(options, [](std::shared_ptr<const RequestFrame>, Responder) {});
  auto r1 = s1.Start();
  ASSERT_FALSE(r1);
  EXPECT_NE(r1.error().context.find("--ssl-certificate-file"), std::string::npos);

  TlsOptions no_ca = ServerTls(ClientAuth::kRequired);
  no_ca.ca_file.clear();
  EXPECT_FALSE(TlsContext::CreateServer(no_ca));
  TlsOptions missing = ServerTls();
  missing.key_file = certs()("no-such.key");
  auto r2 = TlsContext::CreateServer(missing);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().context.find("no-such.key"), std::string::npos);
  EXPECT_FALSE(ParseClientAuth("sometimes"));
}

TEST_F(TlsServerTest, AnEncryptedKeyNeedsItsPassword) {
  TlsOptions o = ServerTls();
  o.key_file = certs()("server-enc.key");
  EXPECT_FALSE(TlsContext::CreateServer(o));
  o.key_password = "wrong";
  EXPECT_FALSE(TlsContext::CreateServer(o));
  o.key_password = "secret";
  auto ctx = TlsContext::CreateServer(o);
  ASSERT_TRUE(ctx) << ctx.error().context;
  EXPECT_EQ((*ctx)->subject(), "CN=localhost");
}

// The slow-loris shape over TLS: 1,000 connections that finish their handshake and then send
// nothing. The server holds OpenSSL's state for each and no buffers (SSL_MODE_RELEASE_BUFFERS).
// The client side keeps only its sockets (its TLS state is freed after each handshake), so the
// growth measured is the server's.
TEST_F(TlsServerTest, AThousandIdleTlsConnectionsHoldLittleMemory) {
  ServerOptions options;
  options.max_connections = 2000;
  options.max_connections_per_ip = 2000;
  Start(ServerTls(), options);
  auto client_ctx = TlsContext::CreateClient(ClientTls());
  ASSERT_TRUE(client_ctx);
  // Warm up: the first connections allocate OpenSSL's and the allocator's one-time state.
  std::vector<int> fds;
  auto connect_one = [&] {
    const int fd = ConnectTcp(tls_port());
    if (fd < 0) return false;
    auto s = TlsSession::Connect(*client_ctx, fd, "127.0.0.1");
    if (!s || (*s)->Handshake().status != Status::kOk) return false;
    // One request, so the server has read (and released its buffers) after the handshake.
    const std::string f = Frame(1, "");
    if ((*s)->Write(f.data(), f.size()).status != Status::kOk) return false;
    char buf[64];
    if ((*s)->Read(buf, sizeof buf).status != Status::kOk) return false;
    fds.push_back(fd);
    return true;
  };
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(connect_one());
  const size_t before = testing::ProcessMemoryNow().resident_bytes;
  constexpr int kConnections = 1000;
  for (int i = 0; i < kConnections; ++i) ASSERT_TRUE(connect_one()) << "connection " << i;
  const size_t after = testing::ProcessMemoryNow().resident_bytes;
  const double per_connection = static_cast<double>(after - std::min(after, before)) / kConnections;
  std::printf(
      "resident memory: %zu KiB before, %zu KiB after %d idle TLS connections: %.1f KiB "
      "each\n",
      before >> 10, after >> 10, kConnections, per_connection / 1024);
  // Measured here: about 10 KiB after the other tests, 15 KiB alone; 24 KiB alone without
  // SSL_MODE_RELEASE_BUFFERS (OpenSSL's read buffer, kept while idle). Under the sanitizers
  // allocations carry redzones or shadow and freed memory (the handshakes') waits in a
  // quarantine: 47 KiB measured under ASan, 95 KiB under TSan; there the bound only catches
  // gross growth.
  EXPECT_LT(per_connection, testing::kSanitized ? 256 * 1024.0 : 20 * 1024.0);
  // Idle connections hold nothing of the memory budget either.
  EXPECT_EQ(server_->budget().used(), 0u);
  for (int fd : fds) ::close(fd);
}

}  // namespace
}  // namespace sluice::net
