#pragma once

// A blocking TCP connection to 127.0.0.1, for tests that speak to a real server byte by byte
// (hand-made Kafka frames, half-sent requests). Receives time out after 20 s.

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::testing {

class LoopbackSocket {
 public:
  explicit LoopbackSocket(uint16_t port);
  ~LoopbackSocket();
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  bool ok() const { return ok_; }  // connected
  int fd() const { return fd_; }

  bool SendAll(const char* data, size_t n);
  bool SendAll(const std::string& bytes) { return SendAll(bytes.data(), bytes.size()); }
  bool RecvAll(char* out, size_t n);
  // Sends `frame` after its int32 size prefix.
  bool SendFrame(const std::string& frame);
  // The next frame, without its size prefix; nullopt when the connection ends first.
  std::optional<std::string> ReadFrame();
  // True when the server closed the connection (EOF or reset) within the receive timeout.
  bool ClosedByServer();

 private:
  int fd_;
  bool ok_ = false;
};

}  // namespace sluice::testing
