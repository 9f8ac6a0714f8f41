#pragma once

// Server: the connection side of `sluice serve`. Listening sockets (one per listener,
// net/listener.h), a few epoll event loops that own the connections (no thread per connection), and
// a pool of worker threads that run request handlers, which may block (a Fetch waits for data).
// Small Produces run on the event loop itself (their handler only queues appends).
//
// Requests of one connection run one at a time, as in Kafka's broker (after a whole request frame
// arrives the connection stops reading until the response has been written), with one exception:
// Produces are pipelined. Once a Produce's handler has returned, its appends are queued with
// their offsets assigned (Engine::AppendBatchesAsync), so the connection reads on and starts the
// next request if it is a Produce too, while the earlier ones are still being written; any other
// request waits until everything before it is answered. So a producer with many requests in
// flight (librdkafka's linger.ms=0) has them written and synced together (PartitionLog's group
// commit) instead of one fsync each, and no request ever sees the effects of a later one or
// misses those of an earlier non-Produce. Responses go out strictly in request order (a
// complete one waits for those before it). What is in flight is bounded by the memory budget (each
// request frame holds its charge until its handler drops it), not by a count.
//
// Memory (net/memory_budget.h): every byte a client makes the server hold is charged to one
// MemoryBudget of queued_max_request_bytes. An idle connection holds nothing (reads land in its
// loop's scratch buffer first); a request larger than the scratch is reserved whole, from its size
// prefix, before the rest of it is read. When the budget is spent, connections stop reading
// (they wait in their loop's queue, first come first served) until bytes are released.
//
// Limits, with Kafka's names: a frame larger than max_request_bytes (socket.request.max.bytes)
// closes the connection; max_connections and max_connections_per_ip refuse new connections; a
// connection idle for connections_max_idle_ms, or whose request is not whole after
// request_receive_timeout_ms of reading it (a slow or stalled sender), is closed.
//
// TLS (listeners whose protocol is SSL or SASL_SSL; net/tls.h, net/transport.h): a connection
// does its handshake in its event loop, non-blocking, on the socket itself (a socket BIO: OpenSSL
// reads and writes the socket directly, with send(MSG_NOSIGNAL), and no memory BIOs to copy
// through), within
// request_receive_timeout_ms; then requests are read and responses written through the same
// transport, under the same memory rules: reads are decrypted into the loop's scratch or in place,
// and an idle connection holds only OpenSSL's session state (SSL_MODE_RELEASE_BUFFERS frees its
// record buffers whenever they are empty). Responses are encrypted from where they lie when a
// piece is a record or larger; smaller pieces are gathered into one record. All TLS listeners
// share one certificate (ServerOptions::tls). ReloadTls builds a new context from the same files;
// new connections get it, existing ones keep theirs; a bad file leaves the old one in place. With
// a client certificate (ssl.client.auth requested/required) an SSL listener's session principal
// is "User:" + the certificate subject in RFC 2253 form.
//
// Thread-safety: Start and Stop from one thread; a Responder may be used from any thread; the
// budget is thread-safe; ReloadTls from any thread (tls_ is guarded by tls_mu_).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/listener.h"
#include "net/memory_budget.h"
#include "net/out_buffer.h"
#include "net/session.h"
#include "net/tls.h"
#include "segment/base/result.h"

namespace sluice::net {

class Connection;
class ConnectionLimits;
class EventLoop;

// What a connection reads after a response: Kafka requests, or one raw SASL token (a frame of
// SASL bytes with only a size prefix, as after a SaslHandshake v0; PROTOCOL.md "SASL").
enum class NextFrame { kRequest, kRawSaslToken };

// Told when each request completes (the broker's metrics: net/broker_metrics.h). Called on the
// thread that completes the Responder, before the response is queued; must be cheap and
// thread-safe.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  // The request of `api_key` that started at `start_ns` (the observer's clock) is complete.
  virtual void RequestDone(int16_t api_key, int64_t start_ns) = 0;
  // Its response carries `error_code` (once per partition, topic or group that has it).
  virtual void RequestError(int16_t api_key, int16_t error_code) = 0;
};

// Completes one request. Exactly one of Send, NoResponse or Close must be called, once, from any
// thread. A Responder whose connection has gone away does nothing.
class Responder {
 public:
  Responder() = default;
  // For request `seq` (the connection's count of requests) with `correlation_id`.
  // `raw_sasl_token`: the frame this answers is a raw SASL token, and so is the answer (a size
  // prefix, then the bytes; no correlation id).
  Responder(std::shared_ptr<Connection> conn, uint64_t seq, int32_t correlation_id,
            bool raw_sasl_token = false);
  Responder(Responder&&) = default;
  Responder& operator=(Responder&&) = default;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // Sends `body` after the response header (the correlation id; none for a raw SASL token), once
  // the responses to the connection's earlier requests are sent. `next` says how the connection
  // reads the frame after it.
  void Send(OutBuffer body, NextFrame next = NextFrame::kRequest);
  // The request needs no response (Produce with acks=0): the connection reads its next request.
  void NoResponse();
  // Closes the connection (a malformed request, after logging why; or `why`, a client's fault
  // when `misbehaved`).
  void Close(std::string why = "malformed request", bool misbehaved = true);
  // Sends `body` like Send, then closes the connection once it is written (a failed SASL
  // authentication: Kafka answers, then closes). `why` is logged with the close.
  void SendThenClose(OutBuffer body, std::string why);

