// See loop_thread.h.
#include "common/testing/loop_thread.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

namespace common::testing {

LoopThread::LoopThread() {
  uv_loop_init(&loop_);
  async_.data = this;
  uv_async_init(&loop_, &async_, &LoopThread::onAsync);
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

LoopThread::~LoopThread() {
  if (!stopped_) stop([](std::function<void()> done) { done(); });
}

void LoopThread::onAsync(uv_async_t* a) noexcept {
  auto* self = static_cast<LoopThread*>(a->data);
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    work.swap(self->queue_);
  }
  for (auto& fn : work) fn();
}

void LoopThread::post(std::function<void()> fn) {
  postAsync([fn = std::move(fn)](std::function<void()> done) {
    fn();
    done();
  });
}

void LoopThread::postAsync(std::function<void(std::function<void()> done)> fn) {
  auto promise = std::make_shared<std::promise<void>>();
  auto future = promise->get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back([fn = std::move(fn), promise] { fn([promise] { promise->set_value(); }); });
  }
  uv_async_send(&async_);
  future.wait();
}

int LoopThread::stop(std::function<void(std::function<void()> done)> fn) {
  stopped_ = true;
  postAsync([this, fn = std::move(fn)](std::function<void()> done) {
    fn([this, done] {
      uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
      done();
    });
  });
  thread_.join();
  uv_run(&loop_, UV_RUN_NOWAIT);
  return uv_loop_close(&loop_);
}

int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

namespace {

// Counts complete responses in `buf` (Content-Length or chunked bodies).
int countResponses(const std::string& buf) {
  int count = 0;
  size_t pos = 0;
  while (true) {
    size_t end = buf.find("\r\n\r\n", pos);
    if (end == std::string::npos) return count;
    std::string head = buf.substr(pos, end - pos);
    size_t bodyStart = end + 4;
    if (head.rfind("HTTP/1.1 100", 0) == 0) {
      pos = bodyStart;
      continue;
    }
    size_t cl = head.find("Content-Length: ");
    if (cl != std::string::npos) {
      size_t len = std::stoul(head.substr(cl + 16));
      if (buf.size() < bodyStart + len) return count;
      pos = bodyStart + len;
    } else if (head.find("Transfer-Encoding: chunked") != std::string::npos) {
      size_t term = buf.find("\r\n0\r\n\r\n", bodyStart - 2);
      if (term == std::string::npos) return count;
      pos = term + 7;
    } else {
      return count;  // close-delimited: counted by the caller at EOF
    }
    ++count;
  }
}

}  // namespace

std::string readResponses(int fd, int n, int timeoutMs) {
  std::string buf;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  char tmp[65536];
  while (countResponses(buf) < n) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) break;
    ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) break;
    buf.append(tmp, static_cast<size_t>(r));
  }
  return buf;
}

std::string readUntilClose(int fd, int timeoutMs, bool* closed) {
  std::string buf;
  *closed = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  char tmp[65536];
  while (true) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) return buf;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) return buf;
    ssize_t r = ::recv(fd, tmp, sizeof tmp, 0);
    if (r <= 0) {
      *closed = true;
      return buf;
    }
    buf.append(tmp, static_cast<size_t>(r));
  }
}

}  // namespace common::testing
