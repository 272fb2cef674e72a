// See persister.h.
#include "database/persistence/persister.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "common/http/json.h"
#include "database/persistence/record.h"

namespace db::persistence {
namespace {

namespace json = common::json;

constexpr uint64_t kCompactionRetryMs = 30000;  // after a failed snapshot
// A snapshot slice also ends at this many bytes: encoding it is the loop's cost per turn, and
// the writer thread's write() of it competes with the loop when both share one CPU.
constexpr size_t kMaxSliceBytes = size_t{512} << 10;

}  // namespace

Persister::Persister(uv_loop_t* loop, Keyspace& keyspace, const DataDir& dir, PersisterOptions opts,
                     const RecoveryReport& recovered, FileOps& ops)
    : loop_(loop),
      keyspace_(keyspace),
      dir_(dir),
      opts_(opts),
      nextGen_(recovered.nextGen),
      liveFiles_(recovered.liveFiles),
      logBytes_(recovered.logBytes),
      snapshotBytes_(recovered.snapshotBytes),
      recoveredTornTails_(recovered.tornTails) {
  uv_async_init(loop_, &async_, &Persister::onAsync);
  async_.data = this;
  writer_ = std::make_unique<DiskWriter>(
      ops, opts_.fsync, [this] { uv_async_send(&async_); }, opts_.retryMs);
}

Persister::~Persister() {
  // close() normally ran; if not (a start that failed early), the thread must still end before
  // the handles it signals go away.
  if (writer_) writer_->stop();
}

void Persister::start() {
  uint64_t gen = nextGen_++;
  writer_->openLog(dir_.logPath(gen));
  liveFiles_.push_back(dir_.logPath(gen));
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
  started_ = true;
  spdlog::info("persistence: {} (fsync {}), writing log generation {}", dir_.path(),
               toString(opts_.fsync), gen);
}

void Persister::close(std::function<void()> done) {
  if (closed_) return done();
  closed_ = true;
  flush();
  writer_->stop();
  onProgress();  // answers the waiters the last fsync covered
  for (auto& [t, cb] : waiters_) cb(common::Error{"DISK_UNAVAILABLE", "the node is stopping"});
  waiters_.clear();
  closedDone_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* h) {
    auto* self = static_cast<Persister*>(h->data);
    auto cb = std::move(self->closedDone_);
    cb();
  });
}

// ---- the log ----

void Persister::onAppend(Ticket ticket, const LogEntry& e, Source) {
  if (closed_) return;
  encodeRecord(buffer_, static_cast<RecordKind>(e.kind), e.key, e.value, e.hlc, e.origin,
               e.collection, e.expiresAtMs);
  ticket_ = ticket;
}

void Persister::onReset() {
  if (closed_) return;
  encodeRecord(buffer_, RecordKind::kReset, {}, {}, 0, {});
}

void Persister::onTurnEnd() {
  if (!started_ || closed_) return;
  flush();
  driveCompaction();
}

void Persister::onAsync(uv_async_t* h) noexcept {
  static_cast<Persister*>(h->data)->onProgress();
}

void Persister::flush() {
  if (buffer_.empty() && !syncWanted_) return;
  logBytes_ += buffer_.size();
  writer_->append(std::move(buffer_), ticket_, syncWanted_);
  buffer_.clear();
  syncWanted_ = false;
}

common::Status Persister::writable() const {
  if (progress_.error == 0) return common::okStatus();
  return common::Error{"DISK_UNAVAILABLE",
                       progress_.errorWhere + ": " + std::strerror(-progress_.error)};
}

void Persister::awaitSynced(uint64_t ticket, std::function<void(common::Status)> done) {
  if (progress_.synced >= ticket) return done(common::okStatus());
  if (progress_.error != 0) return done(writable());
  if (opts_.fsync != FsyncPolicy::kAlways) syncWanted_ = true;
  waiters_.emplace(ticket, std::move(done));
}

void Persister::onProgress() {
  progress_ = writer_->progress();
  while (!waiters_.empty() && waiters_.begin()->first <= progress_.synced) {
    auto cb = std::move(waiters_.begin()->second);
    waiters_.erase(waiters_.begin());
    cb(common::okStatus());
  }
  if (progress_.error != 0) {
    // Not acknowledged: the client learns the write may not be durable (it may still become
    // so when the disk recovers, like a timeout).
    auto failed = std::move(waiters_);
    waiters_.clear();
    for (auto& [t, cb] : failed) cb(writable());
  }
  if (compaction_ == Compaction::kCommitting) {
    if (progress_.snapshotCommitted == snapGen_) {
      compaction_ = Compaction::kIdle;
      ++compactions_;
      logBytes_ -= logBytesAtRotation_;
      snapshotBytes_ = snapBytes_;
      obsolete_.clear();
      // The new snapshot is part of the state now: the next compaction makes it obsolete.
      liveFiles_.insert(liveFiles_.begin(), dir_.snapshotPath(snapGen_));
      spdlog::info("persistence: snapshot {} committed ({} bytes); log now {} bytes", snapGen_,
                   snapshotBytes_, logBytes_);
    } else if (progress_.snapshotFailed == snapGen_) {
      compaction_ = Compaction::kIdle;
      ++compactionsFailed_;
      // The old files are still the state: keep them with the new log.
      liveFiles_.insert(liveFiles_.begin(), obsolete_.begin(), obsolete_.end());
      obsolete_.clear();
      retryCompactionAtMs_ = uv_now(loop_) + kCompactionRetryMs;
    }
  }
}

