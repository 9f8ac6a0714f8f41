// kafka_bench: the network benchmark of `sluice serve` (works against any Kafka broker), through
// librdkafka's C API, which is included here and nowhere else in the tree.
//
//   --mode produce   one producer, tuned for throughput (linger, 1 MB batches, no client
//                    compression), rd_kafka_produce in a tight loop, flush at the end; every
//                    record must get a successful delivery report. Prints records/s and MB/s.
//   --mode consume   the legacy (simple) consumer reading --records records from the beginning
//                    of every partition into one queue, large fetches. Prints records/s.
//   --mode latency   a producer paced at --rate records/s; latency of every record from its
//                    rd_kafka_produce() call to its delivery report (read on a thread blocked in
//                    rd_kafka_poll, so reports are seen as soon as librdkafka has them). Prints
//                    p50/p99/p99.9/max, and the same from each record's scheduled send time
//                    (which also counts any lag of the pacer).
//   --mode create    only create the topic (CreateTopics with --partitions and --topic-config).
//   --mode compress  no broker: the same-run ceiling of the codec work. ZSTD_compressCCtx (at
//                    --zstd-level, the server's topic level) and ZSTD_decompressDCtx, one thread,
//                    of the records sections of batches like the producer's.
//   --mode fsync     no broker: pwrite + fdatasync of --fsync-bytes, back to back, in --dir: the
//                    disk's share of a flush=sync produce, measured in the same run.
//   --mode disk-commit  no broker: records arriving at --rate committed in groups (one pwrite +
//                    fdatasync each) by one thread: the disk's floor for the latency mode.
//
// Output: one JSON line on stdout per run; a human summary on stderr. MB/s counts value bytes
// only (records x value size), as ../shared/peers/RESULTS.md does for the peers.
// With --server-pid, the broker's CPU time over the timed interval (whole process and per thread,
// from /proc/PID/task/*/stat, with the time each thread was runnable but waiting for a CPU, from
// schedstat) goes into the JSON line too, next to this process's own CPU time and the load average.
// --producers K / --consumers K run K clients (K connections) on K threads.
//
// Values: a pool of 65,536 distinct values generated up front like the Redis peer's W1 values
// (groups of 12 random decimal digits, then letters), cycled; 6.5 MB of distinct values is far
// more than a zstd window, so the server's compression sees no artificial repeats.
//
// Run: bench/run_kafka_bench.sh BUILD_DIR (starts the server, runs all modes and the Redis peer).

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Json = nlohmann::ordered_json;

struct Flags {
  std::string broker = "127.0.0.1:9092";
  std::string topic = "kbench";
  std::string mode = "produce";
  int64_t records = 5'000'000;
  int value_bytes = 100;
  std::string acks = "1";
  double rate = 50'000;        // latency mode, records/s
  int64_t warmup_records = 0;  // latency mode: left out of the percentiles
  int64_t tick_us = 100;
  int fsync_bytes = 4096;     // fsync mode: bytes per append
  std::string dir = "/tmp";   // fsync mode: where the file goes       // latency mode: the pacer
                              // sends what is due every tick_us
  int partitions = 1;         // for --create-topic / --mode create
  int producers = 1;          // produce mode: clients (connections), each with its own thread
  int consumers = 1;          // consume mode: the same; consumer k reads partitions p % K == k
  int zstd_level = 3;         // compress mode: the level of the server's topics
  bool create_topic = false;  // CreateTopics before the run (an existing topic is fine)
  std::vector<std::string> topic_configs;  // key=value for CreateTopics
  double linger_ms = -1;                   // -1: 10 for produce, 0 for latency
  int batch_messages = 100'000;
  int batch_bytes = 1'000'000;
  int64_t timeout_s = 300;
  int server_pid = 0;
  std::string label;
  std::vector<std::string> set;  // extra librdkafka properties, key=value
  std::string stats_file;        // librdkafka statistics (rtt, queue latencies), every second
};

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "kafka_bench: %s\n", what.c_str());
  std::exit(1);
}

std::pair<std::string, std::string> SplitKv(const std::string& kv) {
  const auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) Die("'" + kv + "' is not key=value");
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

// --- CPU time ------------------------------------------------------------------------------------

double SelfCpuS() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

struct ThreadCpu {
  std::string comm;
  double user_s = 0;
  double sys_s = 0;
  double runq_wait_s =
      0;  // runnable but waiting for a CPU (schedstat), e.g. behind other processes
};

// utime and stime of a /proc/.../stat line (fields 14 and 15; comm may contain spaces).
bool ReadStat(const std::filesystem::path& path, ThreadCpu& out) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto open = line.find('(');
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return false;
  out.comm = line.substr(open + 1, close - open - 1);
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) out.user_s = std::stod(field) / tick;
    if (i == 15) out.sys_s = std::stod(field) / tick;
  }
  return true;
}

std::map<int, ThreadCpu> ProcessThreads(int pid) {
  std::map<int, ThreadCpu> out;
  if (pid <= 0) return out;
  std::error_code ec;
  const std::filesystem::path task = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& e : std::filesystem::directory_iterator(task, ec)) {
    ThreadCpu t;
    if (!ReadStat(e.path() / "stat", t)) continue;
    std::ifstream sched(e.path() / "schedstat");
    double run_ns = 0, wait_ns = 0;
    if (sched >> run_ns >> wait_ns) t.runq_wait_s = wait_ns / 1e9;
    out[std::stoi(e.path().filename())] = t;
  }
  return out;
}

double TotalRunqWaitS(const std::map<int, ThreadCpu>& threads) {
  double s = 0;
  for (const auto& [tid, t] : threads) s += t.runq_wait_s;
  return s;
}

