// See disk_writer.h. Everything below run() executes on the writer thread; the public
// operations only queue under mu_ and wake it.
#include "database/persistence/disk_writer.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <filesystem>

namespace db::persistence {
namespace {

uint64_t steadyMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

constexpr uint64_t kEverySecMs = 1000;

}  // namespace

const char* toString(FsyncPolicy p) {
  switch (p) {
    case FsyncPolicy::kAlways:
      return "always";
    case FsyncPolicy::kEverySec:
      return "everysec";
    case FsyncPolicy::kNo:
      return "no";
  }
  return "?";
}

bool parseFsyncPolicy(std::string_view text, FsyncPolicy& out) {
  if (text == "always") {
    out = FsyncPolicy::kAlways;
  } else if (text == "everysec") {
    out = FsyncPolicy::kEverySec;
  } else if (text == "no") {
    out = FsyncPolicy::kNo;
  } else {
    return false;
  }
  return true;
}

DiskWriter::DiskWriter(FileOps& ops, FsyncPolicy policy, std::function<void()> notify,
                       uint64_t retryMs)
    : ops_(ops), policy_(policy), notify_(std::move(notify)), retryMs_(retryMs) {
  thread_ = std::thread([this] { run(); });
}

DiskWriter::~DiskWriter() {
  stop();
}

void DiskWriter::push(Op op) {
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(op));
  }
  cv_.notify_one();
}

DiskWriter::Op DiskWriter::makeOp(Op::Kind kind, std::string bytes, uint64_t ticket, bool sync) {
  Op op;
  op.kind = kind;
  op.bytes = std::move(bytes);
  op.ticket = ticket;
  op.sync = sync;
  return op;
}

void DiskWriter::openLog(std::string path) {
  push(makeOp(Op::Kind::kOpenLog, std::move(path)));
}
void DiskWriter::append(std::string bytes, uint64_t ticket, bool sync) {
  push(makeOp(Op::Kind::kAppend, std::move(bytes), ticket, sync));
}
void DiskWriter::beginSnapshot(std::string tmpPath) {
  push(makeOp(Op::Kind::kBeginSnapshot, std::move(tmpPath)));
}
void DiskWriter::snapshotSlice(std::string bytes) {
  push(makeOp(Op::Kind::kSlice, std::move(bytes)));
}
void DiskWriter::commitSnapshot(std::string path, uint64_t gen, std::vector<std::string> obsolete) {
  Op op = makeOp(Op::Kind::kCommit, std::move(path), gen);
  op.obsolete = std::move(obsolete);
  push(std::move(op));
}

DiskWriter::Progress DiskWriter::progress() const {
  std::lock_guard lk(mu_);
  return progress_;
}

void DiskWriter::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void DiskWriter::publish(const std::function<void(Progress&)>& change) {
  {
    std::lock_guard lk(mu_);
    change(progress_);
  }
  if (notify_) notify_();
}

std::string DiskWriter::name(const std::string& path) const {
  return std::filesystem::path(path).filename().string();
}

// ---- the thread ----

void DiskWriter::run() {
  std::unique_lock lk(mu_);
  while (true) {
    if (queue_.empty()) {
      if (stopping_) break;
      if (policy_ == FsyncPolicy::kEverySec && !unstable_.empty() && progress_.error == 0) {
        uint64_t due = lastSyncMs_ + kEverySecMs, now = steadyMs();
        if (now >= due) {
          lk.unlock();
          syncLog();
          lk.lock();
        } else {
          cv_.wait_for(lk, std::chrono::milliseconds(due - now));
        }
      } else {
        cv_.wait(lk);
      }
      continue;
    }
    Op op = std::move(queue_.front());
    queue_.pop_front();
    // Group commit across turns: the appends queued behind this one (turns that ended while
    // the last fsync ran) join it, so they share one write and at most one fsync instead of
    // paying one fsync each.
    while (op.kind == Op::Kind::kAppend && !queue_.empty() &&
           queue_.front().kind == Op::Kind::kAppend) {
      Op& next = queue_.front();
      op.bytes.append(next.bytes);
      op.ticket = std::max(op.ticket, next.ticket);
      op.sync = op.sync || next.sync;
      queue_.pop_front();
    }
    lk.unlock();
    execute(op);
    lk.lock();
  }
  bool healthy = progress_.error == 0;
  lk.unlock();
  if (logFd_ >= 0) {
    if (healthy && !unstable_.empty()) syncLog();
    ops_.close(logFd_);
    logFd_ = -1;
  }
  if (snapFd_ >= 0) {  // an unfinished snapshot is useless: the next start ignores *.tmp anyway
    ops_.close(snapFd_);
    ops_.unlink(snapPath_);
    snapFd_ = -1;
  }
}

void DiskWriter::execute(Op& op) {
  switch (op.kind) {
    case Op::Kind::kOpenLog:
      return doOpenLog(op.bytes);
    case Op::Kind::kAppend:
      return doAppend(op);
    case Op::Kind::kBeginSnapshot:
    case Op::Kind::kSlice:
    case Op::Kind::kCommit:
      return snapshotOp(op);
  }
}

void DiskWriter::fail(int err, std::string where) {
  spdlog::error("disk: {} failed: {}; writes are refused until it works again", where,
                std::strerror(-err));
  publish([&](Progress& p) {
    p.error = err;
    p.errorWhere = std::move(where);
    ++p.diskErrors;
  });
}

bool DiskWriter::waitRetry() {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(retryMs_), [this] { return stopping_; });
  return !stopping_;
}

