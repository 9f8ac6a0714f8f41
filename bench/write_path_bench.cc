// The raw sequential write paths of this machine, at the engine's write sizes (issue 12): which
// way of putting bytes into a preallocated file is fastest, with and without fdatasync. No engine
// code runs here; these are the baselines the engine's write path (segment/io/uring_fs.cc,
// posix_fs.cc) is chosen by and compared with.
//
// Variants (each writes `--mib` MiB sequentially into a fresh file preallocated with fallocate, as
// the engine's segments are; 1 GiB at most):
//   pwritev             pwritev(2) from the calling thread (PosixFs)
//   uring_qd1           one default io_uring, one write submitted and waited for at a time (what
//                       UringFs does: per-thread ring, submit_and_wait(1))
//   uring_qdN           the same ring with N writes in flight
//   coop_qd1            uring_qd1 on a ring set up with IORING_SETUP_COOP_TASKRUN|SINGLE_ISSUER|
//                       DEFER_TASKRUN (what UringFs could do without other changes)
//   tuned_qd1/qdN       the same ring flags, and the file and the buffers registered
//                       (IOSQE_FIXED_FILE, write_fixed)
//   sqpoll_qd1/qdN      IORING_SETUP_SQPOLL (a kernel thread polls the submission queue)
//   direct_qd1/qdN      O_DIRECT io_uring from 4 KiB-aligned buffers (no page cache)
//   direct_pwritev      O_DIRECT pwritev, for comparison
// Flush modes: none (page cache only; the file is synced untimed afterwards), every (an fdatasync
// after every `--sync-every-mib` MiB, drained behind the earlier writes: IOSQE_IO_DRAIN), write
// (each write followed by its own fdatasync, linked behind it in io_uring: flush=sync; the
// per-write latency p50/p99 is reported too, and at QD>1 up to N write+fdatasync pairs are in
// flight).
//
// Every configuration runs once per round; the order rotates between rounds so that machine load
// hits all alike. Figures are median [min, max] over rounds. Before the rounds, the benchmark
// checks whether this kernel's file system completes buffered io_uring writes inline or hands
// them to io-wq worker threads ("iou-wrk-<tid>"), and whether pwritev2(RWF_NOWAIT) works on a
// buffered file here.
//
// liburing is used directly here, not through segment/io/uring_fs: the baselines must be the bare
// system calls, and UringFs exposes none of the setups compared.
//
//   sluice_write_path_bench [--rounds=5] [--mib=128] [--sizes=4096,65536,1048576] [--qd=8]
//       [--flush=none,every,write] [--sync-every-mib=8] [--sync-ops=1000] [--only=SUBSTRING]
//       [--dir=PATH (default $TMPDIR or /tmp)]

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kMaxFileBytes = 1024 * kMiB;
constexpr size_t kAlign = 4096;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "write_path_bench: %s\n", what.c_str());
  std::exit(1);
}
void MustErrno(bool ok, const std::string& what) {
  if (!ok) Fail(what + ": " + std::strerror(errno));
}
void MustRes(int res, const std::string& what) {
  if (res < 0) Fail(what + ": " + std::strerror(-res));
}

enum class Api : uint8_t { kPwritev, kUring };
enum class Flush : uint8_t { kNone, kEvery, kWrite };

const char* FlushName(Flush f) {
  switch (f) {
    case Flush::kNone:
      return "none";
    case Flush::kEvery:
      return "every";
    case Flush::kWrite:
      return "write";
  }
  return "?";
}

struct Variant {
  std::string name;
  Api api = Api::kUring;
  int qd = 1;
  unsigned ring_flags = 0;
  bool registered = false;  // file and buffers registered with the ring
  bool direct = false;      // O_DIRECT
};

struct Options {
  int rounds = 5;
  uint64_t mib = 128;
  std::vector<uint64_t> sizes = {4096, 65536, kMiB};
  int qd = 8;
  std::vector<Flush> flushes = {Flush::kNone, Flush::kEvery, Flush::kWrite};
  uint64_t sync_every_mib = 8;
  uint64_t sync_ops = 1000;
  std::string only;
  std::string dir;
};

