#include "net/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "segment/base/check.h"
#include "segment/base/log.h"

namespace sluice::net {

namespace {

using base::ErrorCode;
using base::MakeError;

constexpr size_t kReadChunk = 64 << 10;  // bytes asked of each recv
constexpr size_t kFrameHeader = 4;       // the int32 size prefix

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

void WakeFd(int fd) {
  const uint64_t one = 1;
  // A full eventfd counter still wakes the reader; nothing to do on failure.
  [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

void DrainFd(int fd) {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(fd, &count, sizeof count);
}

}  // namespace

// Work posted to an event loop from other threads. Outlives the loop while Responders hold it, so
// a response that completes after Stop is dropped instead of touching a dead loop.
class Inbox {
 public:
  Inbox() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    SLUICE_CHECK(fd_ >= 0, "eventfd failed");
  }
  ~Inbox() { ::close(fd_); }
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  void Post(std::function<void()> fn) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      wake = items_.empty();
      items_.push_back(std::move(fn));
    }
    if (wake) WakeFd(fd_);
  }
  std::vector<std::function<void()>> Take() {
    DrainFd(fd_);
    std::lock_guard lock(mu_);
    return std::exchange(items_, {});
  }
  void CloseInbox() {
    std::lock_guard lock(mu_);
    closed_ = true;
    items_.clear();
  }
  int fd() const { return fd_; }

 private:
  const int fd_;
  std::mutex mu_;
  std::vector<std::function<void()>> items_;
  bool closed_ = false;
};

// One client connection. Everything but the constructor runs on its loop's thread; other threads
// reach it only through Responder, which posts to the loop's Inbox.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(EventLoop& loop, std::shared_ptr<Inbox> inbox, int fd, std::string peer)
      : loop_(loop), inbox_(std::move(inbox)), fd_(fd), peer_(std::move(peer)) {}
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  void OnEvents(uint32_t events);
  void OnResponse(std::optional<OutBuffer> body, int32_t correlation_id);
  void CloseConnection(const std::string& why);

  const std::string& peer() const { return peer_; }
  Inbox& inbox() { return *inbox_; }
  bool closed() const { return fd_ < 0; }

 private:
  void ReadAvailable();
  void DispatchBuffered();
  void WritePending();
  void UpdateInterest();

  EventLoop& loop_;
  std::shared_ptr<Inbox> inbox_;
  int fd_;
  const std::string peer_;

  std::string in_;  // received bytes; [in_begin_, in_end_) not yet consumed
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  bool busy_ = false;  // a request is with a handler

  std::optional<OutBuffer> out_;  // the response being written
  char out_header_[8] = {};       // its size prefix and correlation id
  size_t out_total_ = 0;
  size_t out_sent_ = 0;
  std::vector<iovec> iov_;
  uint32_t interest_ = EPOLLIN;
};

class EventLoop {
 public:
  EventLoop(const ServerOptions& options, Server& server, const RequestHandlerFn& handler,
            std::atomic<int>& connections)
      : options_(options),
        server_(server),
        handler_(handler),
        connections_(connections),
        epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
        inbox_(std::make_shared<Inbox>()) {
    SLUICE_CHECK(epoll_fd_ >= 0, "epoll_create1 failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = inbox_->fd();
    SLUICE_CHECK(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, inbox_->fd(), &ev) == 0, "epoll_ctl");
    thread_ = std::thread([this] { Run(); });
  }
  ~EventLoop() { Stop(); }

  // Takes ownership of an accepted socket (from the accept thread).
  void Adopt(int fd, std::string peer) {
    inbox_->Post([this, fd, peer = std::move(peer)]() mutable {
      auto conn = std::make_shared<Connection>(*this, inbox_, fd, std::move(peer));
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        base::LogWarning("serve: cannot watch connection from " + conn->peer() + ": " +
                         std::strerror(errno));
        connections_.fetch_sub(1);
        return;
      }
      conns_.emplace(fd, std::move(conn));
    });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    inbox_->Post([this] { stopping_ = true; });
    thread_.join();
    inbox_->CloseInbox();
    auto conns = std::exchange(conns_, {});
    for (auto& [fd, conn] : conns) conn->CloseConnection("server stopping");
    ::close(epoll_fd_);
  }

  void SetInterest(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
      base::LogWarning(std::string("serve: epoll_ctl: ") + std::strerror(errno));
    }
  }
  void Forget(int fd) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    if (conns_.erase(fd) > 0) connections_.fetch_sub(1);
  }
  void Dispatch(std::shared_ptr<const std::string> frame, Responder responder) {
    // std::function needs a copyable target; the Responder is move-only.
    auto r = std::make_shared<Responder>(std::move(responder));
    server_.Post([this, frame = std::move(frame), r] { handler_(frame, std::move(*r)); });
  }
  size_t max_request_bytes() const { return options_.max_request_bytes; }

 private:
  void Run() {
    std::vector<epoll_event> events(256);
    while (!stopping_) {
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        base::LogError(std::string("serve: epoll_wait: ") + std::strerror(errno));
        return;
      }
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<size_t>(i)].data.fd;
        if (fd == inbox_->fd()) {
          for (auto& fn : inbox_->Take()) fn();
          continue;
        }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        std::shared_ptr<Connection> conn = it->second;  // may close (and be forgotten) in OnEvents
        conn->OnEvents(events[static_cast<size_t>(i)].events);
      }
    }
  }

  const ServerOptions& options_;
  Server& server_;
  const RequestHandlerFn& handler_;
  std::atomic<int>& connections_;
  const int epoll_fd_;
  std::shared_ptr<Inbox> inbox_;
  std::unordered_map<int, std::shared_ptr<Connection>> conns_;  // by fd
  bool stopping_ = false;
  std::thread thread_;
};

