// See outbox.h.
#include "database/mesh/outbox.h"

namespace db {

bool Outbox::push(uint64_t seq, std::shared_ptr<const std::string> frame, uint64_t maxHlc) {
  if (state_ == State::kOverflowed) return false;
  size_t n = frame->size();
  if (bytes_ + n > windowBytes_ && !queue_.empty()) {
    if (state_ == State::kStreaming) stuckHlc_ = deliveredHlc(0);
    reset();
    state_ = State::kOverflowed;
    return false;
  }
  bytes_ += n;
  queue_.push_back(Entry{seq, std::move(frame), maxHlc});
  return true;
}

const Outbox::Entry* Outbox::nextToSend() const {
  return sent_ < queue_.size() ? &queue_[sent_] : nullptr;
}

size_t Outbox::ack(uint64_t seq) {
  size_t released = 0;
  while (!queue_.empty() && queue_.front().seq <= seq) {
    bytes_ -= queue_.front().frame->size();
    ackedHlc_ = queue_.front().maxHlc;
    queue_.pop_front();
    if (sent_ > 0) --sent_;
    ++released;
  }
  if (seq > ackedSeq_) ackedSeq_ = seq;
  return released;
}

void Outbox::repaired(uint64_t hlc) {
  state_ = State::kStreaming;
  if (hlc > ackedHlc_) ackedHlc_ = hlc;
}

void Outbox::reset() {
  queue_.clear();
  sent_ = 0;
  bytes_ = 0;
}

uint64_t Outbox::deliveredHlc(uint64_t nowHlc) const {
  if (state_ != State::kStreaming) return stuckHlc_;
  if (queue_.empty()) return nowHlc;
  return queue_.front().maxHlc > 0 ? std::min(ackedHlc_, queue_.front().maxHlc - 1) : ackedHlc_;
}

}  // namespace db
