// Client: the blocking face of AsyncClient. It owns a private libuv loop; each call starts the
// asynchronous operation and runs that loop until its callback stored the result, so pooled
// connections, pipelining, retries and membership refreshes are the same code as the async API.
// Between calls nothing runs: a membership refresh that is due happens during the next call.
// Not thread-safe (one Client per thread). The destructor closes the AsyncClient and runs the
// loop until every handle is closed.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "meshkv/client.h"

namespace meshkv {

namespace {
// libuv writes with write(2): a node that resets a connection while a request is being written
// raises SIGPIPE, which kills a program that kept the default action. The blocking client owns
// its loop runs, so it ignores SIGPIPE during them and puts the caller's action back after (as
// libcurl does, lib/sigpipe.h); an AsyncClient's program must ignore it itself (client.h).
class SigpipeIgnored {
 public:
  SigpipeIgnored() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    changed_ = sigaction(SIGPIPE, &ignore, &old_) == 0;
  }
  ~SigpipeIgnored() {
    if (changed_) sigaction(SIGPIPE, &old_, nullptr);
  }
  SigpipeIgnored(const SigpipeIgnored&) = delete;
  SigpipeIgnored& operator=(const SigpipeIgnored&) = delete;

 private:
  struct sigaction old_ {};
  bool changed_ = false;
};
}  // namespace

Client::Client(Options options) {
  uv_loop_init(&loop_);
  async_ = std::make_unique<AsyncClient>(&loop_, std::move(options));
}

Client::~Client() {
  SigpipeIgnored guard;
  bool closed = false;
  async_->close([&closed] { closed = true; });
  while (!closed) uv_run(&loop_, UV_RUN_ONCE);
  async_.reset();
  uv_run(&loop_, UV_RUN_NOWAIT);
  if (uv_loop_close(&loop_) != 0) std::fprintf(stderr, "meshkv client: a handle was left open\n");
}

template <typename T>
Result<T> Client::wait(const std::function<void(Callback<T>)>& start) {
  SigpipeIgnored guard;
  std::optional<Result<T>> out;
  start([&out](Result<T> r) { out.emplace(std::move(r)); });
  while (!out) uv_run(&loop_, UV_RUN_ONCE);
  return std::move(*out);
}

Result<std::string> Client::get(std::string_view key, std::string_view collection) {
  return wait<std::string>(
      [&](Callback<std::string> cb) { async_->get(key, collection, std::move(cb)); });
}

Status Client::set(std::string_view key, std::string_view value, const WriteOptions& opts) {
  return wait<Ok>([&](Callback<Ok> cb) { async_->set(key, value, opts, std::move(cb)); });
}

Status Client::remove(std::string_view key, const WriteOptions& opts) {
  return wait<Ok>([&](Callback<Ok> cb) { async_->remove(key, opts, std::move(cb)); });
}

Result<bool> Client::exists(std::string_view key, std::string_view collection) {
  return wait<bool>([&](Callback<bool> cb) { async_->exists(key, collection, std::move(cb)); });
}

Result<int64_t> Client::ttl(std::string_view key, std::string_view collection) {
  return wait<int64_t>([&](Callback<int64_t> cb) { async_->ttl(key, collection, std::move(cb)); });
}

Status Client::persist(std::string_view key, const WriteOptions& opts) {
  return wait<Ok>([&](Callback<Ok> cb) { async_->persist(key, opts, std::move(cb)); });
}

Status Client::clear(const WriteOptions& opts) {
  return wait<Ok>([&](Callback<Ok> cb) { async_->clear(opts, std::move(cb)); });
}

Result<NodeStatus> Client::status() {
  return wait<NodeStatus>([&](Callback<NodeStatus> cb) { async_->status(std::move(cb)); });
}

Result<std::vector<Member>> Client::members() {
  return wait<std::vector<Member>>(
      [&](Callback<std::vector<Member>> cb) { async_->members(std::move(cb)); });
}

Status Client::join(std::string_view hostPort) {
  return wait<Ok>([&](Callback<Ok> cb) { async_->join(hostPort, std::move(cb)); });
}

Result<size_t> Client::refresh() {
  return wait<size_t>([&](Callback<size_t> cb) { async_->refresh(std::move(cb)); });
}

Pager Client::list(ListOptions opts) {
  return Pager(*this, std::move(opts));
}

Result<std::vector<std::string>> Client::keys(std::string_view prefix, size_t max,
                                              std::string_view collection) {
  ListOptions opts;
  opts.collection = std::string(collection);
  opts.prefix = std::string(prefix);
  opts.pageSize = std::min<size_t>(std::max<size_t>(max, 1), 10000);
  std::vector<std::string> out;
  Pager pager = list(opts);
  while (!pager.done() && out.size() < max) {
    auto page = pager.next();
    if (!page.ok()) return page.error();
    for (auto& e : page->entries) {
      if (out.size() < max) out.push_back(std::move(e.key));
    }
  }
  return out;
}

ClientStats Client::stats() const {
  return async_->stats();
}

Result<Page> Pager::next() {
  auto page = client_->wait<Page>(
      [&](Callback<Page> cb) { client_->async_->listPage(opts_, cursor_, node_, std::move(cb)); });
  if (!page.ok()) return page;
  node_ = page->node;
  cursor_ = page->cursor;
  done_ = cursor_.empty();
  return page;
}

}  // namespace meshkv
