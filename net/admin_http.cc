#include "net/admin_http.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>

#include "segment/base/log.h"

namespace sluice::net {

using base::ErrorCode;
using base::MakeError;

namespace {

bool IsTokenChar(char c) {  // RFC 9110 tchar
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

}  // namespace

base::Result<std::optional<HttpRequest>> ParseHttpRequest(std::string_view data, size_t max_bytes) {
  // The head ends at the first empty line (CRLF CRLF, or LF LF from a lenient client).
  size_t end = std::string_view::npos;
  size_t body = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != '\n') continue;
    if (i + 1 < data.size() && data[i + 1] == '\n') {
      end = i + 1;
      body = i + 2;
      break;
    }
    if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') {
      end = i + 1;
      body = i + 3;
      break;
    }
  }
  if (end == std::string_view::npos) {
    if (data.size() > max_bytes) {
      return MakeError(ErrorCode::kTooLarge,
                       "request head longer than " + std::to_string(max_bytes) + " bytes");
    }
    return std::optional<HttpRequest>();
  }
  if (body > max_bytes) {
    return MakeError(ErrorCode::kTooLarge,
                     "request head longer than " + std::to_string(max_bytes) + " bytes");
  }
  auto bad = [](std::string why) { return MakeError(ErrorCode::kInvalidArgument, std::move(why)); };
  std::string_view head = data.substr(0, end);
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return bad("control character in the request");
    }
    lines.push_back(line);
    head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
  }
  if (lines.empty()) return bad("empty request");

  // Request line: METHOD SP target SP HTTP/1.x, single spaces.
  HttpRequest req;
  const std::string_view rl = lines[0];
  const size_t sp1 = rl.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos) {
    return bad("request line is not METHOD TARGET VERSION");
  }
  req.method = rl.substr(0, sp1);
  req.target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  req.version = rl.substr(sp2 + 1);
  if (req.method.empty() || req.method.size() > 16) return bad("bad method");
  for (char c : req.method) {
    if (!IsTokenChar(c)) return bad("bad method");
  }
  if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") {
    return bad("unsupported HTTP version '" + req.version + "'");
  }
  if (req.target.empty() || req.target[0] != '/') return bad("the target must start with /");
  for (char c : req.target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return bad("bad character in the target");
  }
  const size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);

  constexpr size_t kMaxHeaders = 64;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.empty()) continue;  // the final CR of a CRLF CRLF ending
    if (line[0] == ' ' || line[0] == '\t') return bad("folded header lines are not accepted");
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad("header line without a name");
    for (char c : line.substr(0, colon)) {
      if (!IsTokenChar(c)) return bad("bad character in a header name");
    }
    if (req.headers.size() == kMaxHeaders) return bad("more than 64 header lines");
    req.headers.emplace_back(Lower(line.substr(0, colon)),
                             std::string(Trim(line.substr(colon + 1))));
    const auto& [name, value] = req.headers.back();
    if (name == "transfer-encoding" || (name == "content-length" && value != "0")) {
      return bad("a request body is not accepted");
    }
  }
  return std::optional<HttpRequest>(std::move(req));
}

std::string SerializeHttpResponse(const HttpResponse& response, std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + Reason(response.status) +
                    "\r\nContent-Type: " + response.content_type +
                    "\r\nContent-Length: " + std::to_string(response.body.size()) +
                    "\r\nConnection: close\r\n";
  out += extra_headers;
  out += "\r\n";
  out += response.body;
  return out;
}

// --- the server -------------------------------------------------------------------------------

struct AdminHttpServer::Conn {
  enum class State { kReading, kWriting, kLingering };
  int fd = -1;
  State state = State::kReading;
  std::string in;
  std::string out;
  size_t written = 0;
  std::chrono::steady_clock::time_point deadline;
};

AdminHttpServer::AdminHttpServer(AdminHttpOptions options, HttpHandlerFn handler, HttpTickFn tick)
    : options_(std::move(options)), handler_(std::move(handler)), tick_(std::move(tick)) {}

base::Result<std::unique_ptr<AdminHttpServer>> AdminHttpServer::Start(AdminHttpOptions options,
                                                                      HttpHandlerFn handler,
                                                                      HttpTickFn tick) {
  if (tick && options.tick_interval_ms <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "the admin tick interval must be positive");
  }
  std::unique_ptr<AdminHttpServer> server(
      new AdminHttpServer(std::move(options), std::move(handler), std::move(tick)));
  const std::string where = server->options_.host + ":" + std::to_string(server->options_.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(server->options_.port);
  if (int rc = ::getaddrinfo(server->options_.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "cannot resolve admin listener " + where + ": " + ::gai_strerror(rc));
  }
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return base::ErrnoError(errno, "socket", where);
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
    const int err = errno;
    ::freeaddrinfo(res);
    ::close(fd);
    return base::ErrnoError(err, "admin listen on", where);
  }
  ::freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  server->port_ =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  server->listen_fd_ = fd;
  server->stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (server->stop_fd_ < 0) {
    const int err = errno;
    ::close(fd);
    return base::ErrnoError(err, "eventfd", "the admin listener");
  }
  AdminHttpServer* self = server.get();
  server->thread_ = std::thread([self] { self->Run(); });
  return server;
}

