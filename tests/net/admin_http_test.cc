// The admin HTTP server (net/admin_http.h): its request parser, every error branch, and the
// server over real sockets on 127.0.0.1 (GET answered by the handler; 400, 405, oversized and
// half-sent requests; the connection limit).

#include "net/admin_http.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include "tests/support/loopback_socket.h"

namespace sluice::net {
namespace {

using base::ErrorCode;

HttpRequest Parsed(std::string_view text) {
  auto r = ParseHttpRequest(text, 8192);
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  if (!r || !*r) return {};
  return **r;
}

// The error code of a request the parser refuses.
ErrorCode Refused(std::string_view text, size_t max_bytes = 8192) {
  auto r = ParseHttpRequest(text, max_bytes);
  EXPECT_FALSE(r.has_value()) << text;
  return r ? ErrorCode::kOk : r.error().code;
}

TEST(HttpParserTest, ParsesAGet) {
  HttpRequest r =
      Parsed("GET /metrics?name=x HTTP/1.1\r\nHost: a:9644\r\nAccept:  text/plain \r\n\r\n");
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/metrics?name=x");
  EXPECT_EQ(r.path, "/metrics");
  EXPECT_EQ(r.query, "name=x");
  EXPECT_EQ(r.version, "HTTP/1.1");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"host", "a:9644"}));
  EXPECT_EQ(r.headers[1], (std::pair<std::string, std::string>{"accept", "text/plain"}));
}

TEST(HttpParserTest, AcceptsLfLineEndsAndHttp10) {
  HttpRequest r = Parsed("GET /livez HTTP/1.0\n\n");
  EXPECT_EQ(r.path, "/livez");
  EXPECT_EQ(r.version, "HTTP/1.0");
}

TEST(HttpParserTest, WaitsForTheWholeHead) {
  for (std::string_view part :
       {"", "GET", "GET /livez HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n"}) {
    auto r = ParseHttpRequest(part, 8192);
    ASSERT_TRUE(r.has_value()) << part;
    EXPECT_FALSE(r->has_value()) << part;
  }
}

TEST(HttpParserTest, RefusesOversizedHeads) {
  EXPECT_EQ(Refused(std::string(100, 'a'), 64), ErrorCode::kTooLarge);  // no end in sight
  EXPECT_EQ(Refused("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", 64),
            ErrorCode::kTooLarge);
  EXPECT_TRUE(ParseHttpRequest("GET / HTTP/1.1\r\n\r\n", 18).has_value());  // exactly the limit
}

TEST(HttpParserTest, RefusesMalformedRequests) {
  const char* bad[] = {
      "\r\n\r\n",                                        // empty request line
      "GARBAGE\r\n\r\n",                                 // one word
      "GET /\r\n\r\n",                                   // no version
      "GET  / HTTP/1.1\r\n\r\n",                         // two spaces
      "GET / HTTP/1.1 x\r\n\r\n",                        // four parts
      "GET / HTTP/2.0\r\n\r\n",                          // version
      "GET / http/1.1\r\n\r\n",                          // version case
      "G(T / HTTP/1.1\r\n\r\n",                          // method not a token
      "GETGETGETGETGETGETGET / HTTP/1.1\r\n\r\n",        // method too long
      "GET metrics HTTP/1.1\r\n\r\n",                    // target not from /
      "GET /\x7f HTTP/1.1\r\n\r\n",                      // DEL in the target
      "GET /\x01 HTTP/1.1\r\n\r\n",                      // control character
      "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",                  // non-ASCII target
      "GET / HTTP/1.1\r\nHost x\r\n\r\n",                // header without colon
      "GET / HTTP/1.1\r\n: x\r\n\r\n",                   // header without name
      "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",           // space in a header name
      "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",       // obs-fold
      "GET / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",  // a body
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
  };
  for (const char* text : bad) EXPECT_EQ(Refused(text), ErrorCode::kInvalidArgument) << text;
  static constexpr char kNul[] = "GET / HTTP/1.1\r\nA: \0b\r\n\r\n";
  EXPECT_EQ(Refused(std::string_view(kNul, sizeof kNul - 1)), ErrorCode::kInvalidArgument);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 65; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
  EXPECT_EQ(Refused(many + "\r\n", 1 << 20), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(ParseHttpRequest("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 8192).has_value());
}

TEST(HttpParserTest, SerializesResponses) {
  EXPECT_EQ(SerializeHttpResponse({404, "text/plain", "no\n"}, "Allow: GET\r\n"),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
            "Connection: close\r\nAllow: GET\r\n\r\nno\n");
}

// --- the server ---------------------------------------------------------------------------------

class AdminHttpServerTest : public ::testing::Test {
 protected:
  void Start(AdminHttpOptions options = {}) {
    options.port = 0;
    auto s = AdminHttpServer::Start(options, [](const HttpRequest& r) {
      if (r.path == "/hello") return HttpResponse{200, "text/plain", "hello " + r.query};
      return HttpResponse{404, "text/plain", "none\n"};
    });
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    server_ = std::move(*s);
  }
  // Sends `request` on a new connection and returns everything the server wrote before closing.
  std::string Exchange(const std::string& request) {
    testing::LoopbackSocket sock(server_->port());
    EXPECT_TRUE(sock.ok());
    sock.SendAll(request);
    return ReadToEnd(sock);
  }
  static std::string ReadToEnd(testing::LoopbackSocket& sock) {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(sock.fd(), buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  std::unique_ptr<AdminHttpServer> server_;
};

TEST_F(AdminHttpServerTest, AnswersGetThroughTheHandler) {
  Start();
  const std::string reply = Exchange("GET /hello?x HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(reply.substr(reply.find("\r\n\r\n") + 4), "hello x");
  EXPECT_EQ(Exchange("GET /other HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404 ", 0), 0u);
}

TEST_F(AdminHttpServerTest, RefusesOtherMethodsAndBadRequests) {
  Start();
  const std::string post = Exchange("POST /hello HTTP/1.1\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405 ", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET\r\n"), std::string::npos);
  EXPECT_EQ(Exchange("NONSENSE\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  // Larger than the limit and still sending: 400, then the connection ends.
  EXPECT_EQ(Exchange("GET /" + std::string(64 * 1024, 'a')).rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(Exchange("GET /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 ", 0), 0u);
}

TEST_F(AdminHttpServerTest, ClosesARequestNotWholeInTime) {
  AdminHttpOptions options;
  options.request_timeout_ms = 200;
  Start(options);
  testing::LoopbackSocket sock(server_->port());
  ASSERT_TRUE(sock.SendAll(std::string("GET /hello HTTP/1.1\r\n")));
  EXPECT_TRUE(sock.ClosedByServer());
}

TEST_F(AdminHttpServerTest, RefusesConnectionsBeyondTheLimit) {
  AdminHttpOptions options;
  options.max_connections = 2;
  Start(options);
  testing::LoopbackSocket a(server_->port());
  testing::LoopbackSocket b(server_->port());
  ASSERT_TRUE(a.SendAll(std::string("GET")));  // a and b are open and unfinished
  ASSERT_TRUE(b.SendAll(std::string("GET")));
  // The server has both once it answered a third one with 503 (accept order is FIFO).
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    refused = Exchange("GET /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 503 ", 0) == 0;
  }
  EXPECT_TRUE(refused);
  a.SendAll(std::string(" /hello HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(ReadToEnd(a).rfind("HTTP/1.1 200 ", 0), 0u);
}

TEST_F(AdminHttpServerTest, StopIsIdempotent) {
  Start();
  server_->Stop();
  server_->Stop();
}

}  // namespace
}  // namespace sluice::net
