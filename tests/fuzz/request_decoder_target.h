#pragma once

// The body of the request-decoder fuzz target, shared by the libFuzzer binary
// (request_decoder_fuzz.cc, clang only) and the corpus replay test (request_corpus_test.cc), so
// GCC builds run every saved input too.

#include "net/messages.h"
#include "segment/base/coding.h"

namespace sluice::net {

// Decodes `data` as one request frame (no size prefix) and checks what must hold whatever the
// bytes: no crash, no read outside the frame (ASan), a decoded request's header equals
// PeekRequestHeader's, and its record views lie inside the frame. Aborts on a violation. Returns
// the decoded request's header, or why the frame was rejected.
Result<RequestHeader> FuzzDecodeRequest(base::Bytes data);

}  // namespace sluice::net
