#include "net/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace sluice::net {

namespace {

using base::ErrorCode;
using base::MakeError;

// OpenSSL's queued reasons, oldest first, "; "-separated; empties the queue.
std::string DrainErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    // "error:0A000086:SSL routines::certificate verify failed" -> keep the reason after "::".
    std::string_view text(buf);
    if (auto pos = text.rfind(':'); pos != std::string_view::npos) text = text.substr(pos + 1);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// RFC 2253 as Java's X500Principal.getName() prints it: most significant RDN last, no spaces,
// short names, UTF-8 left as is (OpenSSL's RFC 2253 flags would escape it as \XX).
std::string NameRfc2253(X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n > 0 ? static_cast<size_t>(n) : 0);
  BIO_free(bio);
  return out;
}

// The private key, decrypted with `password` if it is encrypted.
EVP_PKEY* ReadKey(const std::string& file, const std::string& password) {
  BIO* bio = BIO_new_file(file.c_str(), "r");
  if (bio == nullptr) return nullptr;
  // A null callback with a non-null `u` uses `u` as the passphrase; an empty one refuses to
  // prompt on a terminal (no password was given: the key must be in clear).
  auto* pass = const_cast<char*>(password.c_str());
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, pass);
  BIO_free(bio);
  return key;
}

// The socket under one SSL, and the records queued for it (TlsSession::Queue): what the BIO below
// reads and writes. Owned by TlsSession::Ssl, which frees the SSL (and its BIO) first.
struct TlsWire {
  int fd = -1;
  bool queueing = false;  // BIO writes append to `queued` instead of sending
  std::string queued;     // encrypted records not yet sent: [queued_begin, size())
  size_t queued_begin = 0;

  size_t queued_bytes() const { return queued.size() - queued_begin; }
  // Sends what is queued: true when all of it is with the kernel; false with errno set
  // (EAGAIN: the socket is full).
  bool Drain() {
    while (queued_begin < queued.size()) {
      const ssize_t w =
          ::send(fd, queued.data() + queued_begin, queued.size() - queued_begin, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      queued_begin += static_cast<size_t>(w);
    }
    queued.clear();  // keeps its capacity for the next batch; TlsSession::ReleaseIdle frees it
    queued_begin = 0;
    return true;
  }
};

// A socket BIO that sends with MSG_NOSIGNAL (OpenSSL's own writes with write(2), and a client that
// has gone away would kill the process with SIGPIPE), and that queues records instead of sending
// them while the session says so (TlsSession::Queue), so that many records leave in one send.
// Whatever it sends directly goes after the queue.
TlsWire* WireOf(BIO* bio) { return static_cast<TlsWire*>(BIO_get_data(bio)); }
int SocketWrite(BIO* bio, const char* data, int n) {
  BIO_clear_retry_flags(bio);
  TlsWire* wire = WireOf(bio);
  if (wire->queueing) {
    wire->queued.append(data, static_cast<size_t>(n));
    return n;
  }
  ssize_t w = -1;
  if (wire->Drain()) w = ::send(wire->fd, data, static_cast<size_t>(n), MSG_NOSIGNAL);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(w);
}
int SocketRead(BIO* bio, char* data, int n) {
  BIO_clear_retry_flags(bio);
  const ssize_t r = ::recv(WireOf(bio)->fd, data, static_cast<size_t>(n), 0);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(r);
}
long SocketCtrl(BIO* /*bio*/, int cmd, long /*num*/, void* /*ptr*/) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // the queue is sent by TlsSession::Flush
}
int SocketCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* SocketMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "sluice socket");
    if (m == nullptr) return m;
    BIO_meth_set_write(m, SocketWrite);
    BIO_meth_set_read(m, SocketRead);
    BIO_meth_set_ctrl(m, SocketCtrl);
    BIO_meth_set_create(m, SocketCreate);
    return m;
  }();
  return method;
}

// Attaches `wire` (its socket) to `ssl` for reading and writing (the socket stays the caller's
// to close; `wire` must outlive `ssl`).
bool SetSocket(SSL* ssl, TlsWire* wire) {
  const BIO_METHOD* method = SocketMethod();
  if (method == nullptr) return false;
  BIO* bio = BIO_new(method);
  if (bio == nullptr) return false;
  BIO_set_data(bio, wire);
  SSL_set_bio(ssl, bio, bio);  // the SSL owns the one reference
  return true;
}

}  // namespace