// --- Connection ---------------------------------------------------------------------------------

void Connection::OnEvents(uint32_t events) {
  if (closed()) return;
  if (events & EPOLLOUT) WritePending();
  if (closed()) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) ReadAvailable();
}

void Connection::CloseConnection(const std::string& why) {
  if (closed()) return;
  base::LogInfo("serve: closing connection from " + peer_ + ": " + why);
  const int fd = fd_;
  ::close(fd_);
  fd_ = -1;
  out_.reset();
  loop_.Forget(fd);  // may drop the loop's reference to this connection: touch nothing after
}

void Connection::ReadAvailable() {
  for (;;) {
    if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
    if (in_.size() - in_end_ < kReadChunk) {
      if (in_begin_ > 0) {  // move the unconsumed bytes to the front before growing
        std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
        in_end_ -= in_begin_;
        in_begin_ = 0;
      }
      // Grow geometrically, and only as bytes arrive: a client announcing a large request must
      // send it before it costs that much memory.
      if (in_.size() - in_end_ < kReadChunk) in_.resize(in_end_ + std::max(kReadChunk, in_end_));
    }
    const ssize_t n = ::recv(fd_, in_.data() + in_end_, in_.size() - in_end_, 0);
    if (n > 0) {
      in_end_ += static_cast<size_t>(n);
      DispatchBuffered();
      if (closed() || busy_) return;
      continue;
    }
    if (n == 0) {
      CloseConnection(in_end_ > in_begin_ ? "client disconnected in the middle of a request"
                                          : "client disconnected");
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) CloseConnection(std::strerror(errno));
    return;
  }
}

void Connection::DispatchBuffered() {
  if (busy_ || closed()) return;
  const size_t have = in_end_ - in_begin_;
  if (have < kFrameHeader) return UpdateInterest();
  const auto* p = reinterpret_cast<const std::byte*>(in_.data() + in_begin_);
  const int32_t size = base::LoadBE<int32_t>(p);
  if (size < 8 || static_cast<size_t>(size) > loop_.max_request_bytes()) {
    CloseConnection("request size " + std::to_string(size) + " outside [8, " +
                    std::to_string(loop_.max_request_bytes()) + "] (socket.request.max.bytes)");
    return;
  }
  const size_t need = kFrameHeader + static_cast<size_t>(size);
  if (have < need) return UpdateInterest();  // the buffer grows as the bytes arrive
  auto frame = std::make_shared<const std::string>(in_.data() + in_begin_ + kFrameHeader,
                                                   static_cast<size_t>(size));
  in_begin_ += need;
  if (in_begin_ == in_end_ && in_.size() > 4 * kReadChunk) {  // drop a big request's buffer
    in_.clear();
    in_.shrink_to_fit();
    in_begin_ = in_end_ = 0;
  }
  const int32_t correlation_id =
      base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(frame->data()) + 4);
  busy_ = true;
  UpdateInterest();
  loop_.Dispatch(std::move(frame), Responder(shared_from_this(), correlation_id));
}

void Connection::OnResponse(std::optional<OutBuffer> body, int32_t correlation_id) {
  if (closed()) return;
  SLUICE_CHECK(busy_ && !out_, "a response without a request");
  if (body) {
    out_ = std::move(body);
    out_total_ = sizeof out_header_ + out_->size();
    out_sent_ = 0;
    base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(out_header_),
                           static_cast<int32_t>(out_total_ - 4));
    base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(out_header_ + 4), correlation_id);
    WritePending();
    return;
  }
  busy_ = false;
  DispatchBuffered();
  if (!closed() && !busy_) ReadAvailable();
}

