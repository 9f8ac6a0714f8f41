#pragma once

// AdminHttpServer: a small HTTP/1.1 server for the broker's admin endpoints (`sluice serve
// --admin-listen`: /livez, /readyz, /metrics). GET only; one request per connection (every
// response says `Connection: close`), answered by one thread that polls every socket (no thread
// per connection), so a slow scraper cannot hold up another one for long and nothing here touches
// the Kafka connections or their threads.
//
// Bounds: a request head larger than max_request_bytes gets 400 and the connection is closed; at
// most max_connections are open at once (a connection beyond gets 503 and is closed); a request
// not whole within request_timeout_ms is closed. Anything but GET gets 405 (with `Allow: GET`),
// a malformed request 400, both from the server itself; the handler answers the rest (404 for an
// unknown path is the handler's).
//
// Thread-safety: Start and Stop from one thread. The handler runs on the server's thread, one
// request at a time; it must not block for long. So does the optional tick (Start), every
// tick_interval_ms, between requests: the admin side's periodic work (the throughput samples of
// the JSON API) without a thread of its own.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "segment/base/result.h"

namespace sluice::net {

struct HttpRequest {
  std::string method;                                        // "GET"
  std::string target;                                        // "/metrics?x=1", as sent
  std::string path;                                          // "/metrics"
  std::string query;                                         // "x=1" ("" when none)
  std::string version;                                       // "HTTP/1.1" or "HTTP/1.0"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
};

// Parses a request head (request line and headers, up to the empty line) from the first bytes a
// client sent. nullopt: not whole yet. kTooLarge: the head is (or already would be) longer than
// `max_bytes`. kInvalidArgument: malformed (context says how), including a request with a body
// (Content-Length other than 0, or Transfer-Encoding), which no admin endpoint takes. Lines may
// end in CRLF or LF.
base::Result<std::optional<HttpRequest>> ParseHttpRequest(std::string_view data, size_t max_bytes);

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// "HTTP/1.1 200 OK\r\nContent-Type: ...\r\nContent-Length: ...\r\nConnection: close\r\n\r\n..."
std::string SerializeHttpResponse(const HttpResponse& response,
                                  std::string_view extra_headers = "");

using HttpHandlerFn = std::function<HttpResponse(const HttpRequest&)>;

struct AdminHttpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 9644;  // 0 = any free port
  size_t max_request_bytes = 8192;
  int max_connections = 32;
  int64_t request_timeout_ms = 10'000;
  int64_t tick_interval_ms = 1000;  // how often Start's `tick` runs (when given)
};

using HttpTickFn = std::function<void()>;

class AdminHttpServer {
 public:
  // Binds, listens and starts the thread. `tick`, when not empty, runs on that thread once right
  // away and then every options.tick_interval_ms (a late tick runs once, not once per period
  // missed).
  static base::Result<std::unique_ptr<AdminHttpServer>> Start(AdminHttpOptions options,
                                                              HttpHandlerFn handler,
                                                              HttpTickFn tick = {});
  ~AdminHttpServer();
  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  // Closes the listener and every connection and joins the thread. Idempotent.
  void Stop();
  uint16_t port() const { return port_; }

 private:
  struct Conn;
  AdminHttpServer(AdminHttpOptions options, HttpHandlerFn handler, HttpTickFn tick);
  void Run();

  const AdminHttpOptions options_;
  const HttpHandlerFn handler_;
  const HttpTickFn tick_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: Stop wakes the thread
  uint16_t port_ = 0;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace sluice::net