AdminHttpServer::~AdminHttpServer() { Stop(); }

void AdminHttpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (::write(stop_fd_, &one, sizeof one) < 0) {
      // An eventfd write fails only on overflow, which a single write cannot cause.
    }
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
}

void AdminHttpServer::Run() {
  using Clock = std::chrono::steady_clock;
  // Once a response is written the connection is shut for writing and read until the client
  // closes (within this), so that a request still arriving does not turn into a reset that
  // destroys the response before the client reads it.
  constexpr auto kLinger = std::chrono::seconds(2);
  const auto timeout = std::chrono::milliseconds(options_.request_timeout_ms);
  std::list<Conn> conns;
  std::vector<pollfd> fds;
  std::vector<Conn*> polled;
  char buf[4096];
  const auto tick_interval = std::chrono::milliseconds(options_.tick_interval_ms);
  auto next_tick = Clock::now();

  auto respond = [&](Conn& c, const HttpResponse& r, std::string_view extra = "") {
    c.out = SerializeHttpResponse(r, extra);
    c.written = 0;
    c.state = Conn::State::kWriting;
    c.deadline = Clock::now() + timeout;
  };
  auto on_readable = [&](Conn& c) -> bool {  // false: close it
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n == 0) return c.state == Conn::State::kWriting;  // half-closed: still answer
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      if (c.state != Conn::State::kReading) continue;  // discarded
      c.in.append(buf, static_cast<size_t>(n));
      auto parsed = ParseHttpRequest(c.in, options_.max_request_bytes);
      if (!parsed) {
        respond(c, {400, "text/plain; charset=utf-8", parsed.error().context + "\n"});
        return true;
      }
      if (!*parsed) continue;
      const HttpRequest& req = **parsed;
      if (req.method != "GET") {
        respond(c, {405, "text/plain; charset=utf-8", "only GET is served\n"}, "Allow: GET\r\n");
      } else {
        respond(c, handler_(req));
      }
      return true;
    }
  };
  auto on_writable = [&](Conn& c) -> bool {
    while (c.written < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      c.written += static_cast<size_t>(n);
    }
    ::shutdown(c.fd, SHUT_WR);
    c.state = Conn::State::kLingering;
    c.out.clear();
    c.in.clear();
    c.deadline = Clock::now() + kLinger;
    return true;
  };

  for (;;) {
    if (tick_ && Clock::now() >= next_tick) {
      tick_();
      next_tick += tick_interval;
      if (next_tick <= Clock::now()) next_tick = Clock::now() + tick_interval;
    }
    fds.clear();
    polled.clear();
    fds.push_back({stop_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    auto next_deadline = Clock::now() + std::chrono::seconds(60);
    if (tick_) next_deadline = std::min(next_deadline, next_tick);
    for (Conn& c : conns) {
      const short events = c.state == Conn::State::kWriting ? POLLOUT : POLLIN;
      fds.push_back({c.fd, events, 0});
      polled.push_back(&c);
      next_deadline = std::min(next_deadline, c.deadline);
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_deadline - Clock::now());
    const int rc =
        ::poll(fds.data(), fds.size(),
               static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(wait.count(), 60'000))));
    if (rc < 0 && errno != EINTR) {
      base::LogError(std::string("admin: poll: ") + std::strerror(errno));
      break;
    }
    if (fds[0].revents != 0) break;
    std::vector<Conn*> doomed;
    for (size_t i = 0; i < polled.size(); ++i) {
      Conn& c = *polled[i];
      const short re = fds[i + 2].revents;
      bool keep = true;
      if (re & (POLLERR | POLLNVAL)) {
        keep = false;
      } else if (c.state == Conn::State::kWriting) {
        if (re & (POLLOUT | POLLHUP)) keep = on_writable(c);
      } else if (re & (POLLIN | POLLHUP)) {
        const bool lingering = c.state == Conn::State::kLingering;
        keep = on_readable(c) && !(lingering && (re & POLLHUP));
        // A lingering connection whose client closed: recv returned 0 above.
        if (keep && c.state == Conn::State::kWriting) keep = on_writable(c);
      }
      if (keep && Clock::now() >= c.deadline) keep = false;  // too slow, or done lingering
      if (!keep) doomed.push_back(&c);
    }
    for (Conn* c : doomed) {
      ::close(c->fd);
      conns.remove_if([c](const Conn& x) { return &x == c; });
    }
    if (fds[1].revents & POLLIN) {
      for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        if (static_cast<int>(conns.size()) >= options_.max_connections) {
          // Best effort: the answer fits any socket buffer.
          const std::string busy = SerializeHttpResponse(
              {503, "text/plain; charset=utf-8", "too many admin connections\n"});
          if (::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL) < 0) {
            // The client is gone: nothing to tell it.
          }
          ::close(fd);
          continue;
        }
        Conn& c = conns.emplace_back();
        c.fd = fd;
        c.deadline = Clock::now() + timeout;
      }
    }
  }
  for (Conn& c : conns) ::close(c.fd);
}

}  // namespace sluice::net
