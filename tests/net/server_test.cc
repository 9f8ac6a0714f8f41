// The connection server (net/server.h) and its memory budget (net/memory_budget.h), over real
// sockets on 127.0.0.1: the budget's rules; requests answered in order; a spent budget stops
// reading until a handler lets its frame go, and no connection is forgotten; idle and half-sent
// connections are closed by their timeouts; max.connections.per.ip. Runs under TSan (label
// `concurrent`): the event loops, the workers and the budget's wake-ups cross threads.

#include "net/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "segment/base/coding.h"
#include "tests/support/loopback_socket.h"

namespace sluice::net {
namespace {

// --- MemoryBudget -------------------------------------------------------------------------------

TEST(MemoryBudgetTest, TryReserveFitsUnderTheCapacityOrWhenNothingIsReserved) {
  MemoryBudget budget(100);
  auto big = budget.TryReserve(500);  // alone, larger than everything: admitted
  ASSERT_TRUE(big);
  EXPECT_FALSE(budget.TryReserve(1));
  big.Reset();
  auto a = budget.TryReserve(60);
  ASSERT_TRUE(a);
  EXPECT_FALSE(budget.TryReserve(41));
  auto b = budget.TryReserve(40);
  ASSERT_TRUE(b);
  EXPECT_EQ(budget.used(), 100u);
  EXPECT_EQ(budget.peak(), 500u);
  EXPECT_EQ(budget.refusals(), 2u);
}

TEST(MemoryBudgetTest, ReserveAnywayGoesOverAndStopsTryReserveUntilReleased) {
  MemoryBudget budget(100);
  auto a = budget.TryReserve(90);
  auto over = budget.ReserveAnyway(50);
  EXPECT_EQ(budget.used(), 140u);
  EXPECT_FALSE(budget.TryReserve(1));
  over.Reset();
  EXPECT_TRUE(budget.TryReserve(10));
}

TEST(MemoryBudgetTest, LeasesGrowShrinkMoveAndReturnTheirBytes) {
  MemoryBudget budget(100);
  {
    auto lease = budget.Empty();
    ASSERT_TRUE(lease.TryGrow(30));
    ASSERT_TRUE(lease.TryGrow(30));
    EXPECT_EQ(budget.used(), 60u);
    lease.ShrinkTo(10);
    EXPECT_EQ(budget.used(), 10u);
    MemoryBudget::Lease moved = std::move(lease);
    EXPECT_EQ(moved.bytes(), 10u);
    EXPECT_EQ(budget.used(), 10u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(MemoryBudgetTest, AWaiterIsWokenByTheNextReleaseOrAtOnceIfOneCameSinceItsRefusal) {
  MemoryBudget budget(100);
  auto a = budget.TryReserve(100);
  uint64_t seen = budget.releases();
  EXPECT_FALSE(budget.TryReserve(10));
  int woken = 0;
  budget.WakeWhenReleased(seen, [&] { ++woken; });
  EXPECT_EQ(woken, 0);
  a.ShrinkTo(50);
  EXPECT_EQ(woken, 1);
  a.ShrinkTo(40);
  EXPECT_EQ(woken, 1);  // once
  // A release between the refusal and the registration is not missed.
  seen = budget.releases();
  a.Reset();
  budget.WakeWhenReleased(seen, [&] { ++woken; });
  EXPECT_EQ(woken, 2);
}

TEST(MemoryBudgetTest, ConcurrentLeasesBalance) {
  MemoryBudget budget(1 << 20);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        auto lease = budget.TryReserve(100);
        auto over = budget.ReserveAnyway(7);
        if (lease) lease.ShrinkTo(3);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(budget.used(), 0u);
}

// --- Server over real sockets -------------------------------------------------------------------

// A blocking client socket on the server's port.
class Client : public sluice::testing::LoopbackSocket {
 public:
  using LoopbackSocket::LoopbackSocket;

  // Sends a frame: size prefix, then an 8-byte header whose bytes 4..7 are the correlation id,
  // then `body_bytes` of payload; the last `hold_back` bytes are not sent.
  bool SendRequest(int32_t correlation_id, size_t body_bytes, size_t hold_back = 0) {
    std::string frame(4 + 8 + body_bytes, '\0');
    auto* p = reinterpret_cast<std::byte*>(frame.data());
    base::StoreBE<int32_t>(p, static_cast<int32_t>(8 + body_bytes));
    base::StoreBE<int32_t>(p + 8, correlation_id);
    return SendAll(frame.data(), frame.size() - hold_back);
  }
  // The correlation id of the next response, or -1 when the connection ends.
  int32_t ReadResponse() {
    const std::optional<std::string> frame = ReadFrame();
    if (!frame || frame->size() < 4) return -1;
    return base::LoadBE<int32_t>(reinterpret_cast<const std::byte*>(frame->data()));
  }
};

// Frames the handler has not answered yet, released by the test.
class HeldRequests {
 public:
  void Add(std::shared_ptr<const RequestFrame> frame, Responder responder) {
    std::lock_guard lock(mu_);
    held_.push_back({std::move(frame), std::move(responder)});
    cv_.notify_all();
  }
  // Waits until `n` requests are held.
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20), [&] { return held_.size() >= n; });
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  // Answers (and drops) the oldest held request.
  void AnswerOne() {
    Entry e;
    {
      std::lock_guard lock(mu_);
      e = std::move(held_.front());
      held_.pop_front();
    }
    e.frame.reset();
    e.responder.Send(OutBuffer());
  }

 private:
  struct Entry {
    std::shared_ptr<const RequestFrame> frame;
    Responder responder;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> held_;
};

class ServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options, bool hold = false) {
    for (Listener& l : options.listeners) l.port = 0;
    server_ = std::make_unique<Server>(
        options, [this, hold](std::shared_ptr<const RequestFrame> frame, Responder r) {
          if (hold) {
            held_.Add(std::move(frame), std::move(r));
          } else {
            r.Send(OutBuffer());
          }
        });
    ASSERT_TRUE(server_->Start());
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  HeldRequests held_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start(ServerOptions{});
  Client c(server_->port());
  ASSERT_TRUE(c.ok());
  for (int32_t id = 1; id <= 50; ++id)
    ASSERT_TRUE(c.SendRequest(id, static_cast<size_t>(id * 997)));
  for (int32_t id = 1; id <= 50; ++id) EXPECT_EQ(c.ReadResponse(), id);
}

TEST_F(ServerTest, ASpentBudgetStopsReadingUntilAFrameIsLetGoAndForgetsNoConnection) {
  ServerOptions o;
  o.max_request_bytes = 1 << 20;
  o.queued_max_request_bytes = (3 << 20) + (128 << 10);  // three 1 MiB requests, and change
  Start(o, /*hold=*/true);
  constexpr int kClients = 8;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::thread> senders;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(clients.back()->ok());
  }
  for (int i = 0; i < kClients; ++i) {
    senders.emplace_back([&, i] { clients[i]->SendRequest(i + 1, (1 << 20) - 8); });
  }
  ASSERT_TRUE(held_.WaitFor(3));
  // The budget holds three; the other five wait, unread, and nothing more is charged. Their
  // bytes may still be on the way when the third frame is held: wait for the first refusal
  // (polling a counter the server exposes; nothing else signals it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server_->budget().refusals() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_GT(server_->budget().refusals(), 0u);
  EXPECT_LE(server_->budget().used(), o.queued_max_request_bytes + kClients * (64u << 10));
  EXPECT_EQ(held_.count(), 3u);
  // Each frame let go lets a waiting connection in, until all eight were read.
  for (int answered = 0; answered < kClients; ++answered) {
    ASSERT_TRUE(held_.WaitFor(1));
    held_.AnswerOne();
  }
  for (auto& t : senders) t.join();
  for (auto& c : clients) EXPECT_GT(c->ReadResponse(), 0);
  EXPECT_LE(server_->budget().peak(), o.queued_max_request_bytes + kClients * (64u << 10));
}

TEST_F(ServerTest, AHalfSentRequestIsClosedByTheReceiveTimeoutAndAnIdleOneByTheIdleTimeout) {
  ServerOptions o;
  o.request_receive_timeout_ms = 300;
  o.connections_max_idle_ms = 1500;
  Start(o);
  Client half(server_->port());
  Client idle(server_->port());
  Client busy(server_->port());
  ASSERT_TRUE(half.SendRequest(1, 1000, /*hold_back=*/1));
  ASSERT_TRUE(busy.SendRequest(2, 10));
  EXPECT_EQ(busy.ReadResponse(), 2);
  EXPECT_TRUE(half.ClosedByServer());
  EXPECT_TRUE(idle.ClosedByServer());
  EXPECT_EQ(server_->budget().used(), 0u);
}

TEST_F(ServerTest, ConnectionsFromOneAddressAreLimited) {
  ServerOptions o;
  o.max_connections_per_ip = 2;
  Start(o);
  Client a(server_->port());
  Client b(server_->port());
  ASSERT_TRUE(a.SendRequest(1, 1));
  ASSERT_TRUE(b.SendRequest(2, 1));
  EXPECT_EQ(a.ReadResponse(), 1);
  EXPECT_EQ(b.ReadResponse(), 2);
  Client third(server_->port());
  EXPECT_TRUE(third.ClosedByServer());
}

TEST_F(ServerTest, ABudgetSmallerThanTheLargestRequestIsRefusedAtStart) {
  ServerOptions o;
  o.max_request_bytes = 8 << 20;
  o.queued_max_request_bytes = 8 << 20;
  Server server(o, [](std::shared_ptr<const RequestFrame>, Responder r) { r.NoResponse(); });
  auto s = server.Start();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().context.find("queued.max.request.bytes"), std::string::npos);
}

TEST(ListenersTest, ParseKafkaStyleListenerLists) {
  auto ls = ParseListeners("PLAINTEXT://:9092, SASL_SSL://127.0.0.1:9093,SSL://[::1]:0");
  ASSERT_TRUE(ls) << ls.error().ToString();
  ASSERT_EQ(ls->size(), 3u);
  EXPECT_EQ((*ls)[0].host, "0.0.0.0");
  EXPECT_EQ((*ls)[0].port, 9092);
  EXPECT_EQ((*ls)[0].protocol, SecurityProtocol::kPlaintext);
  EXPECT_EQ((*ls)[1].protocol, SecurityProtocol::kSaslSsl);
  EXPECT_EQ((*ls)[1].ToString(), "SASL_SSL://127.0.0.1:9093");
  EXPECT_EQ((*ls)[2].host, "::1");
  EXPECT_EQ((*ls)[2].ToString(), "SSL://[::1]:0");

  auto mapped =
      ParseListeners("INTERNAL://:9092,EXTERNAL://:9093", "INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL");
  ASSERT_TRUE(mapped) << mapped.error().ToString();
  EXPECT_EQ((*mapped)[0].name, "INTERNAL");
  EXPECT_EQ((*mapped)[1].protocol, SecurityProtocol::kSaslSsl);

  for (const char* bad : {"", "9092", "PLAINTEXT://9092", "TLS://:9092", "PLAINTEXT://:99999",
                          "PLAINTEXT://:1,PLAINTEXT://:2", "INTERNAL://:9092"}) {
    EXPECT_FALSE(ParseListeners(bad)) << bad;
  }
  EXPECT_FALSE(ParseListeners("A://:1", "A:KERBEROS"));
}

TEST(ListenersTest, EachConnectionKnowsTheListenerItCameInOn) {
  ServerOptions o;
  auto ls = ParseListeners("PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0", "INTERNAL:PLAINTEXT");
  ASSERT_TRUE(ls);
  o.listeners = *ls;
  std::mutex mu;
  std::vector<std::string> seen;  // listener name and principal, per request
  Server server(o, [&](std::shared_ptr<const RequestFrame>, Responder r) {
    {
      std::lock_guard lock(mu);
      seen.push_back(r.session().listener->name + " " + r.session().principal);
    }
    r.Send(OutBuffer());
  });
  ASSERT_TRUE(server.Start());
  ASSERT_NE(server.port(0), server.port(1));
  Client a(server.port(0));
  Client b(server.port(1));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a.SendRequest(1, 10));
  EXPECT_EQ(a.ReadResponse(), 1);
  ASSERT_TRUE(b.SendRequest(2, 10));
  EXPECT_EQ(b.ReadResponse(), 2);
  server.Stop();
  EXPECT_EQ(seen,
            (std::vector<std::string>{"PLAINTEXT User:ANONYMOUS", "INTERNAL User:ANONYMOUS"}));
}

}  // namespace
}  // namespace sluice::net
