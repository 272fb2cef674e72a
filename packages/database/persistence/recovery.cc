// See recovery.h. Files are mmapped read-only and walked in place (no copy of the data). With
// two CPUs or more, a reader thread checks and decodes the records (checksums, page faults)
// while the calling thread applies them to the keyspace, in file order, so the two halves
// overlap; with one (a node pinned to a core) a thread only adds switches and evicts the bytes
// it read before they are applied, so one thread does both, a small batch at a time. Either
// way a batch is applied with the index slot of the record a few ahead prefetched: a load of a
// million records otherwise waits on one or two cache misses per record.
#include "database/persistence/recovery.h"

#include <fcntl.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "database/persistence/record.h"

namespace db::persistence {
namespace {

struct FileResult {
  uint64_t size = 0;  // after any cut
};

// Batches of decoded records from the reader thread to the applying one, bounded so the reader
// runs at most kMaxBatches ahead (~1.5 MB of a file of 350-byte records: still in the cache
// when applied). The views point into the mapped file: valid until munmap, which happens after
// the reader is joined.
class RecordPipe {
 public:
  static constexpr size_t kBatchRecords = 1024;
  static constexpr size_t kMaxBatches = 4;
  using Batch = std::vector<LogRecord>;

  // Reader side: false once the consumer has gone (stop reading).
  bool push(Batch b) {
    std::unique_lock lock(mu_);
    spaceCv_.wait(lock, [&] { return batches_.size() < kMaxBatches || abandoned_; });
    if (abandoned_) return false;
    batches_.push_back(std::move(b));
    dataCv_.notify_one();
    return true;
  }
  void finish() {
    std::lock_guard lock(mu_);
    finished_ = true;
    dataCv_.notify_one();
  }
  // Consumer side: the next batch, or nothing once the reader finished and all was taken.
  std::optional<Batch> pop() {
    std::unique_lock lock(mu_);
    dataCv_.wait(lock, [&] { return !batches_.empty() || finished_; });
    if (batches_.empty()) return std::nullopt;
    Batch b = std::move(batches_.front());
    batches_.pop_front();
    spaceCv_.notify_one();
    return b;
  }
  void abandon() {
    std::lock_guard lock(mu_);
    abandoned_ = true;
    spaceCv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable dataCv_, spaceCv_;
  std::deque<Batch> batches_;
  bool finished_ = false;
  bool abandoned_ = false;
};

constexpr size_t kPrefetchAhead = 8;        // records between a prefetch and its apply
constexpr size_t kInlineBatchRecords = 64;  // one thread: ~22 KB of file, still in L1/L2

bool oneCpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1;
}

template <typename Apply>
void applyBatch(const std::vector<LogRecord>& batch, Keyspace& ks, Apply& apply) {
  size_t n = batch.size();
  for (size_t i = 0; i < std::min(n, kPrefetchAhead); ++i)
    ks.prefetch(batch[i].key, batch[i].collection);
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n)
      ks.prefetch(batch[i + kPrefetchAhead].key, batch[i + kPrefetchAhead].collection);
    apply(batch[i]);
  }
}

// scanRecords and `apply` in file order, on one thread or two (see the file comment). Returns
// the scan's outcome.
template <typename Apply>
ScanOutcome scanAndApply(std::string_view bytes, Keyspace& ks, Apply&& apply) {
  if (oneCpu()) {
    std::vector<LogRecord> batch;
    batch.reserve(kInlineBatchRecords);
    ScanOutcome out = scanRecords(bytes, [&](const LogRecord& r) {
      batch.push_back(r);
      if (batch.size() == kInlineBatchRecords) {
        applyBatch(batch, ks, apply);
        batch.clear();
      }
      return true;
    });
    applyBatch(batch, ks, apply);
    return out;
  }
  RecordPipe pipe;
  ScanOutcome out;
  std::thread reader([&] {
    RecordPipe::Batch batch;
    batch.reserve(RecordPipe::kBatchRecords);
    bool open = true;
    out = scanRecords(bytes, [&](const LogRecord& r) {
      batch.push_back(r);
      if (batch.size() < RecordPipe::kBatchRecords) return true;
      open = pipe.push(std::move(batch));
      batch = {};
      batch.reserve(RecordPipe::kBatchRecords);
      return open;
    });
    if (open && !batch.empty()) pipe.push(std::move(batch));
    pipe.finish();
  });
  struct Joiner {  // the reader must end before `bytes` is unmapped, whatever happens here
    RecordPipe& pipe;
    std::thread& t;
    ~Joiner() {
      pipe.abandon();
      t.join();
    }
  } joiner{pipe, reader};
  while (auto batch = pipe.pop()) applyBatch(*batch, ks, apply);
  return out;
}