// Write buffers: `count` buffers of `size` bytes, 4 KiB-aligned (O_DIRECT needs it), filled with
// bytes that do not compress or dedupe.
class Buffers {
 public:
  Buffers(size_t count, size_t size) : size_(size) {
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < count; ++i) {
      void* p = std::aligned_alloc(kAlign, size);
      if (p == nullptr) Fail("aligned_alloc");
      auto* words = static_cast<uint64_t*>(p);
      for (size_t w = 0; w < size / 8; ++w) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words[w] = x;
      }
      bufs_.push_back({p, size});
    }
  }
  ~Buffers() {
    for (iovec& v : bufs_) std::free(v.iov_base);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  const iovec& operator[](size_t i) const { return bufs_[i % bufs_.size()]; }
  const std::vector<iovec>& all() const { return bufs_; }
  size_t size() const { return size_; }

 private:
  size_t size_;
  std::vector<iovec> bufs_;
};

// A fresh file of `bytes` reserved with fallocate and synced (untimed), as a new segment is.
int CreateFile(const std::string& path, uint64_t bytes, bool direct) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (direct ? O_DIRECT : 0),
                  0644);
  MustErrno(fd >= 0, "open " + path);
  MustErrno(::fallocate(fd, 0, 0, static_cast<off_t>(bytes)) == 0, "fallocate " + path);
  MustErrno(::fdatasync(fd) == 0, "fdatasync " + path);
  return fd;
}

void FinishFile(int fd, const std::string& path) {
  MustErrno(::fdatasync(fd) == 0, "fdatasync " + path);  // untimed: leave no dirty pages behind
  ::close(fd);
  ::unlink(path.c_str());
}

struct Sample {
  double mb_per_s = 0;
  std::vector<double> latency_us;  // per write (Flush::kWrite only)
};

uint64_t WriteCount(const Options& o, uint64_t size, Flush flush) {
  uint64_t bytes = std::min(o.mib * kMiB, kMaxFileBytes);
  if (flush == Flush::kWrite) bytes = std::min(bytes, o.sync_ops * size);
  return std::max<uint64_t>(1, bytes / size);
}

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