// The broker's CPU over the interval: total, and per thread (busiest first, idle threads left out).
Json ServerCpuJson(const std::map<int, ThreadCpu>& before, const std::map<int, ThreadCpu>& after,
                   double wall_s) {
  double user = 0, sys = 0, wait = 0;
  std::vector<std::pair<double, Json>> threads;
  for (const auto& [tid, t] : after) {
    ThreadCpu b;
    if (auto it = before.find(tid); it != before.end()) b = it->second;
    const double du = t.user_s - b.user_s, ds = t.sys_s - b.sys_s;
    const double dw = t.runq_wait_s - b.runq_wait_s;
    user += du;
    sys += ds;
    wait += dw;
    if (du + ds >= 0.01) {
      threads.emplace_back(du + ds, Json{{"tid", tid},
                                         {"comm", t.comm},
                                         {"user_s", std::round(du * 100) / 100},
                                         {"sys_s", std::round(ds * 100) / 100},
                                         {"runq_wait_s", std::round(dw * 100) / 100}});
    }
  }
  std::sort(threads.begin(), threads.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  Json list = Json::array();
  for (auto& t : threads) list.push_back(std::move(t.second));
  return Json{{"user_s", std::round(user * 100) / 100},
              {"sys_s", std::round(sys * 100) / 100},
              {"cores", std::round((user + sys) / wall_s * 100) / 100},
              {"runq_wait_s", std::round(wait * 100) / 100},
              {"threads", list}};
}

// A snapshot taken at both ends of a timed interval: the clock, this process's CPU time, the
// broker's threads and the load average (other processes on the machine compete for the cores).
struct Probe {
  int64_t ns = 0;
  double self_cpu_s = 0;
  double self_runq_wait_s = 0;
  std::map<int, ThreadCpu> self;  // this process's threads (librdkafka's among them)
  std::map<int, ThreadCpu> server;
  double load1 = 0;

  static Probe Take(int server_pid) {
    Probe p;
    p.server = ProcessThreads(server_pid);
    p.self_cpu_s = SelfCpuS();
    p.self = ProcessThreads(static_cast<int>(getpid()));
    p.self_runq_wait_s = TotalRunqWaitS(p.self);
    std::ifstream("/proc/loadavg") >> p.load1;
    p.ns = NowNs();
    return p;
  }
  double Secs(const Probe& before) const { return static_cast<double>(ns - before.ns) / 1e9; }
  void AddTo(const Probe& before, Json& out) const {
    out["client_cpu_s"] = std::round((self_cpu_s - before.self_cpu_s) * 100) / 100;
    out["client_runq_wait_s"] =
        std::round((self_runq_wait_s - before.self_runq_wait_s) * 100) / 100;
    // The client's busiest thread over the interval: for a consumer, librdkafka's thread of the
    // broker connection (rdk:broker<id>), which receives, decrypts (TLS) and parses every fetch
    // response; the interval can be no shorter than its CPU time.
    double busiest = 0;
    std::string busiest_comm;
    for (const auto& [tid, t] : self) {
      ThreadCpu b;
      if (auto it = before.self.find(tid); it != before.self.end()) b = it->second;
      const double d = t.user_s + t.sys_s - b.user_s - b.sys_s;
      if (d > busiest) {
        busiest = d;
        busiest_comm = t.comm;
      }
    }
    out["client_busiest_thread"] = {{"comm", busiest_comm},
                                    {"cpu_s", std::round(busiest * 100) / 100}};
    if (!server.empty()) out["server_cpu"] = ServerCpuJson(before.server, server, Secs(before));
    out["loadavg_1m"] = {before.load1, load1};
  }
};

// --- librdkafka setup ----------------------------------------------------------------------------

void Set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    Die("config " + key + "=" + value + ": " + err);
  }
}

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

rd_kafka_conf_t* BaseConf(const Flags& f) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Set(conf, "bootstrap.servers", f.broker);
  Set(conf, "client.id", "kafka_bench");
  Set(conf, "socket.nagle.disable", "true");
  Set(conf, "log_level", "4");
  return conf;
}

FILE* g_stats_file = nullptr;  // --stats-file: librdkafka statistics, one JSON object a line

int WriteStats(rd_kafka_t*, char* json, size_t len, void*) {
  std::fwrite(json, 1, len, g_stats_file);
  std::fputc('\n', g_stats_file);
  return 0;  // librdkafka frees json
}

void ApplyUserSettings(rd_kafka_conf_t* conf, const Flags& f) {
  for (const auto& kv : f.set) {
    const auto [k, v] = SplitKv(kv);
    Set(conf, k, v);
  }
  if (!f.stats_file.empty()) {
    if (g_stats_file == nullptr) g_stats_file = std::fopen(f.stats_file.c_str(), "a");
    if (g_stats_file == nullptr) Die("cannot open " + f.stats_file);
    Set(conf, "statistics.interval.ms", "1000");
    rd_kafka_conf_set_stats_cb(conf, WriteStats);
  }
}

rd_kafka_t* NewClient(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) Die(std::string("rd_kafka_new: ") + err);
  return rk;
}

// Partition count of the topic (a Metadata request; also auto-creates it and opens the connection,
// so the timed part of a run does not include connecting).
int TopicPartitions(rd_kafka_t* rk, rd_kafka_topic_t* rkt) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) Die(std::string("metadata: ") + rd_kafka_err2str(err));
    int n = 0;
    rd_kafka_resp_err_t terr = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (md->topic_cnt == 1) {
      n = md->topics[0].partition_cnt;
      terr = md->topics[0].err;
    }
    rd_kafka_metadata_destroy(md);
    if (terr == RD_KAFKA_RESP_ERR_NO_ERROR && n > 0) return n;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Die("topic has no partitions in metadata");
}

