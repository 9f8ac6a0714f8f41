#include "net/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "net/tls.h"
#include "net/transport.h"
#include "segment/base/check.h"
#include "segment/base/log.h"

namespace sluice::net {

namespace {

using base::ErrorCode;
using base::MakeError;

constexpr size_t kReadChunk = 64 << 10;  // bytes asked of each recv
// Produce requests up to this size run on their event loop (EventLoop::Dispatch says why).
constexpr size_t kInlineProduceBytes = 16 << 10;
constexpr size_t kFrameHeader = 4;     // the int32 size prefix
constexpr int16_t kProduceApiKey = 0;  // the request header's first field is the API key

// ("127.0.0.1:53422", "127.0.0.1")
std::pair<std::string, std::string> PeerName(const sockaddr_storage& addr) {
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
  return {std::string(host) + ":" + std::to_string(port), host};
}

// Each connection is a file descriptor: lift the soft limit on open files to the hard one (1,024
// by default, fewer than max.connections), and say so when even that is short.
void RaiseOpenFileLimit(int max_connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
  }
  // Segments, indexes and the engine's own files need descriptors too.
  constexpr rlim_t kReserved = 256;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < rlim_t(max_connections) + kReserved) {
    base::LogWarning("serve: the open-file limit (" + std::to_string(lim.rlim_cur) +
                     ") is below max.connections (" + std::to_string(max_connections) + ") + " +
                     std::to_string(kReserved) +
                     "; raise it (ulimit -n, LimitNOFILE=) or lower --max-connections");
  }
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

// The connection counts, total and per client address (max.connections, max.connections.per.ip).
// The accept thread admits; event loops release when a connection goes.
class ConnectionLimits {
 public:
  ConnectionLimits(int max_total, int max_per_ip)
      : max_total_(max_total), max_per_ip_(max_per_ip) {}

  // Counts a new connection from `ip`, or says why not.
  std::optional<std::string> Admit(const std::string& ip) {
    std::lock_guard lock(mu_);
    if (total_ >= max_total_) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return std::to_string(max_total_) + " connections open (max.connections)";
    }
    int& n = per_ip_[ip];
    if (n >= max_per_ip_) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return std::to_string(max_per_ip_) + " connections open from " + ip +
             " (max.connections.per.ip)";
    }
    ++n;
    ++total_;
    open_.store(total_, std::memory_order_relaxed);
    accepted_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  void Release(const std::string& ip) {
    std::lock_guard lock(mu_);
    --total_;
    open_.store(total_, std::memory_order_relaxed);
    if (auto it = per_ip_.find(ip); it != per_ip_.end() && --it->second <= 0) per_ip_.erase(it);
  }

 private:
  const int max_total_;
  const int max_per_ip_;
  std::mutex mu_;
  int total_ = 0;                                // guarded by mu_
  std::unordered_map<std::string, int> per_ip_;  // guarded by mu_

 public:
  // For metrics, without the lock: total_'s last value, and the admissions and refusals so far.
  std::atomic<int> open_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
};

