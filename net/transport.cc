#include "net/transport.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "net/session.h"

namespace sluice::net {

namespace {

using Status = Transport::Status;
using IoResult = Transport::IoResult;

class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd) : fd_(fd) {}

  IoResult Handshake() override { return {Status::kOk, 0, {}}; }

  IoResult Read(char* dst, size_t n) override {
    for (;;) {
      const ssize_t got = ::recv(fd_, dst, n, 0);
      if (got > 0) return {Status::kOk, static_cast<size_t>(got), {}};
      if (got == 0) return {Status::kClosed, 0, {}};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::kWantRead, 0, {}};
      return {Status::kError, 0, std::strerror(errno)};
    }
  }

  IoResult Write(std::span<const iovec> iov, char* /*staging*/) override {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = std::min<size_t>(iov.size(), IOV_MAX);
    for (;;) {
      const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n >= 0) return {Status::kOk, static_cast<size_t>(n), {}};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::kWantWrite, 0, {}};
      return {Status::kError, 0, std::string("send failed: ") + std::strerror(errno)};
    }
  }

  bool HasBufferedData() const override { return false; }
  void Shutdown() override {}
  std::string PeerPrincipal() const override { return kAnonymousPrincipal; }

 private:
  const int fd_;
};

// TLS on a socket. Writes: a piece of at least a record's worth (16 KiB) is encrypted from where it
// lies; smaller pieces (the response header, small responses) are gathered into the caller's
// staging buffer so that they share a record. Which bytes one call passes depends only on `iov`,
// so the retry OpenSSL requires after kWantWrite passes the same bytes.
class TlsTransport final : public Transport {
 public:
  explicit TlsTransport(std::unique_ptr<TlsSession> session) : session_(std::move(session)) {}

  IoResult Handshake() override { return Check(session_->Handshake()); }
  IoResult Read(char* dst, size_t n) override { return Check(session_->Read(dst, n)); }

  IoResult Write(std::span<const iovec> iov, char* staging) override {
    if (iov.empty()) return {Status::kOk, 0, {}};
    if (iov[0].iov_len >= kStagingBytes) {
      return Check(session_->Write(static_cast<const char*>(iov[0].iov_base), iov[0].iov_len));
    }
    size_t n = 0;
    for (const iovec& v : iov) {
      const size_t take = std::min(v.iov_len, kStagingBytes - n);
      std::memcpy(staging + n, v.iov_base, take);
      n += take;
      if (n == kStagingBytes) break;
    }
    return Check(session_->Write(staging, n));
  }

  bool HasBufferedData() const override { return session_->HasBufferedData(); }
  void Shutdown() override {
    // After a fatal error OpenSSL must not be asked to send anything more.
    if (!failed_) session_->Shutdown();
  }
  std::string PeerPrincipal() const override { return session_->PeerPrincipal(); }

 private:
  IoResult Check(IoResult r) {
    if (r.status == Status::kError) failed_ = true;
    return r;
  }

  std::unique_ptr<TlsSession> session_;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<Transport> MakePlainTransport(int fd) {
  return std::make_unique<PlainTransport>(fd);
}

base::Result<std::unique_ptr<Transport>> MakeTlsServerTransport(
    std::shared_ptr<const TlsContext> context, int fd) {
  auto session = TlsSession::Accept(std::move(context), fd);
  if (!session) return session.error();
  return std::unique_ptr<Transport>(std::make_unique<TlsTransport>(std::move(*session)));
}

}  // namespace sluice::net
