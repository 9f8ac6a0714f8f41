#pragma once

// WriterPool: the engine's writer threads. A partition log that is asynchronously appended to
// (PartitionLog::AppendBatchesAsync) hands its writer role to one of them: the task writes one
// group of batches (a gathered write and, with flush=sync, its fdatasync) and passes the role on.
// Several threads let several partitions' writes and syncs be in flight at once (ext4 joins
// concurrent fdatasyncs into one journal commit).
//
// Tasks run in the order posted. The threads start with the first task, so an engine that is
// only appended to synchronously (the embedded API, the CLI) has none. Thread-safe.
//
// Stop runs what is queued and joins; the engine stops the pool only after every partition log
// is closed (a log's Close waits for its writer role to go idle, which may need a task to run).

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice::engine {

class WriterPool {
 public:
  explicit WriterPool(int threads) : threads_wanted_(threads < 1 ? 1 : threads) {}
  ~WriterPool() { Stop(); }
  WriterPool(const WriterPool&) = delete;
  WriterPool& operator=(const WriterPool&) = delete;

  // Queues `task`. After Stop it runs on the caller's thread (a log closing late still drains).
  void Post(std::function<void()> task);
  // Runs the queued tasks and joins the threads. Idempotent.
  void Stop();

 private:
  void Loop();

  const int threads_wanted_;
  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;  // started by the first Post
  bool stopping_ = false;
};

}  // namespace sluice::engine