  // Has `observer` (which must outlive the request) told when this request completes: Send,
  // SendThenClose, NoResponse or Close.
  void Observe(RequestObserver* observer, int16_t api_key, int64_t start_ns) {
    observer_ = observer;
    api_key_ = api_key;
    start_ns_ = start_ns;
  }
  // Tells the observer (if any) that the response carries `error_code`.
  void NoteError(int16_t error_code) const {
    if (observer_ != nullptr) observer_->RequestError(api_key_, error_code);
  }

  int32_t correlation_id() const { return correlation_id_; }
  // Whether the frame this answers is a raw SASL token rather than a Kafka request.
  bool raw_sasl_token() const { return raw_sasl_token_; }
  // "127.0.0.1:53422", for logs and group member hosts.
  const std::string& peer() const;
  // The connection's session (net/session.h). Only before Send, NoResponse or Close.
  Session& session() const;

 private:
  void Complete(std::optional<OutBuffer> body, std::optional<std::string> close_after,
                NextFrame next);

  std::shared_ptr<Connection> conn_;
  uint64_t seq_ = 0;
  int32_t correlation_id_ = 0;
  bool raw_sasl_token_ = false;
  RequestObserver* observer_ = nullptr;  // null: not observed
  int16_t api_key_ = -1;
  int64_t start_ns_ = 0;
};

// One request as received, without its size prefix. It holds its charge on the server's memory
// budget until the last reference to it goes.
struct RequestFrame {
  std::string storage;
  size_t begin = 0;  // the request starts at storage[begin]
  MemoryBudget::Lease charge;

  Bytes bytes() const { return base::AsBytes(storage).subspan(begin); }
};

// Handles one request frame. Runs on a worker thread; may block, and may complete `responder`
// later from another thread. `frame` lives until the handler drops it. A Produce handler must
// return only once its appends are queued (ordered before any later append), since the
// connection's next Produce starts when it returns; and it must not wait for a write: small
// Produces run on the connection's event loop (net/server.cc, EventLoop::Dispatch).
using RequestHandlerFn = std::function<void(std::shared_ptr<const RequestFrame> frame, Responder)>;

struct ServerOptions {
  // Where to listen (a port 0 takes any free port: see Server::port). At least one.
  std::vector<Listener> listeners = {Listener{}};
  int event_loops = 2;
  int worker_threads = 8;
  size_t max_request_bytes = 100u << 20;  // socket.request.max.bytes
  // queued.max.request.bytes: the memory budget (see above). At least max_request_bytes + 128 KiB,
  // so that a connection's own largest request always fits.
  size_t queued_max_request_bytes = 128u << 20;
  int max_connections = 4096;                   // max.connections
  int max_connections_per_ip = 4096;            // max.connections.per.ip
  int64_t connections_max_idle_ms = 600'000;    // connections.max.idle.ms
  int64_t request_receive_timeout_ms = 30'000;  // a started request must be whole within this
  // (and a TLS handshake done within this)
  // The certificate, key and client-certificate policy of every TLS listener.
  TlsOptions tls;
};

// Client connections, for metrics.
struct ConnectionCounts {
  int open = 0;           // now
  uint64_t accepted = 0;  // since the start
  uint64_t refused = 0;   // by max.connections or max.connections.per.ip, since the start
};

class Server {
 public:
  Server(ServerOptions options, RequestHandlerFn handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the threads.
  Status Start();
  // Stops accepting, closes every connection and joins the threads. Handlers still running finish
  // first; their responses are dropped. Idempotent.
  void Stop();

  // The port listeners[i] is bound to (useful with port 0).
  uint16_t port(size_t listener = 0) const { return ports_.at(listener); }
  // Runs `fn` on a worker thread.
  void Post(std::function<void()> fn);
  // The memory budget: handlers charge what they allocate for a request (decompression, transcoded
  // responses) to it.
  MemoryBudget& budget() { return budget_; }
  // Lock-free (the counts may lag by a connection being admitted or released).
  ConnectionCounts connection_counts() const;
  // Reads the TLS files again (ServerOptions::tls): new connections get the new certificate. On
  // an error the old context stays.
  Status ReloadTls();

 private:
  std::shared_ptr<const TlsContext> CurrentTls() const;
  class WorkerPool;
  void AcceptLoop();

  ServerOptions options_;
  RequestHandlerFn handler_;
  MemoryBudget budget_;
  std::unique_ptr<ConnectionLimits> limits_;
  // Binds and listens on listeners[i]; on success, listen_fds_[i] and ports_[i] are set.
  Status Listen(size_t i);

  mutable std::mutex tls_mu_;
  std::shared_ptr<const TlsContext> tls_;  // guarded by tls_mu_; null without TLS listeners

  std::vector<int> listen_fds_;  // one per listener
  std::vector<uint16_t> ports_;  // one per listener
  int stop_fd_ = -1;             // eventfd that wakes the accept loop on Stop
  std::unique_ptr<WorkerPool> pool_;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::thread accept_thread_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sluice::net
