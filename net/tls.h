#pragma once

// TLS for listeners (and for test clients): the one wrapper around OpenSSL's libssl. Nothing else
// in sluice includes an OpenSSL header.
//
// A TlsContext is an SSL_CTX built from PEM files (certificate chain, private key, optionally a CA
// file for client certificates) with TLS 1.2 as the minimum. It is immutable once built and shared
// (shared_ptr<const TlsContext>): reloading certificates builds a new context, which new
// connections get, while existing connections keep the one they started with.
//
// A TlsSession is one connection's TLS state (an SSL) on a non-blocking socket it does not own.
// Its calls say what they are waiting for (the socket readable or writable), whichever direction
// the call was: a read can need to write (a TLS 1.3 key update) and a write can need to read.
//
// Thread-safety: a TlsContext may be used from any thread (OpenSSL's SSL_CTX is safe to share for
// SSL_new once configured). A TlsSession is used by one thread at a time (its connection's loop).
// OpenSSL's error queue is per thread; each call here clears it before and drains it after.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "segment/base/result.h"

namespace sluice::net {

// ssl.client.auth, Kafka's names and values.
enum class ClientAuth { kNone, kRequested, kRequired };
// "none", "requested", "required".
base::Result<ClientAuth> ParseClientAuth(std::string_view text);
std::string_view ClientAuthName(ClientAuth auth);

// Where a server's TLS material comes from (Kafka's ssl.* names, for PEM files).
struct TlsOptions {
  std::string certificate_file;  // PEM: the server's certificate, then its chain
  std::string key_file;          // PEM: its private key, encrypted if key_password is set
  std::string key_password;      // ssl.key.password ("" = the key is not encrypted)
  std::string ca_file;           // PEM: CAs that sign client certificates (needed for mTLS)
  ClientAuth client_auth = ClientAuth::kNone;
};

// What a client (tests, benchmarks) trusts and shows.
struct TlsClientOptions {
  std::string ca_file;           // PEM: CAs that sign the server's certificate
  std::string certificate_file;  // PEM: the client's certificate ("" = none)
  std::string key_file;          // PEM: its private key
};

class TlsContext {
 public:
  // Reads and checks the files (the key matches the certificate; a CA file when client
  // certificates are asked for). Errors name the file and OpenSSL's reason.
  static base::Result<std::shared_ptr<const TlsContext>> CreateServer(const TlsOptions& options);
  static base::Result<std::shared_ptr<const TlsContext>> CreateClient(
      const TlsClientOptions& options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The certificate's subject, RFC 2253 ("CN=broker,O=acme"), for logs.
  const std::string& subject() const { return subject_; }

 private:
  friend class TlsSession;
  struct Ctx;
  explicit TlsContext(std::unique_ptr<Ctx> ctx, std::string subject);
  std::unique_ptr<Ctx> ctx_;
  std::string subject_;
};

class TlsSession {
 public:
  enum class Status {
    kOk,         // done (for Read and Write: `bytes` moved, at least one)
    kWantRead,   // call again when the socket is readable
    kWantWrite,  // call again when the socket is writable
    kClosed,     // the peer closed (close_notify, or the end of the stream)
    kError,      // failed: see `error`; the session is unusable
  };
  struct IoResult {
    Status status = Status::kOk;
    size_t bytes = 0;
    std::string error;  // for kError: OpenSSL's reason, with the certificate check's if any
  };

  // A server-side (accepting) or client-side (connecting) session on `fd`, which must outlive it.
  // `context` is kept alive by the session.
  static base::Result<std::unique_ptr<TlsSession>> Accept(std::shared_ptr<const TlsContext> context,
                                                          int fd);
  static base::Result<std::unique_ptr<TlsSession>> Connect(
      std::shared_ptr<const TlsContext> context, int fd, const std::string& server_name);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // One step of the handshake; kOk once it is done.
  IoResult Handshake();
  // Decrypts up to `n` bytes into `dst` (at most a record's, 16 KiB). At the end of what the
  // socket had (kWantRead) with nothing queued or half received, the session frees its buffers
  // (OpenSSL's read and write buffers, the queue below) until the connection is busy again.
  IoResult Read(char* dst, size_t n);
  // Encrypts and sends up to `n` bytes (whole records; kOk may report fewer than `n`). After
  // kWantRead/kWantWrite the next call must pass the same bytes (the address may differ).
  IoResult Write(const char* src, size_t n);
  // Encrypts up to one record of `src` (16 KiB) and queues it instead of sending it (it never waits
  // for the socket); Flush sends the queue, so that many records leave in one system call. kOk
  // with the bytes taken, or kError (kWantRead only if the protocol needed the peer first).
  IoResult Queue(const char* src, size_t n);
  // Sends the queued records: kOk once all are with the kernel, kWantWrite when the socket is full
  // (call again when it is writable), kError. Write, Handshake and Shutdown send after the queue.
  IoResult Flush();
  // Encrypted bytes queued and not yet sent.
  size_t queued_bytes() const;
  // Decrypted bytes OpenSSL holds that the socket will not signal again.
  bool HasBufferedData() const;
  // Sends close_notify if it can without blocking (a courtesy before closing the socket).
  void Shutdown();

  // Kafka's default principal for the peer: "User:" + the certificate subject in RFC 2253 form
  // (as Java's X500Principal.getName()), or "User:ANONYMOUS" without a certificate.
  std::string PeerPrincipal() const;
  // "TLSv1.3", "TLS_AES_256_GCM_SHA384".
  std::string Protocol() const;
  std::string Cipher() const;

 private:
  struct Ssl;
  TlsSession(std::shared_ptr<const TlsContext> context, std::unique_ptr<Ssl> ssl);
  IoResult ToIoResult(int rc, size_t bytes);
  void ReleaseIdleBuffers();

  std::shared_ptr<const TlsContext> context_;
  std::unique_ptr<Ssl> ssl_;
};

}  // namespace sluice::net