// One client connection. Everything but the constructor runs on its loop's thread; other threads
// reach it only through Responder, which posts to the loop's Inbox.
//
// Received bytes not yet handed to a handler live in in_ ([in_begin_, in_end_)), and in_charge_
// holds exactly in_.size() bytes of the budget outside ReadAvailable. An idle connection has an
// empty in_ and holds nothing (on TLS, OpenSSL's per-connection state only: its buffers are
// released when empty).
//
// Bytes cross the socket through transport_ (net/transport.h), in clear or TLS. A TLS connection
// first does its handshake (handshaking_), within request_receive_timeout_ms. Each direction
// remembers which socket event it waits for: a TLS read can wait for the socket to be writable and
// a write for it to be readable (read_waits_for_, write_waits_for_).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  Connection(EventLoop& loop, std::shared_ptr<Inbox> inbox, int fd, Session session,
             std::unique_ptr<Transport> transport, bool handshake);
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  void OnEvents(uint32_t events);
  // Request `seq` is complete: `body` is its response (none: nothing to send). With `close_after`
  // the connection closes, saying why, once that response is written. `next`: how the frame
  // after it is read.
  void OnResponse(uint64_t seq, std::optional<OutBuffer> body,
                  std::optional<std::string> close_after, NextFrame next);
  // The handler of Produce `seq` returned: its appends are queued, and a next Produce may start.
  void OnProduceQueued(uint64_t seq);
  // The same without reading on (for a handler run inside ReadAvailable's loop); false if the
  // request was answered or marked already.
  bool MarkProduceQueued(uint64_t seq);
  // Closes the connection. Routine closes (the client left, idle) are logged at most once a second;
  // a client's `misbehaved` (an oversized frame, a malformed request) as a warning, on its own
  // rate limit so that routine closes do not hide it.
  void CloseConnection(const std::string& why, bool misbehaved = false);
  // Reads again after waiting for memory (the loop's queue).
  void ResumeReading();
  // Closes the connection if it has been idle, or slow sending a request, for too long.
  void CheckTimeouts(TimePoint now);

  const std::string& peer() const { return session_.peer; }
  const std::string& ip() const { return session_.ip; }
  Session& session() { return session_; }
  Inbox& inbox() { return *inbox_; }
  bool closed() const { return fd_ < 0; }
  bool waiting_for_memory() const { return waiting_for_memory_; }

 private:
  void ReadAvailable();
  // Steps the TLS handshake; once done, takes the client certificate's principal and reads.
  void ContinueHandshake();
  // Hands the whole frame of `frame_bytes` (size prefix included) at in_begin_ to a handler.
  void DispatchFrame(size_t frame_bytes);
  // Whether the next request may be read and started now (Server, pipelining): nothing in flight,
  // or only Produces whose appends are queued (and then only a Produce starts).
  bool MayRead() const { return in_flight_.size() == queued_produces_; }
  // Writes the responses at the front of in_flight_ that are complete, in order, then reads on.
  void SendCompleted();
  // Appends `n` bytes read into the loop's scratch buffer to in_.
  void Keep(const char* bytes, size_t n);
  // Moves the unconsumed bytes to the front of in_.
  void Compact();
  void WritePending();
  void UpdateInterest();

  EventLoop& loop_;
  MemoryBudget& budget_;
  std::shared_ptr<Inbox> inbox_;
  int fd_;
  Session session_;  // see net/session.h for who touches it when
  std::unique_ptr<Transport> transport_;
  bool handshaking_ = false;                // a TLS handshake is under way
  uint32_t handshake_waits_for_ = EPOLLIN;  // the event the handshake's next step needs
  uint32_t read_waits_for_ = EPOLLIN;       // the event the next read needs
  uint32_t write_waits_for_ = EPOLLOUT;     // the event the next write needs
  TimePoint accepted_;

  std::string in_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  MemoryBudget::Lease in_charge_;
  // The requests started and not yet answered, in request order: in_flight_[i] is request
  // first_seq_ + i. A slot is complete once its handler responded; responses leave from the
  // front. queued_produces_ counts the slots that are Produces whose handler has returned.
  struct InFlight {
    int32_t correlation_id = 0;
    bool raw = false;                      // a raw SASL token, answered with a size prefix only
    NextFrame next = NextFrame::kRequest;  // how the frame after it is read (set when complete)
    bool produce = false;
    bool queued = false;    // a Produce whose handler returned
    bool complete = false;  // responded: `body` (if any) is the response
    std::optional<OutBuffer> body;
    std::optional<std::string> close_after;  // close once this response is written, saying why
  };
  std::deque<InFlight> in_flight_;
  uint64_t first_seq_ = 0;  // the sequence number of in_flight_.front()
  size_t queued_produces_ = 0;
  bool waiting_for_memory_ = false;           // in the loop's queue, not reading
  TimePoint last_activity_;                   // the last byte received or sent
  std::optional<TimePoint> request_started_;  // when the first byte of the held request came

  std::optional<OutBuffer> out_;                     // the response being written
  std::optional<std::string> close_after_response_;  // why, if it is the last one
  char out_header_[8] = {};                          // its size prefix and correlation id
  size_t out_header_size_ = sizeof out_header_;      // 4 for a raw SASL token: no correlation id
  bool next_frame_raw_ = false;                      // the next frame is a raw SASL token
  size_t out_total_ = 0;
  size_t out_sent_ = 0;
  std::vector<iovec> iov_;
  uint32_t interest_ = EPOLLIN;
};

class EventLoop {
 public:
  EventLoop(const ServerOptions& options, Server& server, const RequestHandlerFn& handler,
            ConnectionLimits& limits)
      : options_(options),
        server_(server),
        handler_(handler),
        limits_(limits),
        epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
        inbox_(std::make_shared<Inbox>()),
        scratch_(new char[kReadChunk]) {
    SLUICE_CHECK(epoll_fd_ >= 0, "epoll_create1 failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = inbox_->fd();
    SLUICE_CHECK(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, inbox_->fd(), &ev) == 0, "epoll_ctl");
    thread_ = std::thread([this] { Run(); });
  }
  ~EventLoop() { Stop(); }

