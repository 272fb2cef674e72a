// AsyncClient: the public asynchronous API over ClientCore. Each method builds its request
// target, submits it, and turns the Outcome into a Result: a transport failure keeps its client
// code (kTimeout, kUnavailable, ...), an HTTP error becomes the server's {"error":"CODE"}.
// Loop thread only; see meshkv/client.h for the contract.
#include <utility>

#include "client/client_core.h"
#include "client/protocol.h"
#include "meshkv/client.h"

namespace meshkv {
namespace {

// Reads are resent on another node after a failure; writes only when they never left.
constexpr bool kRead = true;
constexpr bool kWrite = false;

template <typename T, typename F>
ClientCore::Done adapt(Callback<T> done, F onOk) {
  return [done = std::move(done), onOk = std::move(onOk)](Outcome&& o, const std::string& url) {
    if (!o.error.empty()) return done(Error{o.error, o.detail});
    if (o.status != 200) return done(protocol::errorOf(o.status, o.body));
    done(onOk(o, url));
  };
}

Result<Ok> ok(const Outcome&, const std::string&) {
  return Ok{};
}

}  // namespace

AsyncClient::AsyncClient(uv_loop_t* loop, Options options)
    : core_(std::make_unique<ClientCore>(loop, std::move(options))) {}

AsyncClient::~AsyncClient() = default;

void AsyncClient::get(std::string_view key, std::string_view collection,
                      Callback<std::string> done) {
  core_->submit(protocol::keyTarget("/get", key, collection), kRead, {},
                adapt<std::string>(std::move(done), [](const Outcome& o, const std::string&) {
                  return protocol::parseString(o.body);
                }));
}

void AsyncClient::set(std::string_view key, std::string_view value, const WriteOptions& opts,
                      Callback<Ok> done) {
  core_->submit(protocol::setTarget(key, value, opts), kWrite, {}, adapt<Ok>(std::move(done), &ok));
}

void AsyncClient::remove(std::string_view key, const WriteOptions& opts, Callback<Ok> done) {
  core_->submit(protocol::writeTarget("/rm", key, opts), kWrite, {},
                adapt<Ok>(std::move(done), &ok));
}

void AsyncClient::exists(std::string_view key, std::string_view collection, Callback<bool> done) {
  core_->submit(protocol::keyTarget("/is", key, collection), kRead, {},
                [done = std::move(done)](Outcome&& o, const std::string&) {
                  if (!o.error.empty()) return done(Error{o.error, o.detail});
                  if (o.status == 200) return done(true);
                  Error e = protocol::errorOf(o.status, o.body);
                  if (e.code == kMissingRecord) return done(false);
                  done(std::move(e));
                });
}

void AsyncClient::ttl(std::string_view key, std::string_view collection, Callback<int64_t> done) {
  core_->submit(protocol::keyTarget("/ttl", key, collection), kRead, {},
                adapt<int64_t>(std::move(done), [](const Outcome& o, const std::string&) {
                  return protocol::parseTtl(o.body);
                }));
}

void AsyncClient::persist(std::string_view key, const WriteOptions& opts, Callback<Ok> done) {
  core_->submit(protocol::writeTarget("/persist", key, opts), kWrite, {},
                adapt<Ok>(std::move(done), &ok));
}

void AsyncClient::clear(const WriteOptions& opts, Callback<Ok> done) {
  core_->submit(protocol::clearTarget(opts), kWrite, {}, adapt<Ok>(std::move(done), &ok));
}

void AsyncClient::status(Callback<NodeStatus> done) {
  core_->submit("/status", kRead, {},
                adapt<NodeStatus>(std::move(done), [](const Outcome& o, const std::string&) {
                  return protocol::parseStatus(o.body);
                }));
}

void AsyncClient::members(Callback<std::vector<Member>> done) {
  status([done = std::move(done)](Result<NodeStatus> s) {
    if (!s.ok()) return done(s.error());
    done(std::move(s->members));
  });
}

void AsyncClient::listPage(const ListOptions& opts, std::string_view cursor, std::string_view node,
                           Callback<Page> done) {
  ListKind kind = opts.kind;
  core_->submit(protocol::listTarget(opts, cursor), kRead, std::string(node),
                adapt<Page>(std::move(done), [kind](const Outcome& o, const std::string& url) {
                  auto entries = protocol::parseList(o.body, kind);
                  if (!entries.ok()) return Result<Page>(entries.error());
                  return Result<Page>(Page{std::move(*entries), o.cursor, url});
                }));
}

void AsyncClient::join(std::string_view hostPort, Callback<Ok> done) {
  core_->submit(protocol::target("/ping", {{"nodes", hostPort}}), kWrite, {},
                adapt<Ok>(std::move(done), &ok));
}

void AsyncClient::request(std::string_view target, RequestKind kind, Callback<Response> done) {
  core_->submit(std::string(target), kind == RequestKind::kRead, {},
                [done = std::move(done)](Outcome&& o, const std::string& url) {
                  if (!o.error.empty()) return done(Error{o.error, o.detail});
                  done(Response{static_cast<int>(o.status), std::move(o.body), url});
                });
}

void AsyncClient::refresh(Callback<size_t> done) {
  core_->refresh(std::move(done));
}

ClientStats AsyncClient::stats() const {
  return core_->stats();
}

void AsyncClient::close(std::function<void()> done) {
  core_->close(std::move(done));
}

}  // namespace meshkv