void CreateTopic(const Flags& f) {
  rd_kafka_conf_t* conf = BaseConf(f);
  ApplyUserSettings(conf, f);
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, conf);
  char err[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(f.topic.c_str(), f.partitions, 1, err, sizeof err);
  if (nt == nullptr) Die(std::string("NewTopic: ") + err);
  for (const auto& kv : f.topic_configs) {
    const auto [k, v] = SplitKv(kv);
    if (rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Die("topic config " + kv);
    }
  }
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30'000);
  if (ev == nullptr) Die("CreateTopics: no answer in 30 s");
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Die(std::string("CreateTopics: ") + rd_kafka_event_error_string(ev));
  }
  size_t n = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      std::fprintf(stderr, "kafka_bench: topic %s exists already\n", f.topic.c_str());
    } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* msg = rd_kafka_topic_result_error_string(res[i]);
      Die("CreateTopics " + f.topic + ": " + rd_kafka_err2str(e) + " " + (msg ? msg : ""));
    }
  }
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_destroy(rk);
}

// --- values --------------------------------------------------------------------------------------

constexpr size_t kPoolValues = 65'536;

// kPoolValues values of value_bytes each, back to back, made as redis-benchmark makes the Redis
// peer's W1 values: value_bytes / 12 groups of "__rand_int__", each replaced by random() %
// 2,000,000,000 printed as 12 zero-padded digits (-r 2000000000), then the same few random
// letters in every value.
std::vector<char> MakeValuePool(int value_bytes) {
  const auto size = static_cast<size_t>(value_bytes);
  std::vector<char> pool(kPoolValues * size);
  std::mt19937_64 rng(7);
  std::string letters;
  for (size_t i = size / 12 * 12; i < size; ++i) {
    letters += "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[rng() % 52];
  }
  for (size_t v = 0; v < kPoolValues; ++v) {
    char* p = pool.data() + v * size;
    for (size_t g = 0; g < size / 12; ++g) {
      uint64_t r = rng() % 2'000'000'000;
      for (int j = 11; j >= 0; --j, r /= 10)
        p[g * 12 + static_cast<size_t>(j)] = static_cast<char>('0' + r % 10);
    }
    std::memcpy(p + size / 12 * 12, letters.data(), letters.size());
  }
  return pool;
}

const char* PoolValue(const std::vector<char>& pool, int64_t i, int value_bytes) {
  return pool.data() + static_cast<size_t>(i) % kPoolValues * static_cast<size_t>(value_bytes);
}

// --- produce -------------------------------------------------------------------------------------

struct DeliveryCounts {
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> first_error{0};  // rd_kafka_resp_err_t of the first failure
};

void CountDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* c = static_cast<DeliveryCounts*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    c->delivered.fetch_add(1, std::memory_order_relaxed);
  } else {
    if (c->errors.fetch_add(1, std::memory_order_relaxed) == 0) c->first_error = m->err;
  }
}

rd_kafka_conf_t* ProducerConf(const Flags& f, double linger_ms) {
  rd_kafka_conf_t* conf = BaseConf(f);
  Set(conf, "acks", f.acks == "all" ? "-1" : f.acks);
  Set(conf, "compression.codec", "none");
  Set(conf, "linger.ms", Num(linger_ms));
  Set(conf, "batch.num.messages", std::to_string(f.batch_messages));
  Set(conf, "batch.size", std::to_string(f.batch_bytes));
  Set(conf, "message.max.bytes", std::to_string(std::max(f.batch_bytes + 65'536, 1'000'000)));
  Set(conf, "queue.buffering.max.messages", "2000000");
  Set(conf, "queue.buffering.max.kbytes", "2097151");
  ApplyUserSettings(conf, f);
  return conf;
}

void Produce(const Flags& f, Json& out) {
  const std::vector<char> pool = MakeValuePool(f.value_bytes);
  const double linger = f.linger_ms >= 0 ? f.linger_ms : 10;
  DeliveryCounts counts;
  // One client (and one connection) per producer, each sending its share of the records.
  struct Producer {
    rd_kafka_t* rk = nullptr;
    rd_kafka_topic_t* rkt = nullptr;
    int64_t first = 0, end = 0, queue_full = 0;
  };
  std::vector<Producer> producers(static_cast<size_t>(f.producers));
  int partitions = 0;
  for (size_t k = 0; k < producers.size(); ++k) {
    rd_kafka_conf_t* conf = ProducerConf(f, linger);
    rd_kafka_conf_set_dr_msg_cb(conf, CountDelivery);
    rd_kafka_conf_set_opaque(conf, &counts);
    Producer& p = producers[k];
    p.rk = NewClient(RD_KAFKA_PRODUCER, conf);
    p.rkt = rd_kafka_topic_new(p.rk, f.topic.c_str(), nullptr);
    partitions = TopicPartitions(p.rk, p.rkt);
    p.first = f.records * static_cast<int64_t>(k) / f.producers;
    p.end = f.records * static_cast<int64_t>(k + 1) / f.producers;
  }
  auto run = [&](Producer& p) {
    for (int64_t i = p.first; i < p.end; ++i) {
      // Flags 0: librdkafka neither copies nor frees the value; the pool outlives the client.
      auto* value = const_cast<char*>(PoolValue(pool, i, f.value_bytes));
      while (rd_kafka_produce(p.rkt, RD_KAFKA_PARTITION_UA, 0, value,
                              static_cast<size_t>(f.value_bytes), nullptr, 0, nullptr) == -1) {
        const rd_kafka_resp_err_t err = rd_kafka_last_error();
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          Die(std::string("produce: ") + rd_kafka_err2str(err));
        }
        ++p.queue_full;
        rd_kafka_poll(p.rk, 1);
      }
      if ((i & 1023) == 0) rd_kafka_poll(p.rk, 0);
    }
    const rd_kafka_resp_err_t ferr = rd_kafka_flush(p.rk, static_cast<int>(f.timeout_s * 1000));
    if (ferr != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "kafka_bench: flush: %s\n", rd_kafka_err2str(ferr));
    }
  };

  const Probe before = Probe::Take(f.server_pid);
  if (producers.size() == 1) {
    run(producers[0]);
  } else {
    std::vector<std::thread> threads;
    for (Producer& p : producers) threads.emplace_back(run, std::ref(p));
    for (auto& t : threads) t.join();
  }
  const Probe after = Probe::Take(f.server_pid);

  const double secs = after.Secs(before);
  const int64_t delivered = counts.delivered.load(), errors = counts.errors.load();
  int64_t queue_full = 0;
  for (Producer& p : producers) {
    queue_full += p.queue_full;
    rd_kafka_topic_destroy(p.rkt);
    rd_kafka_destroy(p.rk);
  }
  out["partitions"] = partitions;
  out["producers"] = f.producers;
  out["acks"] = f.acks;
  out["linger_ms"] = linger;
  out["batch_messages"] = f.batch_messages;
  out["batch_bytes"] = f.batch_bytes;
  out["secs"] = std::round(secs * 1000) / 1000;
  out["rec_per_s"] = std::round(static_cast<double>(delivered) / secs);
  out["MBps"] = std::round(static_cast<double>(delivered) * f.value_bytes / secs / 1e5) / 10;
  out["delivered"] = delivered;
  out["errors"] = errors;
  if (errors > 0) {
    out["first_error"] =
        rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(counts.first_error.load()));
  }
  out["queue_full_waits"] = queue_full;
  after.AddTo(before, out);
  out["ok"] = errors == 0 && delivered == f.records;
  std::fprintf(stderr,
               "produce: %" PRId64
               " records x %d B to %s (%d partitions, %d producers), acks=%s, "
               "linger %g ms: %.3f s, %.0f records/s, %.1f MB/s, %" PRId64 " delivery errors\n",
               delivered, f.value_bytes, f.topic.c_str(), partitions, f.producers, f.acks.c_str(),
               linger, secs, out["rec_per_s"].get<double>(), out["MBps"].get<double>(), errors);
}