  // Takes ownership of an accepted socket (from the accept thread), already admitted by limits_.
  // `tls` is the context of a TLS listener's connection (null in clear).
  void Adopt(int fd, Session session, std::shared_ptr<const TlsContext> tls) {
    inbox_->Post([this, fd, session = std::move(session), tls = std::move(tls)]() mutable {
      const bool is_tls = tls != nullptr;
      std::unique_ptr<Transport> transport;
      if (is_tls) {
        auto t = MakeTlsServerTransport(std::move(tls), fd);
        if (!t) {
          base::LogWarning("serve: TLS for " + session.peer + ": " + t.error().context);
          limits_.Release(session.ip);
          ::close(fd);
          return;
        }
        transport = std::move(*t);
      } else {
        transport = MakePlainTransport(fd);
      }
      auto conn = std::make_shared<Connection>(*this, inbox_, fd, std::move(session),
                                               std::move(transport), is_tls);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        base::LogWarning("serve: cannot watch connection from " + conn->peer() + ": " +
                         std::strerror(errno));
        limits_.Release(conn->ip());
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
    memory_waiters_.clear();
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
  // Stops watching `fd`: before it is closed, since the accept thread may get the same number
  // for a new connection as soon as it is.
  void Unwatch(int fd) { ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }
  // Drops the connection of the (closed) `fd`.
  void Forget(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    limits_.Release(it->second->ip());
    conns_.erase(it);
  }
  // Runs the handler of request `seq` of `conn` on a worker. When it is a Produce, the loop
  // hears when the handler has returned (its appends are queued: Connection::MayRead).
  // A Produce of at most kInlineProduceBytes runs here, on the loop, instead: its handler only
  // queues appends and never waits for a write (RequestHandlerFn), and for a request of one or a
  // few records (librdkafka's linger.ms=0 sends one per record) the hand-off to a worker and the
  // note back that its appends are queued cost more CPU than the handler itself. Larger ones go
  // to a worker, where their decoding and compression overlap the loop's reading.
  void Dispatch(const std::shared_ptr<Connection>& conn, uint64_t seq,
                std::shared_ptr<const RequestFrame> frame, Responder responder, bool produce) {
    if (produce && frame->bytes().size() <= kInlineProduceBytes) {
      handler_(std::move(frame), std::move(responder));
      conn->MarkProduceQueued(seq);  // the caller's read loop reads on
      return;
    }
    // std::function needs a copyable target; the Responder is move-only.
    auto r = std::make_shared<Responder>(std::move(responder));
    std::shared_ptr<Connection> queued_to = produce ? conn : nullptr;
    server_.Post([this, frame = std::move(frame), r, queued_to, seq] {
      handler_(frame, std::move(*r));
      if (queued_to) {
        Inbox& inbox = queued_to->inbox();
        inbox.Post([queued_to, seq] { queued_to->OnProduceQueued(seq); });
      }
    });
  }

  // `conn` stops reading until the budget releases bytes; `releases` is the budget's count read
  // before the refused reservation.
  void WaitForMemory(const std::shared_ptr<Connection>& conn, uint64_t releases) {
    memory_waiters_.push_back(conn);
    static base::RateLimitedLog log(base::LogLevel::kWarning);
    log.Log("serve: memory budget spent (" + std::to_string(budget().used() >> 20) + " of " +
            std::to_string(budget().capacity() >> 20) +
            " MiB, queued.max.request.bytes): connections wait to be read, " + conn->peer() +
            " among them");
    if (wake_registered_) return;
    wake_registered_ = true;
    budget().WakeWhenReleased(releases, [inbox = inbox_, this] {
      inbox->Post([this] {
        wake_registered_ = false;
        RetryMemoryWaiters();
      });
    });
  }

  MemoryBudget& budget() { return server_.budget(); }
  const ServerOptions& options() const { return options_; }
  char* scratch() { return scratch_.get(); }
  size_t max_request_bytes() const { return options_.max_request_bytes; }

 private:
  // Lets the waiting connections read again, first come first served, until one is refused again
  // (it stays first).
  void RetryMemoryWaiters() {
    while (!memory_waiters_.empty() && !wake_registered_) {
      std::shared_ptr<Connection> conn = memory_waiters_.front().lock();
      memory_waiters_.pop_front();
      if (!conn || conn->closed()) continue;
      conn->ResumeReading();
      if (conn->waiting_for_memory()) {  // queued again, at the back: it goes first next time
        memory_waiters_.pop_back();
        memory_waiters_.push_front(conn);
        return;
      }
    }
  }

  void CheckTimeouts() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_sweep_ < std::chrono::seconds(1)) return;
    last_sweep_ = now;
    std::vector<std::shared_ptr<Connection>> conns;
    conns.reserve(conns_.size());
    for (auto& [fd, conn] : conns_) conns.push_back(conn);
    for (auto& conn : conns) conn->CheckTimeouts(now);  // may close (and forget) it
  }

  void Run() {
    std::vector<epoll_event> events(256);
    while (!stopping_) {
      // Wakes at least once a second to close idle and stalled connections.
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 1000);
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
      CheckTimeouts();
    }
  }