Sample RunPwritev(const Variant& v, const Options& o, uint64_t size, Flush flush,
                  const std::string& path) {
  const uint64_t count = WriteCount(o, size, flush);
  Buffers bufs(1, size);
  int fd = CreateFile(path, count * size, v.direct);
  Sample s;
  if (flush == Flush::kWrite) s.latency_us.reserve(count);
  const uint64_t every = o.sync_every_mib * kMiB;
  uint64_t since_sync = 0;
  const auto start = Clock::now();
  for (uint64_t i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    const ssize_t n = ::pwritev(fd, &bufs[0], 1, static_cast<off_t>(i * size));
    MustErrno(n >= 0, "pwritev " + path);
    if (static_cast<uint64_t>(n) != size) Fail("pwritev: short write");
    since_sync += size;
    if (flush == Flush::kWrite || (flush == Flush::kEvery && since_sync >= every)) {
      MustErrno(::fdatasync(fd) == 0, "fdatasync " + path);
      since_sync = 0;
    }
    if (flush == Flush::kWrite) s.latency_us.push_back(Micros(Clock::now() - t0));
  }
  if (flush == Flush::kEvery && since_sync > 0) {
    MustErrno(::fdatasync(fd) == 0, "fdatasync " + path);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  s.mb_per_s = static_cast<double>(count * size) / secs / 1e6;
  FinishFile(fd, path);
  return s;
}

// user_data of an SQE: the write's index, with the top bit set for an fdatasync.
constexpr uint64_t kSyncBit = 1ULL << 63;

Sample RunUring(const Variant& v, const Options& o, uint64_t size, Flush flush,
                const std::string& path) {
  const uint64_t count = WriteCount(o, size, flush);
  const auto qd = static_cast<uint64_t>(v.qd);
  Buffers bufs(qd, size);
  int fd = CreateFile(path, count * size, v.direct);

  io_uring ring{};
  io_uring_params params{};
  params.flags = v.ring_flags;
  if (v.ring_flags & IORING_SETUP_SQPOLL) params.sq_thread_idle = 1000;  // ms
  MustRes(io_uring_queue_init_params(static_cast<unsigned>(std::max<uint64_t>(8, 4 * qd)), &ring,
                                     &params),
          "io_uring_queue_init_params(" + v.name + ")");
  int target_fd = fd;
  unsigned fixed_flag = 0;
  if (v.registered) {
    MustRes(io_uring_register_files(&ring, &fd, 1), "io_uring_register_files");
    MustRes(io_uring_register_buffers(&ring, bufs.all().data(),
                                      static_cast<unsigned>(bufs.all().size())),
            "io_uring_register_buffers");
    target_fd = 0;
    fixed_flag = IOSQE_FIXED_FILE;
  }

  Sample s;
  std::vector<Clock::time_point> started;
  if (flush == Flush::kWrite) {
    s.latency_us.reserve(count);
    started.resize(count);
  }
  const uint64_t every = o.sync_every_mib * kMiB;
  uint64_t since_sync = 0;
  uint64_t submitted = 0;
  uint64_t in_flight = 0;  // writes not yet complete (their fdatasync included, in kWrite)
  uint64_t syncs_in_flight = 0;
  const auto start = Clock::now();
  while (submitted < count || in_flight > 0 || syncs_in_flight > 0) {
    while (submitted < count && in_flight < qd) {
      const uint64_t i = submitted++;
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      if (sqe == nullptr) Fail("io_uring_get_sqe: ring full");
      const iovec& buf = bufs[i];
      const auto off = i * size;
      if (v.registered) {
        io_uring_prep_write_fixed(sqe, target_fd, buf.iov_base, static_cast<unsigned>(size), off,
                                  static_cast<int>(i % qd));
      } else {
        io_uring_prep_writev(sqe, target_fd, &buf, 1, off);
      }
      sqe->flags |= static_cast<uint8_t>(fixed_flag);
      io_uring_sqe_set_data64(sqe, i);
      ++in_flight;
      since_sync += size;
      const bool sync_now = flush == Flush::kWrite ||
                            (flush == Flush::kEvery && (since_sync >= every || submitted == count));
      if (!sync_now) continue;
      if (flush == Flush::kWrite) {
        started[i] = Clock::now();
        sqe->flags |= IOSQE_IO_LINK;
      }
      io_uring_sqe* sync = io_uring_get_sqe(&ring);
      if (sync == nullptr) Fail("io_uring_get_sqe: ring full");
      io_uring_prep_fsync(sync, target_fd, IORING_FSYNC_DATASYNC);
      sync->flags |= static_cast<uint8_t>(fixed_flag);
      // kEvery: the fdatasync must start after every write before it completed.
      if (flush == Flush::kEvery) sync->flags |= IOSQE_IO_DRAIN;
      io_uring_sqe_set_data64(sync, i | kSyncBit);
      ++syncs_in_flight;
      since_sync = 0;
    }
    MustRes(io_uring_submit_and_wait(&ring, 1), "io_uring_submit_and_wait");
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      const uint64_t tag = io_uring_cqe_get_data64(cqe);
      if (tag & kSyncBit) {
        MustRes(cqe->res, "fdatasync (io_uring)");
        --syncs_in_flight;
        if (flush == Flush::kWrite) {
          const uint64_t i = tag & ~kSyncBit;
          s.latency_us.push_back(Micros(Clock::now() - started[i]));
          --in_flight;  // the write's slot frees when its fdatasync completes
        }
      } else {
        MustRes(cqe->res, "write (io_uring, " + v.name + ")");
        if (static_cast<uint64_t>(cqe->res) != size) Fail("io_uring write: short write");
        if (flush != Flush::kWrite) --in_flight;
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  s.mb_per_s = static_cast<double>(count * size) / secs / 1e6;
  io_uring_queue_exit(&ring);
  FinishFile(fd, path);
  return s;
}

Sample Run(const Variant& v, const Options& o, uint64_t size, Flush flush,
           const std::string& path) {
  return v.api == Api::kPwritev ? RunPwritev(v, o, size, flush, path)
                                : RunUring(v, o, size, flush, path);
}

// --- the io-wq check
// ------------------------------------------------------------------------------

// How many io-wq workers ("iou-wrk-<tid>") the thread `tid` has.
int WorkersOf(pid_t tid) {
  const std::string want = "iou-wrk-" + std::to_string(tid);
  int n = 0;
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name == want) ++n;
  }
  ::closedir(d);
  return n;
}

// On a fresh thread (which has no io-wq yet): 256 writes of 4 KiB through a default ring, one at a
// time, then count the thread's io-wq workers. Zero means every write completed inline.
int PunterCount(const std::string& dir, bool direct) {
  int workers = -1;
  std::thread t([&] {
    const std::string path = dir + (direct ? "/probe-direct" : "/probe-buffered");
    Buffers buf(1, 4096);
    int fd = CreateFile(path, 256 * 4096, direct);
    io_uring ring{};
    MustRes(io_uring_queue_init(8, &ring, 0), "io_uring_queue_init");
    for (uint64_t i = 0; i < 256; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_writev(sqe, fd, &buf[0], 1, i * 4096);
      MustRes(io_uring_submit_and_wait(&ring, 1), "io_uring_submit_and_wait");
      io_uring_cqe* cqe = nullptr;
      MustRes(io_uring_wait_cqe(&ring, &cqe), "io_uring_wait_cqe");
      MustRes(cqe->res, "probe write");
      io_uring_cqe_seen(&ring, cqe);
    }
    workers = WorkersOf(static_cast<pid_t>(::syscall(SYS_gettid)));
    io_uring_queue_exit(&ring);
    FinishFile(fd, path);
  });
  t.join();
  return workers;
}

std::string NowaitCheck(const std::string& dir) {
  const std::string path = dir + "/probe-nowait";
  Buffers buf(1, 4096);
  int fd = CreateFile(path, 4096, false);
  const ssize_t n = ::pwritev2(fd, &buf[0], 1, 0, RWF_NOWAIT);
  std::string out = n >= 0 ? "works (" + std::to_string(n) + " bytes)"
                           : std::string("fails: ") + std::strerror(errno);
  FinishFile(fd, path);
  return out;
}

// --- rounds and tables
// ----------------------------------------------------------------------------

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

std::string Span(const std::vector<double>& v, const char* fmt = "%.0f") {
  if (v.empty()) return "-";
  char a[32], b[32], c[32];
  std::snprintf(a, sizeof(a), fmt, Median(v));
  std::snprintf(b, sizeof(b), fmt, *std::min_element(v.begin(), v.end()));
  std::snprintf(c, sizeof(c), fmt, *std::max_element(v.begin(), v.end()));
  return std::string(a) + " [" + b + ", " + c + "]";
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  const char* tmp = std::getenv("TMPDIR");
  o.dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string key = arg.substr(0, eq);
    const std::string val = eq == std::string::npos ? "" : arg.substr(eq + 1);
    auto num = [&]() -> uint64_t {
      char* end = nullptr;
      const uint64_t n = std::strtoull(val.c_str(), &end, 10);
      if (val.empty() || *end != '\0' || n == 0) Fail("bad value in " + arg);
      return n;
    };
    if (key == "--rounds") {
      o.rounds = static_cast<int>(num());
    } else if (key == "--mib") {
      o.mib = std::min<uint64_t>(num(), kMaxFileBytes / kMiB);
    } else if (key == "--qd") {
      o.qd = static_cast<int>(std::min<uint64_t>(num(), 64));
    } else if (key == "--sync-every-mib") {
      o.sync_every_mib = num();
    } else if (key == "--sync-ops") {
      o.sync_ops = num();
    } else if (key == "--only") {
      o.only = val;
    } else if (key == "--dir") {
      o.dir = val;
    } else if (key == "--sizes") {
      o.sizes.clear();
      for (const std::string& s : Split(val)) {
        const uint64_t n = std::strtoull(s.c_str(), nullptr, 10);
        if (n == 0 || n % kAlign != 0) Fail("sizes must be multiples of 4096: " + s);
        o.sizes.push_back(n);
      }
    } else if (key == "--flush") {
      o.flushes.clear();
      for (const std::string& s : Split(val)) {
        if (s == "none")
          o.flushes.push_back(Flush::kNone);
        else if (s == "every")
          o.flushes.push_back(Flush::kEvery);
        else if (s == "write")
          o.flushes.push_back(Flush::kWrite);
        else
          Fail("--flush takes none,every,write: " + s);
      }
    } else {
      Fail("unknown argument " + arg + " (see the comment at the top of write_path_bench.cc)");
    }
  }
  return o;
}