base::Result<ClientAuth> ParseClientAuth(std::string_view text) {
  if (text == "none") return ClientAuth::kNone;
  if (text == "requested") return ClientAuth::kRequested;
  if (text == "required") return ClientAuth::kRequired;
  return MakeError(ErrorCode::kInvalidArgument, "ssl.client.auth '" + std::string(text) +
                                                    "' is not one of none, requested, required");
}

std::string_view ClientAuthName(ClientAuth auth) {
  switch (auth) {
    case ClientAuth::kNone:
      return "none";
    case ClientAuth::kRequested:
      return "requested";
    case ClientAuth::kRequired:
      return "required";
  }
  return "?";
}

// --- TlsContext ---------------------------------------------------------------------------------

struct TlsContext::Ctx {
  SSL_CTX* ctx = nullptr;
  ~Ctx() { SSL_CTX_free(ctx); }
};

TlsContext::TlsContext(std::unique_ptr<Ctx> ctx, std::string subject)
    : ctx_(std::move(ctx)), subject_(std::move(subject)) {}
TlsContext::~TlsContext() = default;

namespace {

// What one recv may bring into OpenSSL's read buffer (read-ahead): 4 records of 16 KiB and their
// headers, so that a large request arrives in a quarter as many system calls.
constexpr size_t kReadAheadBytes = 4 * (16 << 10) + 4 * 512;

// Settings both sides share: TLS 1.2 at least; a write may report a part (one record or more) and
// be retried from another address. OpenSSL's read and write buffers (about 100 KiB a busy
// connection, with the read-ahead below) are kept while the connection is busy rather than freed
// after each record (SSL_MODE_RELEASE_BUFFERS would free and allocate them once a record), and
// freed when it goes idle (TlsSession::Read at the end of what the socket had): an idle
// connection holds only the SSL state.
void CommonSettings(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A peer that closes the socket without close_notify has closed (Kafka clients do that); with
  // record lengths and MACs, a truncated record is still an error.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  // Read records' headers and bodies (and what follows, up to kReadAheadBytes) in one recv
  // instead of two a record. Bytes read ahead are not in SSL_pending; a reader that goes on until
  // SSL_ERROR_WANT_READ (net/server.cc does) has processed them all.
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, kReadAheadBytes);
  // AES-128-GCM first: the cheapest of the secure suites here (AES-NI: about 3.8 GB/s against
  // AES-256-GCM's 3.5 and ChaCha20-Poly1305's 2.2 on this project's test machine, `openssl speed
  // -evp`). With SSL_OP_CIPHER_SERVER_PREFERENCE (servers) it is what clients that offer it get.
  SSL_CTX_set_ciphersuites(
      ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DEFAULT");
}

base::Status LoadCertificateAndKey(SSL_CTX* ctx, const std::string& cert_file,
                                   const std::string& key_file, const std::string& password) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "certificate file " + cert_file + ": " + DrainErrors());
  }
  EVP_PKEY* key = ReadKey(key_file, password);
  if (key == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "key file " + key_file + ": " + DrainErrors() +
                         (password.empty() ? " (encrypted? give its password)" : ""));
  }
  const int used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "key file " + key_file + " does not match certificate " + cert_file + ": " + DrainErrors());
  }
  return {};
}

}  // namespace