  const ServerOptions& options_;
  Server& server_;
  const RequestHandlerFn& handler_;
  ConnectionLimits& limits_;
  const int epoll_fd_;
  std::shared_ptr<Inbox> inbox_;
  std::unique_ptr<char[]> scratch_;  // kReadChunk bytes: where reads land first
  std::unordered_map<int, std::shared_ptr<Connection>> conns_;  // by fd
  std::deque<std::weak_ptr<Connection>> memory_waiters_;        // connections waiting for memory
  bool wake_registered_ = false;  // the budget will wake this loop at its next release
  std::chrono::steady_clock::time_point last_sweep_{};
  bool stopping_ = false;
  std::thread thread_;
};

// --- Connection ---------------------------------------------------------------------------------

Connection::Connection(EventLoop& loop, std::shared_ptr<Inbox> inbox, int fd, Session session,
                       std::unique_ptr<Transport> transport, bool handshake)
    : loop_(loop),
      budget_(loop.budget()),
      inbox_(std::move(inbox)),
      fd_(fd),
      session_(std::move(session)),
      transport_(std::move(transport)),
      handshaking_(handshake),
      accepted_(std::chrono::steady_clock::now()),
      in_charge_(budget_.Empty()),
      last_activity_(accepted_) {}

void Connection::OnEvents(uint32_t events) {
  if (closed()) return;
  if (handshaking_) {
    if (events & (handshake_waits_for_ | EPOLLHUP | EPOLLERR)) ContinueHandshake();
    return;
  }
  if (out_ && (events & write_waits_for_)) {
    WritePending();
    if (!out_) SendCompleted();  // the next responses, then reading again
  }
  if (closed()) return;
  if ((events & (EPOLLHUP | EPOLLERR)) && (!MayRead() || waiting_for_memory_)) {
    // Not reading, so recv cannot see the end; and the answer has nowhere to go.
    CloseConnection("client went away");
    return;
  }
  if (events & (read_waits_for_ | EPOLLHUP | EPOLLERR)) ReadAvailable();
}

void Connection::ContinueHandshake() {
  const Transport::IoResult r = transport_->Handshake();
  switch (r.status) {
    case Transport::Status::kOk:
      break;
    case Transport::Status::kWantRead:
    case Transport::Status::kWantWrite:
      handshake_waits_for_ = r.status == Transport::Status::kWantRead ? EPOLLIN : EPOLLOUT;
      UpdateInterest();
      return;
    case Transport::Status::kClosed:
      CloseConnection("client disconnected during the TLS handshake");
      return;
    case Transport::Status::kError: {
      // What the client sent that OpenSSL did not read (a plaintext request, say) would make the
      // close a reset, and the client see "connection reset" instead of the end of the stream:
      // read it away first, as much as has arrived.
      for (int i = 0; i < 16 && ::recv(fd_, loop_.scratch(), kReadChunk, 0) > 0; ++i) {
      }
      const bool plaintext = r.error.find("wrong version number") != std::string::npos ||
                             r.error.find("http request") != std::string::npos;
      CloseConnection("TLS handshake failed: " + r.error +
                          (plaintext ? " (a plaintext client on a TLS listener?)" : ""),
                      /*misbehaved=*/true);
      return;
    }
  }
  handshaking_ = false;
  last_activity_ = std::chrono::steady_clock::now();
  // On SASL_SSL the principal is SASL's to set; on SSL it is the client certificate's subject.
  if (session_.listener != nullptr && session_.listener->protocol == SecurityProtocol::kSsl) {
    session_.principal = transport_->PeerPrincipal();
  }
  ReadAvailable();  // the client's first request may have come with its last handshake message
}

void Connection::CloseConnection(const std::string& why, bool misbehaved) {
  if (closed()) return;
  // A client closing between requests and the server stopping are routine (debug: one line per
  // connection); other ends (a request cut short, idle timeouts, socket errors) are info, a
  // misbehaving client's warnings, both rate-limited.
  static base::RateLimitedLog notable(base::LogLevel::kInfo, 1000);
  static base::RateLimitedLog problem(base::LogLevel::kWarning, 1000);
  const std::string line = "serve: closing connection from " + peer() + ": " + why;
  if (misbehaved) {
    problem.Log(line);
  } else if (why == "client went away" || why == "client disconnected" ||
             why == "server stopping") {
    base::LogDebug(line);
  } else {
    notable.Log(line);
  }
  const int fd = fd_;
  if (!handshaking_) transport_->Shutdown();
  transport_.reset();
  loop_.Unwatch(fd_);
  ::close(fd_);
  fd_ = -1;
  out_.reset();
  in_ = {};
  in_charge_.Reset();
  loop_.Forget(fd);  // may drop the loop's reference to this connection: touch nothing after
}

