// See list_stream.h. Items are appended straight from the engine's views into the output (one
// copy, escaped). A piece stops at the byte budget or after a bounded number of examined
// records (a rare prefix must not turn one piece into a full O(n) walk).
#include "database/http/list_stream.h"

#include "common/http/json.h"

namespace db {
namespace {

constexpr size_t kMaxExaminedPerPiece = 16384;

void appendItem(std::string& out, ListKind kind, std::string_view key, std::string_view value) {
  switch (kind) {
    case kListKeys:
      common::json::appendString(out, key);
      break;
    case kListValues:
      common::json::appendString(out, value);
      break;
    case kListAll:
      out.append("{\"k\":");
      common::json::appendString(out, key);
      out.append(",\"v\":");
      common::json::appendString(out, value);
      out.push_back('}');
      break;
  }
}

class ListStream : public common::http::BodyProducer {
 public:
  ListStream(Keyspace& ks, ListKind kind, std::string prefix, std::string cursor,
             std::string collection)
      : ks_(ks),
        kind_(kind),
        prefix_(std::move(prefix)),
        cursor_(std::move(cursor)),
        collection_(std::move(collection)) {}

  // Produces the next piece; an error only for a cursor this node did not issue.
  common::Result<bool> next(std::string& out, size_t budget) {
    if (!started_) {
      out.push_back('[');
      started_ = true;
    }
    size_t start = out.size();
    auto page = ks_.scan(
        collection_, cursor_, SIZE_MAX, prefix_,
        [&](std::string_view k, std::string_view v) {
          if (!first_) out.push_back(',');
          first_ = false;
          appendItem(out, kind_, k, v);
          return out.size() - start < budget;
        },
        kMaxExaminedPerPiece);
    if (!page.ok()) return page.error();
    cursor_ = std::move(page->next);
    if (cursor_.empty()) {
      out.push_back(']');
      return false;
    }
    return true;
  }

  bool produce(std::string& out, size_t budget) override {
    if (pending_) {  // the piece made when the stream was created
      out.append(*pending_);
      pending_.reset();
      return more_;
    }
    auto more = next(out, budget);
    if (!more.ok()) {  // cannot happen after the first piece; end the array cleanly
      out.push_back(']');
      return false;
    }
    return *more;
  }

  std::optional<std::string> pending_;
  bool more_ = true;

 private:
  Keyspace& ks_;
  ListKind kind_;
  std::string prefix_;
  std::string cursor_;
  std::string collection_;
  bool started_ = false;
  bool first_ = true;
};

}  // namespace

common::Result<std::unique_ptr<common::http::BodyProducer>> makeListStream(Keyspace& keyspace,
                                                                           ListKind kind,
                                                                           std::string prefix,
                                                                           std::string cursor,
                                                                           std::string collection) {
  auto stream = std::make_unique<ListStream>(keyspace, kind, std::move(prefix), std::move(cursor),
                                             std::move(collection));
  std::string first;
  auto more = stream->next(first, 16 * 1024);
  if (!more.ok()) return more.error();
  stream->pending_ = std::move(first);
  stream->more_ = *more;
  return std::unique_ptr<common::http::BodyProducer>(std::move(stream));
}

common::Status listPage(Keyspace& keyspace, ListKind kind, const ListParams& params,
                        std::string& out, std::string& next) {
  out.push_back('[');
  bool first = true;
  size_t count = 0;
  std::string cursor = params.cursor;
  // A prefix page may come back short with a cursor: keep walking until the page is full or
  // the walk ends, so a client never sees an empty page that is not the end.
  while (true) {
    auto page = keyspace.scan(params.collection, cursor, params.limit - count, params.prefix,
                              [&](std::string_view k, std::string_view v) {
                                if (!first) out.push_back(',');
                                first = false;
                                appendItem(out, kind, k, v);
                                ++count;
                                return count < params.limit;
                              });
    if (!page.ok()) return page.error();
    cursor = std::move(page->next);
    if (cursor.empty() || count >= params.limit) break;
  }
  out.push_back(']');
  next = std::move(cursor);
  return common::okStatus();
}

}  // namespace db