base::Result<std::shared_ptr<const TlsContext>> TlsContext::CreateServer(
    const TlsOptions& options) {
  ERR_clear_error();
  if (options.certificate_file.empty() || options.key_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a TLS listener needs a certificate and a key (--ssl-certificate-file, "
                     "--ssl-key-file)");
  }
  if (options.client_auth != ClientAuth::kNone && options.ca_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "ssl.client.auth=" + std::string(ClientAuthName(options.client_auth)) +
                         " needs the CAs that sign client certificates (--ssl-ca-file)");
  }
  auto ctx = std::make_unique<Ctx>();
  ctx->ctx = SSL_CTX_new(TLS_server_method());
  if (ctx->ctx == nullptr) return MakeError(ErrorCode::kIoError, "SSL_CTX_new: " + DrainErrors());
  CommonSettings(ctx->ctx);
  SSL_CTX_set_options(ctx->ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  RETURN_IF_ERROR(LoadCertificateAndKey(ctx->ctx, options.certificate_file, options.key_file,
                                        options.key_password));
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx->ctx, options.ca_file.c_str(), nullptr) != 1) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "CA file " + options.ca_file + ": " + DrainErrors());
    }
    // The CAs the server names in its certificate request, so a client picks a matching cert.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx->ctx, names);
  }
  int verify = SSL_VERIFY_NONE;
  if (options.client_auth == ClientAuth::kRequested) verify = SSL_VERIFY_PEER;
  if (options.client_auth == ClientAuth::kRequired) {
    verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(ctx->ctx, verify, nullptr);
  // Resumed sessions keep their verified client certificate; OpenSSL refuses to resume without an
  // id context when it verifies peers.
  static const unsigned char kSessionContext[] = "sluice";
  SSL_CTX_set_session_id_context(ctx->ctx, kSessionContext, sizeof kSessionContext - 1);

  std::string subject;
  if (X509* cert = SSL_CTX_get0_certificate(ctx->ctx)) {
    subject = NameRfc2253(X509_get_subject_name(cert));
  }
  return std::shared_ptr<const TlsContext>(new TlsContext(std::move(ctx), std::move(subject)));
}

base::Result<std::shared_ptr<const TlsContext>> TlsContext::CreateClient(
    const TlsClientOptions& options) {
  ERR_clear_error();
  auto ctx = std::make_unique<Ctx>();
  ctx->ctx = SSL_CTX_new(TLS_client_method());
  if (ctx->ctx == nullptr) return MakeError(ErrorCode::kIoError, "SSL_CTX_new: " + DrainErrors());
  CommonSettings(ctx->ctx);
  if (!options.ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx->ctx, options.ca_file.c_str(), nullptr) != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "CA file " + options.ca_file + ": " + DrainErrors());
  }
  SSL_CTX_set_verify(ctx->ctx, SSL_VERIFY_PEER, nullptr);
  std::string subject;
  if (!options.certificate_file.empty()) {
    RETURN_IF_ERROR(
        LoadCertificateAndKey(ctx->ctx, options.certificate_file, options.key_file, ""));
    if (X509* cert = SSL_CTX_get0_certificate(ctx->ctx)) {
      subject = NameRfc2253(X509_get_subject_name(cert));
    }
  }
  return std::shared_ptr<const TlsContext>(new TlsContext(std::move(ctx), std::move(subject)));
}

// --- TlsSession ---------------------------------------------------------------------------------

struct TlsSession::Ssl {
  SSL* ssl = nullptr;
  TlsWire wire;  // outlives `ssl`, whose BIO points to it
  ~Ssl() { SSL_free(ssl); }
};

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context, std::unique_ptr<Ssl> ssl)
    : context_(std::move(context)), ssl_(std::move(ssl)) {}
TlsSession::~TlsSession() = default;

base::Result<std::unique_ptr<TlsSession>> TlsSession::Accept(
    std::shared_ptr<const TlsContext> context, int fd) {
  ERR_clear_error();
  auto ssl = std::make_unique<Ssl>();
  ssl->ssl = SSL_new(context->ctx_->ctx);
  ssl->wire.fd = fd;
  if (ssl->ssl == nullptr || !SetSocket(ssl->ssl, &ssl->wire)) {
    return MakeError(ErrorCode::kIoError, "SSL_new: " + DrainErrors());
  }
  SSL_set_accept_state(ssl->ssl);
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(context), std::move(ssl)));
}

base::Result<std::unique_ptr<TlsSession>> TlsSession::Connect(
    std::shared_ptr<const TlsContext> context, int fd, const std::string& server_name) {
  ERR_clear_error();
  auto ssl = std::make_unique<Ssl>();
  ssl->ssl = SSL_new(context->ctx_->ctx);
  ssl->wire.fd = fd;
  if (ssl->ssl == nullptr || !SetSocket(ssl->ssl, &ssl->wire)) {
    return MakeError(ErrorCode::kIoError, "SSL_new: " + DrainErrors());
  }
  // The server's certificate must name `server_name` (an IP address or a DNS name).
  if (X509_VERIFY_PARAM* param = SSL_get0_param(ssl->ssl)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str()) != 1) {
      ERR_clear_error();
      X509_VERIFY_PARAM_set1_host(param, server_name.c_str(), 0);
      // SSL_set_tlsext_host_name, without the macro's C cast.
      SSL_ctrl(ssl->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(server_name.c_str()));
    }
  }
  SSL_set_connect_state(ssl->ssl);
  return std::unique_ptr<TlsSession>(new TlsSession(std::move(context), std::move(ssl)));
}

