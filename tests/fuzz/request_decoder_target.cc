#include "tests/fuzz/request_decoder_target.h"

#include <cstddef>
#include <vector>

#include "net/messages.h"
#include "net/produce_validation.h"
#include "net/scram.h"
#include "segment/base/check.h"

namespace sluice::net {
namespace {
// A topic's max.message.bytes for the fuzzer: small, so that memory stays small.
constexpr size_t kFuzzMaxDecompressedBytes = 4u << 20;
// Where the bytes of record views are summed, so reading them cannot be optimised away.
volatile unsigned g_record_byte_sum = 0;

// The SASL mechanisms' parsers and the SCRAM server on a SaslAuthenticate's bytes: as a PLAIN
// token, as a client-first message, and as a client-final message after a valid client-first.
// Whatever the bytes, an exchange either fails with an error or follows the protocol.
void FuzzSaslToken(const std::string& token) {
  ParsePlainToken(token).IgnoreError();
  ParseScramClientFinal(token).IgnoreError();
  if (auto first = ParseScramClientFirst(token)) {
    SLUICE_CHECK(first->bare.size() < token.size(), "client-first-bare is not inside the message");
  }
  static const engine::ScramCredential credential = engine::ScramCredentialFromSaltedPassword(
      engine::ScramMechanism::kSha256, std::string(32, 's'), "salt", 4096);
  auto lookup = [](const std::string& user) -> Result<std::optional<engine::ScramCredential>> {
    if (user == "user") return std::optional<engine::ScramCredential>(credential);
    return std::optional<engine::ScramCredential>();
  };
  ScramServer as_first(engine::ScramMechanism::kSha256, lookup, "fuzz");
  if (auto answer = as_first.Step(token)) {
    SLUICE_CHECK(!as_first.done() && answer->rfind("r=", 0) == 0, "server-first out of order");
  }
  ScramServer as_final(engine::ScramMechanism::kSha256, lookup, "fuzz");
  SLUICE_CHECK(as_final.Step("n,,n=user,r=abc").has_value(), "a valid client-first was refused");
  if (auto answer = as_final.Step(token)) {
    SLUICE_CHECK(as_final.done() && answer->rfind("v=", 0) == 0, "server-final out of order");
  }
}

}  // namespace

Result<RequestHeader> FuzzDecodeRequest(base::Bytes data) {
  // An exactly sized heap copy: ASan flags any read past the end, whatever buffer `data` is in.
  const std::vector<std::byte> copy(data.begin(), data.end());
  const Bytes frame(copy.data(), copy.size());

  Result<RequestHeader> peek = PeekRequestHeader(frame);
  Result<DecodedRequest> decoded = DecodeRequest(frame);
  if (!decoded.has_value()) {
    // Refusing a request must still leave the server its header, unless the header is cut short.
    if (decoded.error().code == base::ErrorCode::kUnsupportedVersion) {
      SLUICE_CHECK(peek.has_value(), "unsupported version without a readable header");
    }
    return std::move(decoded).error();
  }
  SLUICE_CHECK(peek.has_value(), "a request decoded but its header did not");
  const RequestHeader& h = decoded->header;
  SLUICE_CHECK(h.api_key == peek->api_key && h.api_version == peek->api_version &&
                   h.correlation_id == peek->correlation_id && h.client_id == peek->client_id,
               "DecodeRequest and PeekRequestHeader disagree on the header");

  if (const auto* produce = std::get_if<ProduceRequest>(&decoded->body)) {
    unsigned sum = 0;
    segment::RecordDecoder decoder(kFuzzMaxDecompressedBytes);
    for (const ProduceRequest::Topic& t : produce->topics) {
      for (const ProduceRequest::Partition& p : t.partitions) {
        if (!p.records) continue;
        const Bytes r = *p.records;
        SLUICE_CHECK(r.empty() || (r.data() >= frame.data() &&
                                   r.data() + r.size() <= frame.data() + frame.size()),
                     "produce records outside the frame");
        for (std::byte b : r) sum += static_cast<unsigned>(b);  // touch every byte for ASan
        // The decompression path, as the Produce handler runs it, bounded as a topic's
        // max.message.bytes bounds it: whatever the frames declare, no more than the limit.
        auto batches = SplitBatches(r, decoder);
        SLUICE_CHECK(decoder.buffer_bytes() <= 2 * kFuzzMaxDecompressedBytes + (1u << 20),
                     "a produced batch decompressed past its limit");
        if (!batches) {
          const auto code = batches.error().code;
          SLUICE_CHECK(code == base::ErrorCode::kCorruption || code == base::ErrorCode::kTooLarge ||
                           code == base::ErrorCode::kInvalidArgument,
                       "produce validation failed with an unexpected error kind");
        }
      }
    }
    g_record_byte_sum = sum;
  }
  if (const auto* auth = std::get_if<SaslAuthenticateRequest>(&decoded->body)) {
    FuzzSaslToken(auth->auth_bytes);
  }
  return decoded->header;
}

}  // namespace sluice::net