void Connection::WritePending() {
  while (out_ && !closed()) {
    iov_.clear();
    if (out_sent_ < sizeof out_header_) {
      iov_.push_back(iovec{out_header_ + out_sent_, sizeof out_header_ - out_sent_});
    }
    std::vector<iovec> body;
    out_->Iovecs(out_sent_ > sizeof out_header_ ? out_sent_ - sizeof out_header_ : 0, body);
    iov_.insert(iov_.end(), body.begin(), body.end());
    if (iov_.size() > IOV_MAX) iov_.resize(IOV_MAX);
    msghdr msg{};
    msg.msg_iov = iov_.data();
    msg.msg_iovlen = iov_.size();
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return UpdateInterest();
      CloseConnection(std::string("send failed: ") + std::strerror(errno));
      return;
    }
    out_sent_ += static_cast<size_t>(n);
    if (out_sent_ == out_total_) {
      out_.reset();
      busy_ = false;
      DispatchBuffered();
      if (!closed() && !busy_) ReadAvailable();
      return;
    }
  }
}

void Connection::UpdateInterest() {
  if (closed()) return;
  const uint32_t want = (out_ ? EPOLLOUT : 0u) | (busy_ ? 0u : EPOLLIN);
  if (want != interest_) {
    interest_ = want;
    loop_.SetInterest(fd_, want);
  }
}

// --- Responder ----------------------------------------------------------------------------------

Responder::Responder(std::shared_ptr<Connection> conn, int32_t correlation_id)
    : conn_(std::move(conn)), correlation_id_(correlation_id) {}

void Responder::Send(OutBuffer body) {
  SLUICE_CHECK(conn_ != nullptr, "Responder used twice");
  auto conn = std::move(conn_);
  Inbox& inbox = conn->inbox();
  inbox.Post([conn, id = correlation_id_, b = std::make_shared<OutBuffer>(std::move(body))] {
    conn->OnResponse(std::move(*b), id);
  });
}

void Responder::NoResponse() {
  SLUICE_CHECK(conn_ != nullptr, "Responder used twice");
  auto conn = std::move(conn_);
  Inbox& inbox = conn->inbox();
  inbox.Post([conn, id = correlation_id_] { conn->OnResponse(std::nullopt, id); });
}

void Responder::Close() {
  SLUICE_CHECK(conn_ != nullptr, "Responder used twice");
  auto conn = std::move(conn_);
  Inbox& inbox = conn->inbox();
  inbox.Post([conn] { conn->CloseConnection("malformed request"); });
}

const std::string& Responder::peer() const {
  static const std::string kNone;
  return conn_ ? conn_->peer() : kNone;
}

// --- WorkerPool ---------------------------------------------------------------------------------

class Server::WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() { Stop(); }

  void Post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// --- Server -------------------------------------------------------------------------------------

Server::Server(ServerOptions options, RequestHandlerFn handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  SLUICE_CHECK(!started_, "Server started twice");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(options_.listen_port);
  const std::string where = options_.listen_host + ":" + port;
  if (int rc = ::getaddrinfo(options_.listen_host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "cannot resolve listener " + where + ": " + ::gai_strerror(rc));
  }
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return base::ErrnoError(errno, "socket", where);
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 512) != 0) {
    const int err = errno;
    ::freeaddrinfo(res);
    ::close(fd);
    return base::ErrnoError(err, "listen on", where);
  }
  ::freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return base::ErrnoError(errno, "eventfd", where);

  pool_ = std::make_unique<WorkerPool>(std::max(1, options_.worker_threads));
  for (int i = 0; i < std::max(1, options_.event_loops); ++i) {
    loops_.push_back(std::make_unique<EventLoop>(options_, *this, handler_, connections_));
  }
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  started_ = true;
  return {};
}

void Server::Post(std::function<void()> fn) { pool_->Post(std::move(fn)); }

void Server::AcceptLoop() {
  size_t next_loop = 0;
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      base::LogError(std::string("serve: poll: ") + std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      // EMFILE and friends: log, and back off until a connection closes.
      base::LogWarning(std::string("serve: accept: ") + std::strerror(errno));
      ::poll(fds + 1, 1, 100);
      continue;
    }
    const std::string peer = PeerName(addr);
    if (connections_.load() >= options_.max_connections) {
      base::LogWarning("serve: refusing " + peer + ": " + std::to_string(options_.max_connections) +
                       " connections open");
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connections_.fetch_add(1);
    base::LogInfo("serve: connection from " + peer);
    loops_[next_loop++ % loops_.size()]->Adopt(fd, peer);
  }
}

void Server::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  WakeFd(stop_fd_);
  accept_thread_.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
  pool_->Stop();
  for (auto& loop : loops_) loop->Stop();
  loops_.clear();
}

}  // namespace sluice::net