TlsSession::IoResult TlsSession::ToIoResult(int rc, size_t bytes) {
  if (rc > 0) return {Status::kOk, bytes, {}};
  const int err = SSL_get_error(ssl_->ssl, rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return {Status::kWantRead, 0, {}};
    case SSL_ERROR_WANT_WRITE:
      return {Status::kWantWrite, 0, {}};
    case SSL_ERROR_ZERO_RETURN:
      return {Status::kClosed, 0, {}};
    case SSL_ERROR_SYSCALL: {
      const int sys = errno;
      std::string why = ERR_peek_error() != 0 ? DrainErrors()
                        : sys != 0            ? std::string(std::strerror(sys))
                                              : std::string("connection closed");
      if (ERR_peek_error() == 0 && sys == 0) return {Status::kClosed, 0, {}};
      return {Status::kError, 0, why};
    }
    default: {
      std::string why = DrainErrors();
      const long verify = SSL_get_verify_result(ssl_->ssl);
      if (verify != X509_V_OK) {
        why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      }
      return {Status::kError, 0, why};
    }
  }
}

TlsSession::IoResult TlsSession::Handshake() {
  ERR_clear_error();
  errno = 0;  // SSL_ERROR_SYSCALL reads it
  const int rc = SSL_do_handshake(ssl_->ssl);
  return ToIoResult(rc, 0);
}

TlsSession::IoResult TlsSession::Read(char* dst, size_t n) {
  ERR_clear_error();
  errno = 0;
  size_t got = 0;
  const int rc = SSL_read_ex(ssl_->ssl, dst, n, &got);
  IoResult r = ToIoResult(rc, got);
  if (r.status == Status::kWantRead) ReleaseIdleBuffers();
  return r;
}

TlsSession::IoResult TlsSession::Write(const char* src, size_t n) {
  ERR_clear_error();
  errno = 0;
  size_t put = 0;
  const int rc = SSL_write_ex(ssl_->ssl, src, n, &put);
  return ToIoResult(rc, put);
}

TlsSession::IoResult TlsSession::Queue(const char* src, size_t n) {
  ERR_clear_error();
  errno = 0;
  size_t put = 0;
  ssl_->wire.queueing = true;
  const int rc = SSL_write_ex(ssl_->ssl, src, n, &put);
  ssl_->wire.queueing = false;
  return ToIoResult(rc, put);
}

TlsSession::IoResult TlsSession::Flush() {
  if (ssl_->wire.Drain()) return {Status::kOk, 0, {}};
  if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::kWantWrite, 0, {}};
  return {Status::kError, 0, std::string("send failed: ") + std::strerror(errno)};
}

size_t TlsSession::queued_bytes() const { return ssl_->wire.queued_bytes(); }

void TlsSession::ReleaseIdleBuffers() {
  // Nothing waits to be sent and no record is half read: the buffers hold nothing (OpenSSL's
  // SSL_free_buffers refuses otherwise).
  if (ssl_->wire.queued_bytes() > 0) return;
  std::string().swap(ssl_->wire.queued);
  (void)SSL_free_buffers(ssl_->ssl);
}

bool TlsSession::HasBufferedData() const { return SSL_pending(ssl_->ssl) > 0; }

void TlsSession::Shutdown() {
  ERR_clear_error();
  if (SSL_is_init_finished(ssl_->ssl)) SSL_shutdown(ssl_->ssl);
  ERR_clear_error();
}

std::string TlsSession::PeerPrincipal() const {
  X509* cert = SSL_get0_peer_certificate(ssl_->ssl);
  if (cert == nullptr) return "User:ANONYMOUS";
  return "User:" + NameRfc2253(X509_get_subject_name(cert));
}

std::string TlsSession::Protocol() const { return SSL_get_version(ssl_->ssl); }

std::string TlsSession::Cipher() const {
  const char* name = SSL_get_cipher_name(ssl_->ssl);
  return name != nullptr ? name : "";
}

}  // namespace sluice::net
