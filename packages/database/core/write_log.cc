// See write_log.h.
#include "database/core/write_log.h"

#include <algorithm>
#include <memory>

namespace db {
namespace {

// A write answered once each of its waits (disk, peers) succeeded, or at the first failure.
struct Join {
  Join(std::function<void(const WriteOutcome&)> d, int n) : done(std::move(d)), pending(n) {}
  void finish(const WriteOutcome& o) {
    if (answered) return;
    if (o.status.ok()) {
      acked = std::max(acked, o.acked);
      if (--pending > 0) return;
    }
    answered = true;
    done(o.status.ok() ? WriteOutcome{common::okStatus(), acked} : o);
  }
  std::function<void(const WriteOutcome&)> done;
  int pending;
  int acked = 1;
  bool answered = false;
};

}  // namespace

std::optional<WriteLevel> parseWriteLevel(std::string_view w) {
  if (w.empty() || w == "1" || w == "local") return WriteLevel::kLocal;
  if (w == "disk") return WriteLevel::kDisk;
  if (w == "quorum") return WriteLevel::kQuorum;
  if (w == "all") return WriteLevel::kAll;
  return std::nullopt;
}

WriteLog::WriteLog(uv_loop_t* loop) : loop_(loop) {
  check_.data = this;
}

WriteLog::~WriteLog() = default;

void WriteLog::subscribe(LogSubscriber& subscriber) {
  subscribers_.push_back(&subscriber);
}
void WriteLog::setDurability(Durability& durability) {
  durability_ = &durability;
}
void WriteLog::setReplication(Replication& replication) {
  replication_ = &replication;
}

void WriteLog::start() {
  // Every turn, after the poll phase that read the requests; unref'd: it keeps no loop alive.
  uv_check_init(loop_, &check_);
  started_ = true;
  uv_check_start(&check_, &WriteLog::onCheck);
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
}

void WriteLog::close(std::function<void()> done) {
  endTurn();
  if (!started_) return done();
  started_ = false;
  closed_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), [](uv_handle_t* h) {
    auto* self = static_cast<WriteLog*>(h->data);
    auto done = std::move(self->closed_);
    self->subscribers_.clear();
    if (done) done();
  });
}

void WriteLog::onCheck(uv_check_t* h) noexcept {
  static_cast<WriteLog*>(h->data)->endTurn();
}

void WriteLog::endTurn() {
  for (LogSubscriber* s : subscribers_) s->onTurnEnd();
  if (afterTurn_) afterTurn_();
}

common::Status WriteLog::admit(WriteLevel level) const {
  if (level == WriteLevel::kDisk && !durability_->persistent()) {
    return common::Error{"PERSISTENCE_DISABLED", "the node runs with --memory"};
  }
  return durability_->writable();
}

Ticket WriteLog::append(const LogEntry& entry, Source source) {
  ++last_;
  for (LogSubscriber* s : subscribers_) {
    if (source != Source::kExpiry || s->wantsExpiry()) s->onAppend(last_, entry, source);
  }
  return last_;
}

void WriteLog::reset() {
  for (LogSubscriber* s : subscribers_) s->onReset();
}

void WriteLog::await(Ticket ticket, WriteLevel level,
                     std::function<void(const WriteOutcome&)> done) {
  bool disk = level == WriteLevel::kDisk || durability_->syncEveryWrite();
  bool peers = (level == WriteLevel::kQuorum || level == WriteLevel::kAll) && replication_;
  if (!disk && !peers) return done(WriteOutcome{});
  auto join = std::make_shared<Join>(std::move(done), int{disk} + int{peers});
  if (disk) {
    durability_->awaitSynced(ticket, [join](common::Status st) {
      join->finish(WriteOutcome{std::move(st), 1});
    });
  }
  if (peers) {
    replication_->awaitTicket(ticket, level, [join](bool ok, int acked) {
      if (ok) return join->finish(WriteOutcome{common::okStatus(), acked});
      join->finish(WriteOutcome{common::Error{"REPLICATION_TIMEOUT", ""}, acked});
    });
  }
}

}  // namespace db
