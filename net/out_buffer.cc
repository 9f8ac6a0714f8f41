#include "net/out_buffer.h"

#include <cstring>

#include "segment/base/check.h"

namespace sluice::net {

namespace {
constexpr size_t kView = SIZE_MAX;
}

void OutBuffer::SealCurrent() {
  if (Current().empty()) return;
  sealed_.push_back(Piece{chunks_.size() - 1, {}});
  size_ += Current().size();
  chunks_.emplace_back();
}

void OutBuffer::AppendView(Bytes view) {
  if (view.empty()) return;
  SealCurrent();
  sealed_.push_back(Piece{kView, view});
  size_ += view.size();
}

void OutBuffer::PatchInt32(size_t pos, int32_t v) {
  size_t at = 0;
  auto patch = [&](std::string& chunk) {
    SLUICE_CHECK(pos >= at && pos + 4 <= at + chunk.size(), "PatchInt32 across pieces");
    base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(chunk.data() + (pos - at)), v);
  };
  for (const Piece& p : sealed_) {
    const size_t n = p.chunk == kView ? p.view.size() : chunks_[p.chunk].size();
    if (pos < at + n) {
      SLUICE_CHECK(p.chunk != kView, "PatchInt32 into a view");
      patch(chunks_[p.chunk]);
      return;
    }
    at += n;
  }
  patch(Current());
}

void OutBuffer::Iovecs(size_t skip, std::vector<iovec>& out) const {
  out.clear();
  auto add = [&](const void* data, size_t n) {
    if (skip >= n) {
      skip -= n;
      return;
    }
    out.push_back(iovec{const_cast<char*>(static_cast<const char*>(data)) + skip, n - skip});
    skip = 0;
  };
  for (const Piece& p : sealed_) {
    if (p.chunk == kView) {
      add(p.view.data(), p.view.size());
    } else {
      add(chunks_[p.chunk].data(), chunks_[p.chunk].size());
    }
  }
  add(chunks_.back().data(), chunks_.back().size());
}

}  // namespace sluice::net
