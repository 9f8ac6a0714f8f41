#include "tests/support/loopback_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "segment/base/coding.h"

namespace sluice::testing {

LoopbackSocket::LoopbackSocket(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  timeval tv{20, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

LoopbackSocket::~LoopbackSocket() { ::close(fd_); }

bool LoopbackSocket::SendAll(const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd_, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool LoopbackSocket::RecvAll(char* out, size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd_, out, n, 0);
    if (r <= 0) return false;
    out += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool LoopbackSocket::SendFrame(const std::string& frame) {
  std::string out(4, '\0');
  base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(out.data()),
                         static_cast<int32_t>(frame.size()));
  out += frame;
  return SendAll(out);
}

std::optional<std::string> LoopbackSocket::ReadFrame() {
  char prefix[4];
  if (!RecvAll(prefix, sizeof prefix)) return std::nullopt;
  const auto size = base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(prefix));
  if (size < 0) return std::nullopt;
  std::string frame(static_cast<size_t>(size), '\0');
  if (!RecvAll(frame.data(), frame.size())) return std::nullopt;
  return frame;
}

bool LoopbackSocket::ClosedByServer() {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

}  // namespace sluice::testing