common::Result<FileResult> replayFile(const std::string& path, bool isSnapshot, bool repair,
                                      Keyspace& ks, RecoveryReport& rep) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return common::Error{"DATA_DIR_UNUSABLE", path + ": " + std::strerror(errno)};
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return common::Error{"DATA_DIR_UNUSABLE", path + ": " + std::strerror(e)};
  }
  auto size = static_cast<size_t>(st.st_size);
  const char* base = nullptr;
  if (size > 0) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      return common::Error{"DATA_DIR_UNUSABLE", path + ": mmap: " + std::strerror(e)};
    }
    base = static_cast<const char*>(p);
    madvise(p, size, MADV_SEQUENTIAL);
  }
  // The index sized once for what this file adds (at most: a log's rewrites of one key count
  // each time), instead of rehashing its way up while the records go in.
  ks.reserve(ks.engine().size() + estimateRecords({base, size}), size);
  ScanOutcome out = scanAndApply({base, size}, ks, [&](const LogRecord& r) {
    ++rep.records;
    if (r.kind == RecordKind::kReset) {
      ks.reset();
      return;
    }
    ApplyResult a = ks.replay(static_cast<Mutation::Kind>(r.kind), r.key, r.value, r.hlc, r.origin,
                              r.collection, r.expiresAtMs);
    if (a == ApplyResult::kRefusedInvalid) {  // over this start's MAX_KEY/VALUE limits
      if (rep.refused++ == 0) {
        spdlog::warn("recovery: {} refused a record ({}); counting the others", path, toString(a));
      }
    }
  });
  if (base != nullptr) munmap(const_cast<char*>(base), size);
  uint64_t cut = size - out.goodEnd;
  bool torn = out.state == ScanOutcome::State::kTorn && !isSnapshot;
  if (out.state != ScanOutcome::State::kClean && !torn && !repair) {
    ::close(fd);
    return common::Error{"DATA_DAMAGED", path + ": bad record at offset " +
                                             std::to_string(out.goodEnd) + " of " +
                                             std::to_string(size) +
                                             " bytes (start with --repair to cut the file there)"};
  }
  if (out.state != ScanOutcome::State::kClean) {
    if (ftruncate(fd, static_cast<off_t>(out.goodEnd)) != 0 || fdatasync(fd) != 0) {
      int e = errno;
      ::close(fd);
      return common::Error{"DATA_DIR_UNUSABLE", path + ": cannot truncate: " + std::strerror(e)};
    }
    if (torn) {
      ++rep.tornTails;
      rep.tornBytes += cut;
      spdlog::warn("recovery: {}: torn last record at offset {} ({} bytes) cut off", path,
                   out.goodEnd, cut);
    } else {
      rep.repairedBytes += cut;
      spdlog::warn("recovery: --repair: {} truncated at offset {} ({} bytes dropped)", path,
                   out.goodEnd, cut);
    }
  }
  ::close(fd);
  return FileResult{out.goodEnd};
}

}  // namespace

std::string RecoveryReport::summary() const {
  return std::to_string(records) + " records, " + std::to_string(snapshotBytes) +
         " snapshot bytes, " + std::to_string(logBytes) + " log bytes, " +
         std::to_string(tornTails) + " torn tails cut (" + std::to_string(tornBytes) + " bytes), " +
         std::to_string(repairedBytes) + " bytes cut by --repair, " + std::to_string(refused) +
         " refused";
}

common::Result<RecoveryReport> recover(const DataDir& dir, Keyspace& keyspace, bool repair) {
  RecoveryReport rep;
  auto layout = dir.scan();
  if (!layout.ok()) return layout.error();
  for (const auto& f : layout->stale) {
    spdlog::info("recovery: deleting leftover {}", f);
    ::unlink(f.c_str());
  }
  if (layout->snapshot) {
    auto r = replayFile(dir.snapshotPath(*layout->snapshot), true, repair, keyspace, rep);
    if (!r.ok()) return r.error();
    rep.snapshotBytes = r->size;
    rep.liveFiles.push_back(dir.snapshotPath(*layout->snapshot));
  }
  for (uint64_t g : layout->logs) {
    std::error_code ec;
    if (g != layout->logs.back() && std::filesystem::file_size(dir.logPath(g), ec) == 0 && !ec) {
      ::unlink(dir.logPath(g).c_str());  // a start that wrote nothing: one file less per restart
      continue;
    }
    auto r = replayFile(dir.logPath(g), false, repair, keyspace, rep);
    if (!r.ok()) return r.error();
    rep.logBytes += r->size;
    rep.liveFiles.push_back(dir.logPath(g));
  }
  rep.nextGen = layout->nextGen();
  keyspace.reserve(0, 0);  // the load is over: chunks mapped from now on fill at the loop's pace
  return rep;
}

}  // namespace db::persistence
