// meshkv-echo: a minimal TCP echo server (every byte read is written back), used by the
// end-to-end tests as a service that is not meshkv, to show meshkv-lb balances any TCP service.
// One libuv loop, one thread; each connection's memory is freed in its close callback.
// Settings: PORT (default 7), each also a flag. SIGTERM/SIGINT close everything and exit 0.
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Conn {
  uv_tcp_t tcp;
};

struct Write {
  uv_write_t req;
  char* data;
};

uv_tcp_t listener;
uv_signal_t sigterm, sigint;

void onClose(uv_handle_t* h) {
  delete static_cast<Conn*>(h->data);
}

void onWrite(uv_write_t* req, int) {
  auto* w = static_cast<Write*>(req->data);
  delete[] w->data;
  delete w;
}

void onAlloc(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
  *buf = uv_buf_init(new char[suggested], static_cast<unsigned>(suggested));
}

void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  if (n > 0) {
    auto* w = new Write{{}, buf->base};
    w->req.data = w;
    uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned>(n));
    if (uv_write(&w->req, s, &out, 1, onWrite) != 0) {
      delete[] w->data;
      delete w;
    }
    return;
  }
  delete[] buf->base;
  if (n < 0 && !uv_is_closing(reinterpret_cast<uv_handle_t*>(s))) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), onClose);
  }
}

void onConnection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* c = new Conn{};
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), onClose);
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), onAlloc, onRead);
}

void onSignal(uv_signal_t*, int) {
  uv_walk(
      uv_default_loop(),
      [](uv_handle_t* h, void*) {
        if (uv_is_closing(h)) return;
        bool isConn = h->type == UV_TCP && h != reinterpret_cast<uv_handle_t*>(&listener);
        uv_close(h, isConn ? onClose : nullptr);
      },
      nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 7;
  if (const char* env = std::getenv("PORT")) port = std::atoi(env);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--port" || a == "-p") && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: meshkv-echo [--port PORT]   (env PORT, default 7)\n");
      return 0;
    } else {
      std::fprintf(stderr, "meshkv-echo: invalid configuration: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (port < 0 || port > 65535) {
    std::fprintf(stderr, "meshkv-echo: invalid configuration: --port %d out of range\n", port);
    return 2;
  }
  uv_loop_t* loop = uv_default_loop();
  uv_tcp_init(loop, &listener);
  sockaddr_in addr{};
  uv_ip4_addr("0.0.0.0", port, &addr);
  int rc = uv_tcp_bind(&listener, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 511, onConnection);
  if (rc != 0) {
    std::fprintf(stderr, "meshkv-echo: cannot listen on port %d: %s\n", port, uv_strerror(rc));
    return 1;
  }
  uv_signal_init(loop, &sigterm);
  uv_signal_init(loop, &sigint);
  uv_signal_start(&sigterm, onSignal, SIGTERM);
  uv_signal_start(&sigint, onSignal, SIGINT);
  std::printf("meshkv-echo: listening on port %d\n", port);
  std::fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