// --- consume -------------------------------------------------------------------------------------

// One consumer client: its partitions (p % consumers == k) feed one queue.
struct Consumer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* rkt = nullptr;
  rd_kafka_queue_t* q = nullptr;
  std::vector<int> partitions;
  int64_t records = 0, bytes = 0, errors = 0, first_ns = 0;
  std::string first_error;
};

void Consume(const Flags& f, Json& out) {
  std::vector<Consumer> consumers(static_cast<size_t>(f.consumers));
  int partitions = 0;
  for (size_t k = 0; k < consumers.size(); ++k) {
    rd_kafka_conf_t* conf = BaseConf(f);
    Set(conf, "fetch.message.max.bytes", "4194304");
    Set(conf, "fetch.max.bytes", "134217728");
    Set(conf, "receive.message.max.bytes", "200000000");
    Set(conf, "queued.min.messages", "2000000");
    Set(conf, "queued.max.messages.kbytes", "1048576");
    Set(conf, "fetch.wait.max.ms", "100");
    Set(conf, "enable.partition.eof", "false");
    ApplyUserSettings(conf, f);
    Consumer& c = consumers[k];
    c.rk = NewClient(RD_KAFKA_CONSUMER, conf);
    c.rkt = rd_kafka_topic_new(c.rk, f.topic.c_str(), nullptr);
    partitions = TopicPartitions(c.rk, c.rkt);
    for (int p = static_cast<int>(k); p < partitions; p += f.consumers) c.partitions.push_back(p);
    c.q = rd_kafka_queue_new(c.rk);
  }

  std::atomic<int64_t> total{0};
  std::atomic<int64_t> last_progress{0};
  auto run = [&](Consumer& c) {
    for (int p : c.partitions) {
      if (rd_kafka_consume_start_queue(c.rkt, p, RD_KAFKA_OFFSET_BEGINNING, c.q) == -1) {
        Die(std::string("consume_start: ") + rd_kafka_err2str(rd_kafka_last_error()));
      }
    }
    std::vector<rd_kafka_message_t*> batch(10'000);
    while (total.load(std::memory_order_relaxed) < f.records) {
      const ssize_t n = rd_kafka_consume_batch_queue(c.q, 100, batch.data(), batch.size());
      const int64_t now = NowNs();
      if (n < 0) Die(std::string("consume: ") + rd_kafka_err2str(rd_kafka_last_error()));
      int64_t got = 0;
      for (ssize_t i = 0; i < n; ++i) {
        rd_kafka_message_t* m = batch[static_cast<size_t>(i)];
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          ++got;
          c.bytes += static_cast<int64_t>(m->len);
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          if (c.errors++ == 0) c.first_error = rd_kafka_message_errstr(m);
        }
        rd_kafka_message_destroy(m);
      }
      if (got > 0) {
        c.records += got;
        total.fetch_add(got, std::memory_order_relaxed);
        last_progress.store(now, std::memory_order_relaxed);
        if (c.first_ns == 0) c.first_ns = now;
      } else if (now - last_progress.load(std::memory_order_relaxed) >
                 f.timeout_s * 1'000'000'000LL / 10) {
        std::fprintf(stderr, "kafka_bench: no records for %" PRId64 " s; stopping\n",
                     f.timeout_s / 10);
        break;
      }
    }
    for (int p : c.partitions) rd_kafka_consume_stop(c.rkt, p);
  };

  const Probe before = Probe::Take(f.server_pid);
  last_progress = before.ns;
  if (consumers.size() == 1) {
    run(consumers[0]);
  } else {
    std::vector<std::thread> threads;
    for (Consumer& c : consumers) threads.emplace_back(run, std::ref(c));
    for (auto& t : threads) t.join();
  }
  const Probe after = Probe::Take(f.server_pid);

  const double secs = after.Secs(before);
  int64_t records = 0, bytes = 0, errors = 0, first_ns = 0;
  std::string first_error;
  for (Consumer& c : consumers) {
    records += c.records;
    bytes += c.bytes;
    if (c.errors > 0 && errors == 0) first_error = c.first_error;
    errors += c.errors;
    if (c.first_ns != 0 && (first_ns == 0 || c.first_ns < first_ns)) first_ns = c.first_ns;
    rd_kafka_queue_destroy(c.q);
    rd_kafka_topic_destroy(c.rkt);
    rd_kafka_destroy(c.rk);
  }
  out["partitions"] = partitions;
  out["consumers"] = f.consumers;
  out["secs"] = std::round(secs * 1000) / 1000;
  out["rec_per_s"] = std::round(static_cast<double>(records) / secs);
  out["MBps"] = std::round(static_cast<double>(bytes) / secs / 1e5) / 10;
  // Connecting is done before the clock starts; this is ListOffsets, the first fetch and its
  // decoding (librdkafka hands over a fetch's records only when it has decoded all of them).
  out["first_record_ms"] =
      first_ns ? std::round(static_cast<double>(first_ns - before.ns) / 1e4) / 100 : -1;
  out["consumed"] = records;
  out["errors"] = errors;
  if (errors > 0) out["first_error"] = first_error;
  after.AddTo(before, out);
  out["ok"] = errors == 0 && records >= f.records;
  std::fprintf(stderr,
               "consume: %" PRId64
               " records from %s (%d partitions, %d consumers): %.3f s, %.0f records/s, "
               "%.1f MB/s, first record after %.1f ms, %" PRId64 " errors\n",
               records, f.topic.c_str(), partitions, f.consumers, secs,
               out["rec_per_s"].get<double>(), out["MBps"].get<double>(),
               out["first_record_ms"].get<double>(), errors);
}