void DiskWriter::doOpenLog(const std::string& path) {
  if (logFd_ >= 0) {
    if (!unstable_.empty() || policy_ != FsyncPolicy::kNo) syncLog();
    ops_.close(logFd_);
    logFd_ = -1;
  }
  dir_ = std::filesystem::path(path).parent_path().string();
  while (true) {
    int fd = ops_.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
    int rc = fd < 0 ? fd : ops_.fsyncDir(dir_);
    if (rc == 0) {
      logFd_ = fd;
      break;
    }
    if (fd >= 0) ops_.close(fd);
    fail(rc, "create " + name(path));
    if (!waitRetry()) return;
  }
  logPath_ = path;
  stableSize_ = 0;
  unstable_.clear();
  lastSyncMs_ = steadyMs();
  publish([](Progress& p) {
    if (p.error != 0) spdlog::info("disk: writing works again");
    p.error = 0;
    p.errorWhere.clear();
  });
}

void DiskWriter::doAppend(Op& op) {
  if (logFd_ < 0) return;  // stopping after a log could not be created
  if (!op.bytes.empty()) {
    unstable_.append(op.bytes);
    unstableTicket_ = std::max(unstableTicket_, op.ticket);
    int rc = ops_.write(logFd_, op.bytes);
    if (rc != 0) return repair(rc, "write " + name(logPath_));
  }
  uint64_t ticket = unstableTicket_;
  bool sync = policy_ == FsyncPolicy::kAlways || op.sync ||
              (policy_ == FsyncPolicy::kEverySec && steadyMs() >= lastSyncMs_ + kEverySecMs);
  if (sync) {
    if (!syncLog()) return;
  } else if (policy_ == FsyncPolicy::kNo) {
    stableSize_ += unstable_.size();
    unstable_.clear();
  }
  publish([&](Progress& p) { p.written = std::max(p.written, ticket); });
}

bool DiskWriter::syncLog() {
  int rc = ops_.fsync(logFd_);
  if (rc != 0) {
    repair(rc, "fsync " + name(logPath_));
    return false;
  }
  stableSize_ += unstable_.size();
  unstable_.clear();
  lastSyncMs_ = steadyMs();
  uint64_t ticket = unstableTicket_;
  publish([&](Progress& p) { p.written = p.synced = std::max(p.synced, ticket); });
  return true;
}

void DiskWriter::repair(int err, const std::string& where) {
  fail(err, where);
  while (waitRetry()) {
    int rc = ops_.truncate(logFd_, stableSize_);
    std::string step = "truncate ";
    if (rc == 0) {
      rc = ops_.write(logFd_, unstable_);
      step = "write ";
    }
    if (rc == 0) {
      rc = ops_.fsync(logFd_);
      step = "fsync ";
    }
    if (rc == 0) {
      stableSize_ += unstable_.size();
      unstable_.clear();
      lastSyncMs_ = steadyMs();
      uint64_t ticket = unstableTicket_;
      spdlog::info("disk: writing works again ({} rewritten and fsynced)", name(logPath_));
      publish([&](Progress& p) {
        p.error = 0;
        p.errorWhere.clear();
        p.written = p.synced = std::max(p.synced, ticket);
      });
      return;
    }
    publish([&](Progress& p) {
      p.error = rc;
      p.errorWhere = step + name(logPath_);
      ++p.diskErrors;
    });
  }
}

void DiskWriter::snapshotOp(Op& op) {
  auto abandon = [&](int err, const std::string& what) {
    spdlog::error("disk: snapshot {} {} failed: {}; the log is kept and compaction retried later",
                  what, name(snapPath_), std::strerror(-err));
    if (snapFd_ >= 0) ops_.close(snapFd_);
    ops_.unlink(snapPath_);
    snapFd_ = -1;
    snapBroken_ = true;
    publish([](Progress& p) { ++p.diskErrors; });
  };
  switch (op.kind) {
    case Op::Kind::kBeginSnapshot: {
      snapPath_ = op.bytes;
      snapBroken_ = false;
      int fd = ops_.open(snapPath_, O_WRONLY | O_CREAT | O_TRUNC);
      if (fd < 0) return abandon(fd, "create");
      snapFd_ = fd;
      return;
    }
    case Op::Kind::kSlice: {
      if (!snapBroken_) {
        int rc = ops_.write(snapFd_, op.bytes);
        if (rc != 0) abandon(rc, "write");
      }
      publish([](Progress& p) { ++p.slicesWritten; });
      return;
    }
    case Op::Kind::kCommit: {
      if (!snapBroken_) {
        int rc = ops_.fsync(snapFd_);
        if (rc != 0) {
          abandon(rc, "fsync");
        } else {
          ops_.close(snapFd_);
          snapFd_ = -1;
          rc = ops_.rename(snapPath_, op.bytes);
          if (rc == 0) rc = ops_.fsyncDir(dir_);
          if (rc != 0) abandon(rc, "rename");
        }
      }
      if (snapBroken_) {
        publish([&](Progress& p) { p.snapshotFailed = op.ticket; });
        return;
      }
      // The new snapshot is durable: what it replaces can go. A failed unlink only costs space.
      for (const auto& f : op.obsolete) {
        if (int rc = ops_.unlink(f); rc != 0 && rc != -ENOENT) {
          spdlog::warn("disk: cannot delete {}: {}", f, std::strerror(-rc));
        }
      }
      ops_.fsyncDir(dir_);
      publish([&](Progress& p) { p.snapshotCommitted = op.ticket; });
      return;
    }
    default:
      return;
  }
}

}  // namespace db::persistence
