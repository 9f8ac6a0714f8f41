#pragma once

// Transport: how one connection's bytes cross its socket — in clear (recv/sendmsg) or through TLS
// (net/tls.h). The server's Connection (net/server.cc) reads and writes only through it, so the
// TLS cases (a handshake first, a read that must wait for the socket to be writable and the other
// way round, close_notify) live here and not in the connection's logic.
//
// Thread-safety: one thread at a time (the connection's event loop). The transport borrows the
// socket: its owner closes it after the transport is gone or done.

#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "net/tls.h"
#include "segment/base/result.h"

namespace sluice::net {

class Transport {
 public:
  using Status = TlsSession::Status;
  using IoResult = TlsSession::IoResult;

  // Scratch that Write may use to gather small pieces into one TLS record: at least this many
  // bytes.
  static constexpr size_t kStagingBytes = 16 << 10;

  virtual ~Transport() = default;

  // One step of the handshake; kOk when the connection is ready for requests (at once in clear).
  virtual IoResult Handshake() = 0;
  // Reads up to `n` bytes into `dst`: kOk with bytes > 0, kClosed at the end of the stream (or, in
  // clear, when the client reset the connection).
  virtual IoResult Read(char* dst, size_t n) = 0;
  // Writes a prefix of `iov` (the bytes still to send, in order; at least one byte). `staging`
  // (kStagingBytes) is the caller's scratch, free for this call only. After kWantRead/kWantWrite,
  // the next call must pass the same bytes. kClosed: in clear, the client closed or reset its end.
  virtual IoResult Write(std::span<const iovec> iov, char* staging) = 0;
  // Received bytes held inside the transport, which the socket will not signal again.
  virtual bool HasBufferedData() const = 0;
  // Says goodbye if the protocol has a way to (TLS close_notify), without blocking.
  virtual void Shutdown() = 0;
  // The principal the transport proves ("User:ANONYMOUS" in clear or without a client certificate).
  virtual std::string PeerPrincipal() const = 0;
};

// Plain TCP on `fd`.
std::unique_ptr<Transport> MakePlainTransport(int fd);
// TLS, server side, on `fd` with `context`.
base::Result<std::unique_ptr<Transport>> MakeTlsServerTransport(
    std::shared_ptr<const TlsContext> context, int fd);

}  // namespace sluice::net