// --- latency -------------------------------------------------------------------------------------

struct LatencyState {
  std::vector<int64_t> sent_ns;   // when rd_kafka_produce was called, per record
  std::vector<int64_t> sched_ns;  // when the pacer meant to send it
  std::vector<int64_t> done_ns;   // when its delivery report was seen; 0 = none yet
  std::atomic<int64_t> reports{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> first_error{0};
};

void RecordDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  const int64_t now = NowNs();
  auto* s = static_cast<LatencyState*>(opaque);
  const auto i = reinterpret_cast<uintptr_t>(m->_private);
  s->done_ns[i] = now;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (s->errors.fetch_add(1, std::memory_order_relaxed) == 0) s->first_error = m->err;
  }
  s->reports.fetch_add(1, std::memory_order_release);
}

double Percentile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]);
}

Json LatencyJson(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  auto us = [](double ns) { return std::round(ns / 100) / 10; };
  return Json{{"p50_us", us(Percentile(v, 0.50))},
              {"p90_us", us(Percentile(v, 0.90))},
              {"p99_us", us(Percentile(v, 0.99))},
              {"p999_us", us(Percentile(v, 0.999))},
              {"max_us", us(v.empty() ? 0.0 : static_cast<double>(v.back()))},
              {"mean_us", us(v.empty() ? 0.0 : sum / static_cast<double>(v.size()))}};
}