void Connection::ResumeReading() {
  waiting_for_memory_ = false;
  // The wait was the broker's doing: the request's receive timeout starts again.
  if (request_started_) request_started_ = std::chrono::steady_clock::now();
  ReadAvailable();
}

void Connection::CheckTimeouts(TimePoint now) {
  // Requests in flight, or memory to wait for: the broker is the one taking time.
  if (closed() || !in_flight_.empty() || waiting_for_memory_) return;
  using std::chrono::milliseconds;
  const auto& o = loop_.options();
  if (handshaking_) {
    if (now - accepted_ > milliseconds(o.request_receive_timeout_ms)) {
      CloseConnection(
          "TLS handshake not done within " + std::to_string(o.request_receive_timeout_ms) + " ms",
          /*misbehaved=*/true);
    }
    return;
  }
  if (request_started_ && now - *request_started_ > milliseconds(o.request_receive_timeout_ms)) {
    CloseConnection("sent " + std::to_string(in_end_ - in_begin_) +
                        " bytes of a request and not the rest within " +
                        std::to_string(o.request_receive_timeout_ms) + " ms",
                    /*misbehaved=*/true);
    return;
  }
  if (now - last_activity_ > milliseconds(o.connections_max_idle_ms)) {
    CloseConnection("idle for " + std::to_string(o.connections_max_idle_ms) +
                    " ms (connections.max.idle.ms)");
  }
}

void Connection::ReadAvailable() {
  uint64_t releases = 0;  // the budget's release count before the last reservation
  while (!closed() && MayRead() && !waiting_for_memory_) {
    const size_t held = in_end_ - in_begin_;
    size_t frame_bytes = 0;  // the whole frame at in_begin_, once its size prefix is here
    if (held >= kFrameHeader) {
      const int32_t size =
          base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(in_.data() + in_begin_));
      // A request has at least its header's api key, version and correlation id; a raw SASL
      // token (after SaslHandshake v0) may be empty.
      const int32_t min_size = next_frame_raw_ ? 0 : 8;
      if (size < min_size || static_cast<size_t>(size) > loop_.max_request_bytes()) {
        CloseConnection(
            "request size " + std::to_string(size) + " outside [" + std::to_string(min_size) +
                ", " + std::to_string(loop_.max_request_bytes()) + "] (socket.request.max.bytes)",
            /*misbehaved=*/true);
        return;
      }
      frame_bytes = kFrameHeader + static_cast<size_t>(size);
      if (held >= frame_bytes) {
        // Behind queued Produces only a Produce starts; anything else waits for their answers.
        if (!in_flight_.empty() &&
            (next_frame_raw_ || base::LoadBE<int16_t>(reinterpret_cast<const std::byte*>(
                                    in_.data() + in_begin_ + kFrameHeader)) != kProduceApiKey)) {
          break;
        }
        DispatchFrame(frame_bytes);
        continue;
      }
    }
    releases = budget_.releases();
    // A request larger than the scratch buffer is reserved whole, from its size prefix, before
    // more of it is read, and read in place. Size prefixes and small requests land in the loop's
    // scratch buffer first, for which a scratch-full of budget is taken for the read and what is
    // not kept given back.
    const bool in_place = frame_bytes > kReadChunk;
    char* dst = nullptr;
    size_t room = 0;
    if (in_place) {
      if (in_charge_.bytes() < frame_bytes &&
          !in_charge_.TryGrow(frame_bytes - in_charge_.bytes())) {
        waiting_for_memory_ = true;
        break;
      }
      Compact();
      if (in_.size() < frame_bytes) in_.resize(frame_bytes);
      dst = in_.data() + in_end_;
      room = frame_bytes - in_end_;
    } else {
      if (!in_charge_.TryGrow(kReadChunk)) {
        waiting_for_memory_ = true;
        break;
      }
      dst = loop_.scratch();
      room = kReadChunk;
    }
    const Transport::IoResult r = transport_->Read(dst, room);
    if (r.status == Transport::Status::kOk) {
      const auto now = std::chrono::steady_clock::now();
      if (held == 0) request_started_ = now;
      last_activity_ = now;
      read_waits_for_ = EPOLLIN;
      if (in_place) {
        in_end_ += r.bytes;
      } else {
        Keep(dst, r.bytes);
      }
    }
    if (!in_place) in_charge_.ShrinkTo(in_.size());
    switch (r.status) {
      case Transport::Status::kOk:
        continue;
      case Transport::Status::kClosed:
        CloseConnection(held > 0 ? "client disconnected in the middle of a request"
                                 : "client disconnected");
        return;
      case Transport::Status::kError:
        CloseConnection(r.error);
        return;
      case Transport::Status::kWantRead:
      case Transport::Status::kWantWrite:
        // The socket is drained; with TLS, epoll would not wake for bytes OpenSSL already holds,
        // but a read only wants more once those are gone.
        SLUICE_DCHECK(r.status != Transport::Status::kWantRead || !transport_->HasBufferedData(),
                      "a TLS read wants more with decrypted bytes held");
        read_waits_for_ = r.status == Transport::Status::kWantRead ? EPOLLIN : EPOLLOUT;
        break;
    }
    break;
  }
  if (closed()) return;
  if (waiting_for_memory_) loop_.WaitForMemory(shared_from_this(), releases);
  UpdateInterest();
}

