// Test doubles for the proxy tests, all on loopback port 0 on the test's own loop:
// TestBackend (a TCP server that greets with its name and echoes, or floods a given number of
// bytes, and answers a FIN with "bye" before closing: half-close visible), and TestClient (one
// connection whose reading can be paused to play a slow reader). Both free their handles in
// close callbacks; call close() and run the loop before uv_loop_close().
#pragma once

#include <uv.h>

#include <cstdint>
#include <list>
#include <memory>
#include <string>

namespace lb::testing {

class TestBackend {
 public:
  enum class Mode { kGreetAndEcho, kFlood };
  TestBackend(uv_loop_t* loop, std::string name, Mode mode = Mode::kGreetAndEcho,
              uint64_t floodBytes = 0);
  ~TestBackend();
  int listen();  // returns the port
  void close();
  void closeConnections();  // drop every open connection (not the listener)

  int accepted = 0;
  int open = 0;
  uint64_t flooded = 0;  // bytes handed to the kernel in flood mode
  size_t maxWriteQueue = 0;
  bool floodBlocked = false;  // the proxy stopped taking our bytes (back-pressure reached us)
  const std::string& name() const { return name_; }

 private:
  struct Conn;
  static void onConnection(uv_stream_t* s, int status);
  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b);
  void flood(Conn* c);
  void write(Conn* c, std::string data);
  void closeConn(Conn* c);

  uv_loop_t* loop_;
  std::string name_;
  Mode mode_;
  uint64_t floodBytes_;
  uv_tcp_t* server_ = nullptr;
  std::list<std::unique_ptr<Conn>> conns_;
};

class TestClient {
 public:
  explicit TestClient(uv_loop_t* loop);
  ~TestClient();
  void connect(int port, bool startReading = true);
  void send(const std::string& data);
  void shutdown();  // half-close: FIN to the proxy
  void pauseReading();
  void resumeReading();
  void close();

  bool connected = false;
  bool failed = false;
  bool eof = false;    // FIN or reset seen
  bool reset = false;  // an error, not a clean FIN
  std::string received;
  uint64_t receivedBytes = 0;
  bool keepData = true;  // false: count bytes only (bulk tests)

 private:
  struct State;
  State* st_;
};

}  // namespace lb::testing