std::vector<Variant> Variants(int qd) {
  constexpr unsigned kTuned =
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  const std::string n = "qd" + std::to_string(qd);
  return {
      {"pwritev", Api::kPwritev, 1, 0, false, false},
      {"uring_qd1", Api::kUring, 1, 0, false, false},
      {"uring_" + n, Api::kUring, qd, 0, false, false},
      {"coop_qd1", Api::kUring, 1, kTuned, false, false},
      {"tuned_qd1", Api::kUring, 1, kTuned, true, false},
      {"tuned_" + n, Api::kUring, qd, kTuned, true, false},
      {"sqpoll_qd1", Api::kUring, 1, IORING_SETUP_SQPOLL, false, false},
      {"sqpoll_" + n, Api::kUring, qd, IORING_SETUP_SQPOLL, false, false},
      {"direct_qd1", Api::kUring, 1, 0, false, true},
      {"direct_" + n, Api::kUring, qd, 0, false, true},
      {"direct_tuned_" + n, Api::kUring, qd, kTuned, true, true},
      {"direct_pwritev", Api::kPwritev, 1, 0, false, true},
  };
}

struct Config {
  const Variant* variant;
  uint64_t size;
  Flush flush;
  std::string Key() const {
    return std::string(FlushName(flush)) + "/" + std::to_string(size) + "/" + variant->name;
  }
};