void Latency(const Flags& f, Json& out) {
  const std::vector<char> pool = MakeValuePool(f.value_bytes);
  const double linger = f.linger_ms >= 0 ? f.linger_ms : 0;
  const auto n = static_cast<size_t>(f.records);
  LatencyState state;
  state.sent_ns.assign(n, 0);
  state.sched_ns.assign(n, 0);
  state.done_ns.assign(n, 0);
  rd_kafka_conf_t* conf = ProducerConf(f, linger);
  rd_kafka_conf_set_dr_msg_cb(conf, RecordDelivery);
  rd_kafka_conf_set_opaque(conf, &state);
  rd_kafka_t* rk = NewClient(RD_KAFKA_PRODUCER, conf);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, f.topic.c_str(), nullptr);
  const int partitions = TopicPartitions(rk, rkt);

  // Sleeps to the next send time are short (20 us at 50,000/s): ask for no timer slack.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    while (!stop.load(std::memory_order_acquire)) rd_kafka_poll(rk, 100);
    rd_kafka_poll(rk, 0);
  });

  const Probe before = Probe::Take(f.server_pid);
  const double period_ns = 1e9 / f.rate;
  const int64_t tick_ns = std::max<int64_t>(1, f.tick_us * 1000);
  const int64_t t0 = NowNs() + 1'000'000;
  int64_t max_behind_ns = 0;
  int64_t queue_full = 0;  // rd_kafka_produce refused: the client's queue was full
  for (size_t i = 0; i < n; ++i) {
    const int64_t due = t0 + static_cast<int64_t>(static_cast<double>(i) * period_ns);
    int64_t now = NowNs();
    if (now < due) {
      // Wake on tick boundaries and send every record due by then: at 50,000/s a sleep per record
      // would cost the client a third of a core in wake-ups, taken from the server.
      const int64_t wake = t0 + (due - t0 + tick_ns - 1) / tick_ns * tick_ns;
      timespec ts{static_cast<time_t>(wake / 1'000'000'000),
                  static_cast<long>(wake % 1'000'000'000)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      now = NowNs();
    }
    max_behind_ns = std::max(max_behind_ns, now - due);
    auto* value = const_cast<char*>(PoolValue(pool, static_cast<int64_t>(i), f.value_bytes));
    state.sched_ns[i] = due;
    state.sent_ns[i] = now;
    while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, 0, value,
                            static_cast<size_t>(f.value_bytes), nullptr, 0,
                            reinterpret_cast<void*>(static_cast<uintptr_t>(i))) == -1) {
      const rd_kafka_resp_err_t err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        Die(std::string("produce: ") + rd_kafka_err2str(err));
      }
      ++queue_full;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  const int64_t t_sent = NowNs();
  const int64_t deadline = t_sent + f.timeout_s * 1'000'000'000LL;
  while (state.reports.load(std::memory_order_acquire) < f.records && NowNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const Probe after = Probe::Take(f.server_pid);
  const int64_t t1 = after.ns;
  stop.store(true, std::memory_order_release);
  poller.join();

  std::vector<int64_t> lat, sched_lat;
  int64_t missing = 0;
  for (size_t i = static_cast<size_t>(std::max<int64_t>(f.warmup_records, 0)); i < n; ++i) {
    if (state.done_ns[i] == 0) {
      ++missing;
      continue;
    }
    lat.push_back(state.done_ns[i] - state.sent_ns[i]);
    sched_lat.push_back(state.done_ns[i] - state.sched_ns[i]);
  }
  const double send_secs = static_cast<double>(t_sent - t0) / 1e9;
  const double secs = static_cast<double>(t1 - t0) / 1e9;
  const int64_t errors = state.errors.load();
  out["partitions"] = partitions;
  out["acks"] = f.acks;
  out["linger_ms"] = linger;
  out["rate"] = f.rate;
  out["achieved_rate"] = std::round(static_cast<double>(f.records) / send_secs);
  out["warmup_records"] = f.warmup_records;
  out["measured"] = static_cast<int64_t>(lat.size());
  out["latency"] = LatencyJson(lat);
  out["latency_from_schedule"] = LatencyJson(sched_lat);
  out["tick_us"] = f.tick_us;
  out["pacer_max_behind_us"] = std::round(static_cast<double>(max_behind_ns) / 100) / 10;
  out["secs"] = std::round(secs * 1000) / 1000;
  out["errors"] = errors;
  if (errors > 0)
    out["first_error"] =
        rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(state.first_error.load()));
  out["missing_reports"] = missing;
  out["queue_full"] = queue_full;
  after.AddTo(before, out);
  out["ok"] = errors == 0 && missing == 0;

  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  const Json& l = out["latency"];
  std::fprintf(stderr,
               "latency: %zu records at %.0f/s (achieved %.0f/s) to %s, acks=%s, linger %g ms: "
               "p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us; from schedule p99 %.0f us; "
               "%" PRId64 " errors, %" PRId64 " without report, queue full %" PRId64 " times\n",
               lat.size(), f.rate, out["achieved_rate"].get<double>(), f.topic.c_str(),
               f.acks.c_str(), linger, l["p50_us"].get<double>(), l["p99_us"].get<double>(),
               l["p999_us"].get<double>(), l["max_us"].get<double>(),
               out["latency_from_schedule"]["p99_us"].get<double>(), errors, missing, queue_full);
}

// --- compress: the same-run ceiling of the server's and the consumer's codec work --------------

void PutVarint(std::string& out, int64_t v) {
  auto z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);  // zigzag
  while (z >= 0x80) {
    out.push_back(static_cast<char>(z | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<char>(z));
}

// ZSTD_compressCCtx and ZSTD_decompressDCtx, one thread, of record-batch records sections built
// as librdkafka builds them for these values (v2 records: no key, no headers) and cut at
// --batch-bytes, as the producer cuts its batches. A 1-partition produce cannot beat the
// compression rate, since the server compresses one connection's batches one after another; a
// consumer cannot beat the decompression rate (librdkafka decompresses on one thread).
void Compress(const Flags& f, Json& out) {
  const std::vector<char> pool = MakeValuePool(f.value_bytes);
  std::vector<std::string> sections;
  std::vector<int64_t> counts;
  std::string cur;
  std::string rec;
  int64_t in_batch = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(kPoolValues); ++i) {
    rec.clear();
    rec.push_back(0);               // attributes
    PutVarint(rec, 0);              // timestamp delta
    PutVarint(rec, in_batch);       // offset delta
    PutVarint(rec, -1);             // key: null
    PutVarint(rec, f.value_bytes);  // value length
    rec.append(PoolValue(pool, i, f.value_bytes), static_cast<size_t>(f.value_bytes));
    PutVarint(rec, 0);  // headers
    std::string framed;
    PutVarint(framed, static_cast<int64_t>(rec.size()));
    framed += rec;
    if (!cur.empty() && cur.size() + framed.size() + 61 > static_cast<size_t>(f.batch_bytes)) {
      sections.push_back(std::move(cur));
      counts.push_back(in_batch);
      cur.clear();
      in_batch = 0;
      --i;  // this record starts the next batch, with offset delta 0
      continue;
    }
    cur += framed;
    ++in_batch;
  }
  if (!cur.empty()) {
    sections.push_back(std::move(cur));
    counts.push_back(in_batch);
  }

  const Probe before = Probe::Take(0);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::vector<std::string> frames(sections.size());
  std::string plain(static_cast<size_t>(f.batch_bytes) + 4096, '\0');
  int64_t records = 0, in_bytes = 0, out_bytes = 0;
  const int64_t c0 = NowNs();
  for (size_t b = 0; records < f.records; b = (b + 1) % sections.size()) {
    std::string& dst = frames[b];
    dst.resize(ZSTD_compressBound(sections[b].size()));
    const size_t n = ZSTD_compressCCtx(cctx, dst.data(), dst.size(), sections[b].data(),
                                       sections[b].size(), f.zstd_level);
    if (ZSTD_isError(n)) Die(std::string("zstd: ") + ZSTD_getErrorName(n));
    dst.resize(n);
    records += counts[b];
    in_bytes += static_cast<int64_t>(sections[b].size());
    out_bytes += static_cast<int64_t>(n);
  }
  const int64_t c1 = NowNs();
  int64_t d_records = 0;
  for (size_t b = 0; d_records < f.records; b = (b + 1) % sections.size()) {
    const size_t n =
        ZSTD_decompressDCtx(dctx, plain.data(), plain.size(), frames[b].data(), frames[b].size());
    if (ZSTD_isError(n) || n != sections[b].size()) Die("zstd: decompression mismatch");
    d_records += counts[b];
  }
  const int64_t c2 = NowNs();
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);

  const Probe after = Probe::Take(0);
  const double cs = static_cast<double>(c1 - c0) / 1e9, ds = static_cast<double>(c2 - c1) / 1e9;
  out["zstd_level"] = f.zstd_level;
  out["batch_bytes"] = f.batch_bytes;
  out["records_per_batch"] = counts.front();
  out["ratio"] =
      std::round(static_cast<double>(in_bytes) / static_cast<double>(out_bytes) * 1000) / 1000;
  out["compress_rec_per_s"] = std::round(static_cast<double>(records) / cs);
  out["compress_MBps"] = std::round(static_cast<double>(in_bytes) / cs / 1e5) / 10;
  out["decompress_rec_per_s"] = std::round(static_cast<double>(d_records) / ds);
  out["decompress_MBps"] = std::round(static_cast<double>(in_bytes) / ds / 1e5) / 10;
  after.AddTo(before, out);
  out["ok"] = true;
  std::fprintf(stderr,
               "compress: zstd level %d of %" PRId64
               " records in %zu-record sections of about %d "
               "B: ratio %.2f, compress %.0f records/s (%.1f MB/s), decompress %.0f records/s "
               "(%.1f MB/s), one thread\n",
               f.zstd_level, records, static_cast<size_t>(counts.front()), f.batch_bytes,
               out["ratio"].get<double>(), out["compress_rec_per_s"].get<double>(),
               out["compress_MBps"].get<double>(), out["decompress_rec_per_s"].get<double>(),
               out["decompress_MBps"].get<double>());
}