void Connection::Keep(const char* bytes, size_t n) {
  Compact();
  if (in_.size() < in_end_ + n) in_.resize(in_end_ + n);
  std::memcpy(in_.data() + in_end_, bytes, n);
  in_end_ += n;
}

void Connection::Compact() {
  if (in_begin_ == 0) return;
  std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
  in_end_ -= in_begin_;
  in_begin_ = 0;
}

void Connection::DispatchFrame(size_t frame_bytes) {
  auto frame = std::make_shared<RequestFrame>();
  if (in_begin_ == 0 && in_end_ == frame_bytes) {
    // The frame is all that is held (a large request read in place, or a request that came
    // alone): it moves, with its charge, to the handler.
    in_.resize(frame_bytes);
    frame->storage = std::exchange(in_, {});
    frame->begin = kFrameHeader;
    frame->charge = std::exchange(in_charge_, budget_.Empty());
    in_begin_ = in_end_ = 0;
  } else {
    frame->storage.assign(in_.data() + in_begin_ + kFrameHeader, frame_bytes - kFrameHeader);
    // These bytes were admitted when they were read; the copy is theirs until in_ shrinks below.
    frame->charge = budget_.ReserveAnyway(frame->storage.size());
    in_begin_ += frame_bytes;
    if (in_begin_ == in_end_) {
      in_ = {};
      in_begin_ = in_end_ = 0;
    } else {  // what arrived after the frame: the start of the next request
      in_ = in_.substr(in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    }
    in_charge_.ShrinkTo(in_.size());
  }
  request_started_.reset();
  if (in_end_ > in_begin_) request_started_ = std::chrono::steady_clock::now();
  const auto* request = reinterpret_cast<const std::byte*>(frame->bytes().data());
  InFlight& slot = in_flight_.emplace_back();
  slot.raw = std::exchange(next_frame_raw_, false);
  if (!slot.raw) {  // a Kafka request: at least 8 bytes (ReadAvailable)
    slot.correlation_id = base::LoadBE<int32_t>(request + 4);
    slot.produce = base::LoadBE<int16_t>(request) == kProduceApiKey;
  }
  const uint64_t seq = first_seq_ + in_flight_.size() - 1;
  UpdateInterest();
  auto self = shared_from_this();
  loop_.Dispatch(self, seq, std::move(frame), Responder(self, seq, slot.correlation_id, slot.raw),
                 slot.produce);
}

void Connection::OnResponse(uint64_t seq, std::optional<OutBuffer> body,
                            std::optional<std::string> close_after, NextFrame next) {
  if (closed()) return;
  SLUICE_CHECK(seq >= first_seq_ && seq - first_seq_ < in_flight_.size(),
               "a response without a request");
  InFlight& slot = in_flight_[seq - first_seq_];
  SLUICE_CHECK(!slot.complete, "two responses to one request");
  slot.complete = true;
  slot.body = std::move(body);
  slot.close_after = std::move(close_after);
  slot.next = next;
  SendCompleted();
}

bool Connection::MarkProduceQueued(uint64_t seq) {
  if (closed() || seq < first_seq_) return false;  // answered already
  InFlight& slot = in_flight_[seq - first_seq_];
  if (slot.queued) return false;
  slot.queued = true;
  ++queued_produces_;
  return true;
}

void Connection::OnProduceQueued(uint64_t seq) {
  if (MarkProduceQueued(seq)) ReadAvailable();
}

void Connection::SendCompleted() {
  while (!closed()) {
    if (!out_) {
      if (in_flight_.empty() || !in_flight_.front().complete) break;
      InFlight slot = std::move(in_flight_.front());
      in_flight_.pop_front();
      ++first_seq_;
      if (slot.queued) --queued_produces_;
      // Nothing is read while a request that is not a queued Produce is in flight, so the mode
      // of the next frame is known before it is read.
      next_frame_raw_ = slot.next == NextFrame::kRawSaslToken;
      if (!slot.body) continue;  // no response (Produce with acks=0)
      out_ = std::move(slot.body);
      close_after_response_ = std::move(slot.close_after);
      out_header_size_ = slot.raw ? 4 : sizeof out_header_;
      out_total_ = out_header_size_ + out_->size();
      out_sent_ = 0;
      base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(out_header_),
                             static_cast<int32_t>(out_total_ - 4));
      base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(out_header_ + 4), slot.correlation_id);
    }
    WritePending();
    if (out_) return;  // the socket is full: OnEvents goes on when it is writable
  }
  if (closed()) return;
  ReadAvailable();
}

