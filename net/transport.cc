#include "net/transport.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "net/session.h"

namespace sluice::net {

namespace {

using Status = Transport::Status;
using IoResult = Transport::IoResult;

// The client closed its end (a reset, or a write after it closed): it went away, as a read of
// the end of the stream says, not a socket error.
bool PeerLeft(int err) { return err == ECONNRESET || err == EPIPE; }

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
      if (PeerLeft(errno)) return {Status::kClosed, 0, {}};
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
      if (PeerLeft(errno)) return {Status::kClosed, 0, {}};
      return {Status::kError, 0, std::string("send failed: ") + std::strerror(errno)};
    }
  }

  bool HasBufferedData() const override { return false; }
  void Shutdown() override {}
  std::string PeerPrincipal() const override { return kAnonymousPrincipal; }

 private:
  const int fd_;
};

// TLS on a socket. Writes: the bytes of one call are encrypted into records of 16 KiB (a piece of
// at least a record's worth is encrypted from where it lies; smaller pieces, such as the response
// header and small responses, are gathered into the caller's staging buffer so that they share a
// record), up to kBatchBytes, queued in the session and sent with one system call, where one send
// a record would cost a system call per 16 KiB. Bytes are reported written once their records are
// all with the kernel; until then the call says kWantWrite, and the retry (with the same bytes)
// sends the rest of the queue and reports them.
class TlsTransport final : public Transport {
 public:
  // Plaintext encrypted and sent per call, at most: 2 records. Small enough that the client
  // decrypts the first records of a large Fetch response while the rest are being encrypted:
  // against 8 records, TLS consume ran 1.21x [0.92, 1.64] faster over 5 rounds and produce the
  // same (bench/tls_bench.sh with OLD_BUILD; bench/RESULTS.md).
  static constexpr size_t kBatchBytes = 32 << 10;

  explicit TlsTransport(std::unique_ptr<TlsSession> session) : session_(std::move(session)) {}

  IoResult Handshake() override { return Check(session_->Handshake()); }
  IoResult Read(char* dst, size_t n) override { return Check(session_->Read(dst, n)); }

  IoResult Write(std::span<const iovec> iov, char* staging) override {
    if (queued_plain_ > 0) {  // an earlier call's records: report them once they are sent
      const IoResult r = Check(session_->Flush());
      if (r.status != Status::kOk) return r;
      return {Status::kOk, std::exchange(queued_plain_, 0), {}};
    }
    size_t done = 0;  // bytes of `iov` encrypted into the queue
    size_t i = 0;     // iov[i] from byte `at`
    size_t at = 0;
    while (i < iov.size() && done < kBatchBytes) {
      const char* piece = static_cast<const char*>(iov[i].iov_base) + at;
      const size_t left = iov[i].iov_len - at;
      if (left == 0) {  // an empty piece
        ++i;
        at = 0;
        continue;
      }
      IoResult r;
      if (left >= kStagingBytes) {
        r = session_->Queue(piece, kStagingBytes);
      } else {
        size_t n = 0;
        for (size_t j = i, from = at; j < iov.size() && n < kStagingBytes; ++j, from = 0) {
          const size_t take = std::min(iov[j].iov_len - from, kStagingBytes - n);
          std::memcpy(staging + n, static_cast<const char*>(iov[j].iov_base) + from, take);
          n += take;
        }
        r = session_->Queue(staging, n);
      }
      if (r.status != Status::kOk) {
        if (done == 0) return Check(r);
        break;  // send what is queued; the next call meets the same answer
      }
      done += r.bytes;
      for (size_t moved = r.bytes; moved > 0 && i < iov.size();) {
        const size_t step = std::min(moved, iov[i].iov_len - at);
        at += step;
        moved -= step;
        if (at == iov[i].iov_len) {
          ++i;
          at = 0;
        }
      }
    }
    const IoResult r = Check(session_->Flush());
    if (r.status == Status::kOk) return {Status::kOk, done, {}};
    if (r.status == Status::kWantWrite) queued_plain_ = done;
    return r;
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
  // Bytes of the caller's that are encrypted and queued but not yet all sent (after kWantWrite).
  size_t queued_plain_ = 0;
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