struct Figures {
  std::vector<double> mb_per_s;
  std::vector<double> p50_us;
  std::vector<double> p99_us;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  char tmpl[4096];
  std::snprintf(tmpl, sizeof(tmpl), "%s/write-path-bench-XXXXXX", o.dir.c_str());
  if (::mkdtemp(tmpl) == nullptr)
    Fail(std::string("mkdtemp in ") + o.dir + ": " + std::strerror(errno));
  const std::string dir = tmpl;

  std::printf(
      "write_path_bench: %d round(s), %llu MiB per run (flush=write: at most %llu writes),"
      " qd %d, fdatasync every %llu MiB in flush=every; files in %s (removed at exit)\n",
      o.rounds, static_cast<unsigned long long>(o.mib), static_cast<unsigned long long>(o.sync_ops),
      o.qd, static_cast<unsigned long long>(o.sync_every_mib), dir.c_str());
  std::ifstream load("/proc/loadavg");
  std::string loadavg;
  std::getline(load, loadavg);
  std::printf("load at start: %s\n", loadavg.c_str());
  const int buffered_workers = PunterCount(dir, false);
  const int direct_workers = PunterCount(dir, true);
  std::printf(
      "io-wq check (256 writes of 4 KiB, one at a time, fresh thread): buffered -> %d "
      "iou-wrk worker(s) (%s); O_DIRECT -> %d (%s)\n",
      buffered_workers, buffered_workers == 0 ? "completed inline" : "punted to io-wq",
      direct_workers, direct_workers == 0 ? "completed inline" : "punted to io-wq");
  std::printf("pwritev2(RWF_NOWAIT) on a buffered file: %s\n\n", NowaitCheck(dir).c_str());
  std::fflush(stdout);

  const std::vector<Variant> variants = Variants(o.qd);
  std::vector<Config> configs;
  for (Flush f : o.flushes) {
    for (uint64_t size : o.sizes) {
      for (const Variant& v : variants) {
        Config c{&v, size, f};
        if (!o.only.empty() && c.Key().find(o.only) == std::string::npos) continue;
        configs.push_back(c);
      }
    }
  }
  if (configs.empty()) Fail("--only matches no configuration");

  std::map<std::string, Figures> figures;
  for (int r = 0; r < o.rounds; ++r) {
    // Rotate and, every other round, reverse: each configuration meets different neighbours.
    std::vector<Config> order = configs;
    std::rotate(
        order.begin(),
        order.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r) * 7 % order.size()),
        order.end());
    if (r % 2 == 1) std::reverse(order.begin(), order.end());
    for (const Config& c : order) {
      Sample s = Run(*c.variant, o, c.size, c.flush, dir + "/data");
      Figures& f = figures[c.Key()];
      f.mb_per_s.push_back(s.mb_per_s);
      if (!s.latency_us.empty()) {
        f.p50_us.push_back(Percentile(s.latency_us, 0.50));
        f.p99_us.push_back(Percentile(s.latency_us, 0.99));
      }
    }
    std::fprintf(stderr, "write_path_bench: round %d of %d done\n", r + 1, o.rounds);
  }
  ::rmdir(dir.c_str());

  for (Flush f : o.flushes) {
    for (uint64_t size : o.sizes) {
      std::printf("flush=%s, %llu-byte writes: MB/s median [min, max] over %d round(s)%s\n",
                  FlushName(f), static_cast<unsigned long long>(size), o.rounds,
                  f == Flush::kWrite ? "; per write+fdatasync latency, us" : "");
      std::string best;
      double best_rate = 0;
      double pwritev_rate = NAN;
      for (const Variant& v : variants) {
        auto it = figures.find(Config{&v, size, f}.Key());
        if (it == figures.end()) continue;
        const Figures& fig = it->second;
        const double rate = Median(fig.mb_per_s);
        if (v.name == "pwritev") pwritev_rate = rate;
        if (rate > best_rate) best_rate = rate, best = v.name;
        std::printf("  %-20s %28s", v.name.c_str(), Span(fig.mb_per_s).c_str());
        if (f == Flush::kWrite) {
          std::printf("   p50 %s   p99 %s", Span(fig.p50_us).c_str(), Span(fig.p99_us).c_str());
        }
        std::printf("\n");
      }
      if (!best.empty()) {
        std::printf("  fastest: %s (%.0f MB/s", best.c_str(), best_rate);
        if (!std::isnan(pwritev_rate)) std::printf(", %.2fx pwritev", best_rate / pwritev_rate);
        std::printf(")\n\n");
      }
    }
  }
  return 0;
}