void Connection::WritePending() {
  while (out_ && !closed()) {
    iov_.clear();
    if (out_sent_ < out_header_size_) {
      iov_.push_back(iovec{out_header_ + out_sent_, out_header_size_ - out_sent_});
    }
    std::vector<iovec> body;
    out_->Iovecs(out_sent_ > out_header_size_ ? out_sent_ - out_header_size_ : 0, body);
    iov_.insert(iov_.end(), body.begin(), body.end());
    if (iov_.size() > IOV_MAX) iov_.resize(IOV_MAX);
    // The loop's scratch is free while writing: reads copy out of it before they return.
    const Transport::IoResult r = transport_->Write(iov_, loop_.scratch());
    if (r.status == Transport::Status::kWantRead || r.status == Transport::Status::kWantWrite) {
      write_waits_for_ = r.status == Transport::Status::kWantRead ? EPOLLIN : EPOLLOUT;
      return UpdateInterest();
    }
    if (r.status != Transport::Status::kOk) {
      CloseConnection(r.status == Transport::Status::kClosed ? "client went away" : r.error);
      return;
    }
    write_waits_for_ = EPOLLOUT;
    last_activity_ = std::chrono::steady_clock::now();
    out_sent_ += r.bytes;
    if (out_sent_ == out_total_) {
      out_.reset();
      if (close_after_response_) CloseConnection(*close_after_response_);
      return;
    }
  }
}

void Connection::UpdateInterest() {
  if (closed()) return;
  uint32_t want = 0;
  if (handshaking_) {
    want = handshake_waits_for_;
  } else {
    if (out_) want |= write_waits_for_;
    if (MayRead() && !waiting_for_memory_) want |= read_waits_for_;
  }
  if (want != interest_) {
    interest_ = want;
    loop_.SetInterest(fd_, want);
  }
}

// --- Responder ----------------------------------------------------------------------------------

Responder::Responder(std::shared_ptr<Connection> conn, uint64_t seq, int32_t correlation_id,
                     bool raw_sasl_token)
    : conn_(std::move(conn)),
      seq_(seq),
      correlation_id_(correlation_id),
      raw_sasl_token_(raw_sasl_token) {}

void Responder::Complete(std::optional<OutBuffer> body, std::optional<std::string> close_after,
                         NextFrame next) {
  SLUICE_CHECK(conn_ != nullptr, "Responder used twice");
  if (observer_ != nullptr) observer_->RequestDone(api_key_, start_ns_);
  auto conn = std::move(conn_);
  Inbox& inbox = conn->inbox();
  // std::function needs a copyable target; an OutBuffer is move-only.
  auto b = std::make_shared<std::optional<OutBuffer>>(std::move(body));
  inbox.Post([conn, seq = seq_, b, close_after = std::move(close_after), next]() mutable {
    conn->OnResponse(seq, std::move(*b), std::move(close_after), next);
  });
}

void Responder::Send(OutBuffer body, NextFrame next) {
  Complete(std::move(body), std::nullopt, next);
}

void Responder::SendThenClose(OutBuffer body, std::string why) {
  Complete(std::move(body), std::move(why), NextFrame::kRequest);
}

void Responder::NoResponse() { Complete(std::nullopt, std::nullopt, NextFrame::kRequest); }

void Responder::Close(std::string why, bool misbehaved) {
  SLUICE_CHECK(conn_ != nullptr, "Responder used twice");
  if (observer_ != nullptr) observer_->RequestDone(api_key_, start_ns_);
  auto conn = std::move(conn_);
  Inbox& inbox = conn->inbox();
  inbox.Post([conn, why = std::move(why), misbehaved] { conn->CloseConnection(why, misbehaved); });
}

const std::string& Responder::peer() const {
  static const std::string kNone;
  return conn_ ? conn_->peer() : kNone;
}