// ---- compaction ----

bool Persister::shouldCompact() const {
  if (progress_.error != 0 || uv_now(loop_) < retryCompactionAtMs_) return false;
  if (logBytes_ < opts_.compactMinBytes) return false;
  double live = static_cast<double>(keyspace_.memoryUsed());
  return static_cast<double>(logBytes_ + snapshotBytes_) > kCompactRatio * live;
}

void Persister::compactNow() {
  if (compaction_ == Compaction::kIdle && !closed_) startCompaction();
}

void Persister::driveCompaction() {
  if (closed_) return;
  if (compaction_ == Compaction::kIdle) {
    if (shouldCompact()) startCompaction();
    return;
  }
  if (compaction_ == Compaction::kSnapshotting && progress_.slicesWritten == slicesSent_) {
    writeSlice();
  }
}

void Persister::startCompaction() {
  // Rotate first: every change from now on is in log.<gen>, so the snapshot may be fuzzy.
  flush();
  snapGen_ = nextGen_++;
  writer_->openLog(dir_.logPath(snapGen_));
  obsolete_ = std::move(liveFiles_);
  liveFiles_ = {dir_.logPath(snapGen_)};
  logBytesAtRotation_ = logBytes_;
  writer_->beginSnapshot(dir_.snapshotTmpPath(snapGen_));
  snapCursor_.clear();
  snapFirst_ = true;
  snapBytes_ = 0;
  slicesSent_ = progress_.slicesWritten;
  compaction_ = Compaction::kSnapshotting;
  spdlog::info("persistence: compacting ({} log + {} snapshot bytes, store {} bytes) into {}",
               logBytes_, snapshotBytes_, keyspace_.memoryUsed(), snapGen_);
  writeSlice();
}

void Persister::writeSlice() {
  std::string slice;
  if (snapFirst_) {
    for (const Mutation& mark : keyspace_.clearMarkMutations()) encodeMutation(slice, mark);
    snapFirst_ = false;
  }
  uint64_t now = keyspace_.wallMs();
  auto page = keyspace_.scanAll(snapCursor_, opts_.sliceRecords, [&](const RecordView& r) {
    // An expired record the sweep may drop is left out (docs/ttl.md): it could only ever be
    // dropped again after a restart. One above the horizon is kept, so that no older version
    // of its key can come back from a peer.
    if (Keyspace::expired(r.expiresAtMs, now) && r.hlc < keyspace_.expiryHorizon()) return true;
    encodeRecord(slice, r.tombstone ? RecordKind::kDelete : RecordKind::kPut, r.key,
                 r.tombstone ? std::string_view() : r.value, r.hlc, r.origin, r.collection,
                 r.tombstone ? 0 : r.expiresAtMs);
    return slice.size() < kMaxSliceBytes;  // false: the walk resumes after this record
  });
  if (!page.ok()) {  // our own cursor: cannot happen; start the walk over rather than stop
    spdlog::error("persistence: snapshot cursor refused ({}); restarting the walk",
                  page.error().code);
    snapCursor_.clear();
    return;
  }
  snapBytes_ += slice.size();
  writer_->snapshotSlice(std::move(slice));
  ++slicesSent_;
  snapCursor_ = page->next;
  if (snapCursor_.empty()) {
    writer_->commitSnapshot(dir_.snapshotPath(snapGen_), snapGen_, obsolete_);
    compaction_ = Compaction::kCommitting;
  }
}

// ---- status ----

Persister::Stats Persister::stats() const {
  Stats s;
  s.syncedTicket = progress_.synced;
  s.logBytes = logBytes_ + buffer_.size();
  s.snapshotBytes = snapshotBytes_;
  s.compactions = compactions_;
  s.compactionsFailed = compactionsFailed_;
  s.diskErrors = progress_.diskErrors;
  s.compacting = compaction_ != Compaction::kIdle;
  s.failed = progress_.error != 0;
  return s;
}

void Persister::appendStatus(std::string& s) const {
  Stats st = stats();
  s.append(",\"persistence\":{\"mode\":\"disk\",\"dataDir\":");
  json::appendString(s, dir_.path());
  s.append(",\"fsync\":");
  json::appendString(s, toString(opts_.fsync));
  s.append(",\"state\":");
  json::appendString(s, st.failed ? "failed" : "ok");
  if (st.failed) {
    s.append(",\"error\":");
    json::appendString(s, writable().error().message);
  }
  s.append(",\"logBytes\":");
  json::appendUint(s, st.logBytes);
  s.append(",\"snapshotBytes\":");
  json::appendUint(s, st.snapshotBytes);
  s.append(",\"compacting\":");
  s.append(st.compacting ? "true" : "false");
  s.append(",\"compactions\":");
  json::appendUint(s, st.compactions);
  s.append(",\"diskErrors\":");
  json::appendUint(s, st.diskErrors);
  s.append(",\"tornTailsCut\":");
  json::appendUint(s, recoveredTornTails_);
  s.append("}");
}

}  // namespace db::persistence