// --- fsync: the same-run baseline of the disk's share of a flush=sync produce -----------------

// --records appends of --fsync-bytes with pwrite + fdatasync each, back to back, to a new file in
// --dir (put it on the server's disk): what one durable append costs this disk now, without
// the server. A flush=sync produce of one connection pays at least one of these per request.
void Fsync(const Flags& f, Json& out) {
  std::string path = f.dir + "/kafka_bench-fsync-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) Die("mkstemp " + path + ": " + std::strerror(errno));
  std::string block(static_cast<size_t>(f.fsync_bytes), 'x');
  std::vector<int64_t> lat;
  lat.reserve(static_cast<size_t>(f.records));
  const Probe before = Probe::Take(0);
  off_t pos = 0;
  for (int64_t i = 0; i < f.records; ++i) {
    const int64_t t = NowNs();
    if (pwrite(fd, block.data(), block.size(), pos) != static_cast<ssize_t>(block.size()) ||
        fdatasync(fd) != 0) {
      Die(std::string("write/fdatasync: ") + std::strerror(errno));
    }
    lat.push_back(NowNs() - t);
    pos += static_cast<off_t>(block.size());
  }
  const Probe after = Probe::Take(0);
  close(fd);
  unlink(path.c_str());
  out["fsync_bytes"] = f.fsync_bytes;
  out["per_s"] = std::round(static_cast<double>(f.records) / after.Secs(before));
  out["latency"] = LatencyJson(lat);
  after.AddTo(before, out);
  out["ok"] = true;
  const Json& l = out["latency"];
  std::fprintf(stderr,
               "fsync: %" PRId64
               " x (pwrite %d B + fdatasync) in %s: %.0f/s, p50 %.0f us, p99 "
               "%.0f us, p99.9 %.0f us, max %.0f us\n",
               f.records, f.fsync_bytes, f.dir.c_str(), out["per_s"].get<double>(),
               l["p50_us"].get<double>(), l["p99_us"].get<double>(), l["p999_us"].get<double>(),
               l["max_us"].get<double>());
}

// --- disk-commit: the disk's own floor for a paced flush=sync producer ------------------------