Session& Responder::session() const {
  SLUICE_CHECK(conn_ != nullptr, "Responder::session after the response");
  return conn_->session();
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
    : options_(std::move(options)),
      handler_(std::move(handler)),
      budget_(options_.queued_max_request_bytes),
      limits_(std::make_unique<ConnectionLimits>(options_.max_connections,
                                                 options_.max_connections_per_ip)) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  SLUICE_CHECK(!started_, "Server started twice");
  if (options_.queued_max_request_bytes < options_.max_request_bytes + 2 * kReadChunk) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "queued.max.request.bytes (" +
                         std::to_string(options_.queued_max_request_bytes) +
                         ") must be at least socket.request.max.bytes (" +
                         std::to_string(options_.max_request_bytes) + ") + 128 KiB");
  }
  if (options_.listeners.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no listeners");
  }
  for (const Listener& l : options_.listeners) {
    if (!UsesTls(l.protocol) || tls_) continue;
    auto tls = TlsContext::CreateServer(options_.tls);
    if (!tls) {
      return MakeError(tls.error().code, "listener " + l.ToString() + ": " + tls.error().context);
    }
    tls_ = std::move(*tls);
    base::LogInfo("serve: TLS certificate " + tls_->subject() + ", client certificates " +
                  std::string(ClientAuthName(options_.tls.client_auth)));
  }
  RaiseOpenFileLimit(options_.max_connections);
  listen_fds_.assign(options_.listeners.size(), -1);
  ports_.assign(options_.listeners.size(), 0);
  for (size_t i = 0; i < options_.listeners.size(); ++i) {
    if (Status s = Listen(i); !s) {
      for (int fd : listen_fds_) {
        if (fd >= 0) ::close(fd);
      }
      return s;
    }
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return base::ErrnoError(errno, "eventfd", "the accept loop");

  pool_ = std::make_unique<WorkerPool>(std::max(1, options_.worker_threads));
  for (int i = 0; i < std::max(1, options_.event_loops); ++i) {
    loops_.push_back(std::make_unique<EventLoop>(options_, *this, handler_, *limits_));
  }
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  started_ = true;
  return {};
}

Status Server::Listen(size_t i) {
  const Listener& l = options_.listeners[i];
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(l.port);
  const std::string where = l.ToString();
  if (int rc = ::getaddrinfo(l.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
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
  ports_[i] = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fds_[i] = fd;
  return {};
}

void Server::Post(std::function<void()> fn) { pool_->Post(std::move(fn)); }

ConnectionCounts Server::connection_counts() const {
  return {limits_->open_.load(std::memory_order_relaxed),
          limits_->accepted_.load(std::memory_order_relaxed),
          limits_->refused_.load(std::memory_order_relaxed)};
}

Status Server::ReloadTls() {
  if (!CurrentTls()) {
    return MakeError(ErrorCode::kInvalidArgument, "no TLS listener: nothing to reload");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const TlsContext> fresh, TlsContext::CreateServer(options_.tls));
  base::LogInfo("serve: TLS certificate reloaded: " + fresh->subject() + " for new connections");
  std::lock_guard lock(tls_mu_);
  tls_ = std::move(fresh);
  return {};
}

std::shared_ptr<const TlsContext> Server::CurrentTls() const {
  std::lock_guard lock(tls_mu_);
  return tls_;
}

void Server::AcceptLoop() {
  size_t next_loop = 0;
  // The listening sockets, then the stop eventfd.
  std::vector<pollfd> fds;
  for (int fd : listen_fds_) fds.push_back({fd, POLLIN, 0});
  fds.push_back({stop_fd_, POLLIN, 0});
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      base::LogError(std::string("serve: poll: ") + std::strerror(errno));
      return;
    }
    if (fds.back().revents != 0) return;
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const int fd = ::accept4(fds[i].fd, reinterpret_cast<sockaddr*>(&addr), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
        // EMFILE and friends: log, and back off until a connection closes.
        base::LogWarning(std::string("serve: accept: ") + std::strerror(errno));
        ::poll(&fds.back(), 1, 100);
        continue;
      }
      Session session;
      session.listener = &options_.listeners[i];
      session.listener_index = i;
      session.authenticated = !UsesSasl(session.listener->protocol);
      std::tie(session.peer, session.ip) = PeerName(addr);
      if (auto refused = limits_->Admit(session.ip)) {
        static base::RateLimitedLog log(base::LogLevel::kWarning);
        log.Log("serve: refusing " + session.peer + ": " + *refused);
        ::close(fd);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      base::LogDebug("serve: connection from " + session.peer + " on " + session.listener->name);
      std::shared_ptr<const TlsContext> tls;
      if (UsesTls(session.listener->protocol)) tls = CurrentTls();
      loops_[next_loop++ % loops_.size()]->Adopt(fd, std::move(session), std::move(tls));
    }
  }
}

void Server::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  WakeFd(stop_fd_);
  accept_thread_.join();
  for (int fd : listen_fds_) ::close(fd);
  ::close(stop_fd_);
  pool_->Stop();
  for (auto& loop : loops_) loop->Stop();
  loops_.clear();
}

}  // namespace sluice::net