// No broker and no network: records of --value-bytes (+ 70 bytes of batch framing) arrive at
// --rate, paced as the latency mode paces them; one committer thread takes everything that has
// arrived, writes it with one pwrite at the end of a preallocated file and makes it durable with
// one fdatasync, then the next group: the group commit of a perfect broker whose only cost is the
// disk. Latency per record from its scheduled arrival to the end of its group's fdatasync,
// percentiles over records (after --warmup-records), as the latency mode counts them. This is
// the same-run floor of the lat0 workload: a rare slow fdatasync delays every record behind it.
void DiskCommit(const Flags& f, Json& out) {
  std::string path = f.dir + "/kafka_bench-commit-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0) Die("mkstemp " + path + ": " + std::strerror(errno));
  const auto n = static_cast<size_t>(f.records);
  const size_t record_bytes = static_cast<size_t>(f.value_bytes) + 70;
  // Preallocated in steps, as the engine preallocates a segment: 1 MiB doubling to 64 MiB.
  uint64_t allocated = 0, step = 1 << 20;
  std::vector<int64_t> sched(n), done(n);
  std::mutex mu;
  std::condition_variable cv;
  size_t arrived = 0;
  const int64_t start = NowNs() + 1'000'000;
  const double interval_ns = 1e9 / f.rate;
  for (size_t i = 0; i < n; ++i) sched[i] = start + static_cast<int64_t>(interval_ns * i);
  std::thread pacer([&] {
    const int64_t tick = std::max<int64_t>(f.tick_us, 1) * 1000;
    size_t next = 0;
    while (next < n) {
      const int64_t now = NowNs();
      size_t due = next;
      while (due < n && sched[due] <= now) ++due;
      if (due > next) {
        std::lock_guard lock(mu);
        arrived = due;
        next = due;
        cv.notify_one();
      }
      std::this_thread::sleep_for(std::chrono::nanoseconds(tick));
    }
  });
  const Probe before = Probe::Take(0);
  std::string buf;
  uint64_t pos = 0;
  size_t committed = 0, groups = 0;
  while (committed < n) {
    size_t upto = 0;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return arrived > committed; });
      upto = arrived;
    }
    buf.assign((upto - committed) * record_bytes, 'x');
    while (pos + buf.size() > allocated) {
      if (posix_fallocate(fd, 0, static_cast<off_t>(allocated + step)) != 0) Die("fallocate");
      allocated += step;
      step = std::min<uint64_t>(step * 2, 64u << 20);
    }
    if (pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(pos)) !=
            static_cast<ssize_t>(buf.size()) ||
        fdatasync(fd) != 0) {
      Die(std::string("write/fdatasync: ") + std::strerror(errno));
    }
    pos += buf.size();
    const int64_t now = NowNs();
    for (size_t i = committed; i < upto; ++i) done[i] = now;
    committed = upto;
    ++groups;
  }
  pacer.join();
  const Probe after = Probe::Take(0);
  close(fd);
  unlink(path.c_str());
  std::vector<int64_t> lat;
  const auto warmup = std::min(n, static_cast<size_t>(std::max<int64_t>(f.warmup_records, 0)));
  for (size_t i = warmup; i < n; ++i) lat.push_back(done[i] - sched[i]);
  out["rate"] = f.rate;
  out["groups"] = groups;
  out["latency"] = LatencyJson(lat);
  after.AddTo(before, out);
  out["ok"] = true;
  const Json& l = out["latency"];
  std::fprintf(stderr,
               "disk-commit: %zu records of %zu B at %.0f/s in %zu groups (one pwrite + "
               "fdatasync each) in %s: p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us\n",
               n, record_bytes, f.rate, groups, f.dir.c_str(), l["p50_us"].get<double>(),
               l["p99_us"].get<double>(), l["p999_us"].get<double>(), l["max_us"].get<double>());
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{"Kafka-protocol benchmark for sluice serve (librdkafka " +
               std::string(rd_kafka_version_str()) + ")"};
  app.add_option("--broker", f.broker, "HOST:PORT of the broker")->capture_default_str();
  app.add_option("--topic", f.topic, "Topic")->capture_default_str();
  app.add_option("--mode", f.mode,
                 "produce | consume | latency | create | compress | fsync | disk-commit")
      ->check(CLI::IsMember(
          {"produce", "consume", "latency", "create", "compress", "fsync", "disk-commit"}))
      ->capture_default_str();
  app.add_option("--records", f.records, "Records to produce or consume")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--value-bytes", f.value_bytes, "Value size")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--acks", f.acks, "1 | all | 0")
      ->check(CLI::IsMember({"0", "1", "all", "-1"}))
      ->capture_default_str();
  app.add_option("--rate", f.rate, "Latency mode: records/s")
      ->check(CLI::Range(1.0, 1e8))
      ->capture_default_str();
  app.add_option("--warmup-records", f.warmup_records,
                 "Latency mode: first records left out of the percentiles")
      ->capture_default_str();
  app.add_option("--tick-us", f.tick_us,
                 "Latency mode: the pacer wakes every TICK us and sends the records due")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--fsync-bytes", f.fsync_bytes, "Fsync mode: bytes per pwrite")
      ->check(CLI::Range(1, 1 << 26))
      ->capture_default_str();
  app.add_option("--dir", f.dir, "Fsync mode: directory of the file")->capture_default_str();
  app.add_option("--partitions", f.partitions, "Partitions when creating the topic")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--producers", f.producers, "Produce mode: producer clients (connections)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--consumers", f.consumers, "Consume mode: consumer clients (connections)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--zstd-level", f.zstd_level, "Compress mode: zstd level")
      ->check(CLI::Range(-7, 22))
      ->capture_default_str();
  app.add_flag("--create-topic", f.create_topic,
               "Create the topic first (CreateTopics; an existing topic is kept)");
  app.add_option("--topic-config", f.topic_configs, "key=value config of a created topic");
  app.add_option("--linger-ms", f.linger_ms, "linger.ms (default 10 produce, 0 latency)");
  app.add_option("--batch-messages", f.batch_messages, "batch.num.messages")->capture_default_str();
  app.add_option("--batch-bytes", f.batch_bytes, "batch.size")->capture_default_str();
  app.add_option("--timeout-s", f.timeout_s, "Give up after this long without progress")
      ->capture_default_str();
  app.add_option("--server-pid", f.server_pid,
                 "Broker PID: report its CPU time (per thread) over the timed interval");
  app.add_option("--label", f.label, "Free text copied into the JSON line");
  app.add_option("--stats-file", f.stats_file,
                 "Append librdkafka's statistics (rtt, int_latency, outbuf_latency) every second");
  app.add_option("--set", f.set, "Extra librdkafka property key=value (repeatable)");
  CLI11_PARSE(app, argc, argv);

  if (f.create_topic || f.mode == "create") CreateTopic(f);
  if (f.mode == "create") return 0;

  Json out;
  out["bench"] = "kafka_bench";
  out["mode"] = f.mode;
  if (!f.label.empty()) out["label"] = f.label;
  out["broker"] = f.broker;
  out["topic"] = f.topic;
  out["records"] = f.records;
  out["value_bytes"] = f.value_bytes;
  out["librdkafka"] = rd_kafka_version_str();
  if (f.mode == "compress") {
    Compress(f, out);
  } else if (f.mode == "fsync") {
    Fsync(f, out);
  } else if (f.mode == "disk-commit") {
    DiskCommit(f, out);
  } else if (f.mode == "produce") {
    Produce(f, out);
  } else if (f.mode == "consume") {
    Consume(f, out);
  } else {
    Latency(f, out);
  }
  std::printf("%s\n", out.dump().c_str());
  std::fflush(stdout);
  return out["ok"].get<bool>() ? 0 : 2;
}
