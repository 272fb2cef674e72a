// Black-box test of the node's request-body limits (issue 10): many connections, each declaring
// a body of tens of MB, sending several MB of it and then stalling, must leave the node's
// resident memory (VmRSS, and the peak VmHWM, of the real meshkv-node process) within a few MB
// of where it was. A public route refuses such a body from its head (413, 8 KiB limit). A mesh
// route takes frames up to 64 MiB; until its admit hook (the signature checked before the body
// is read) lands, what bounds an unsigned flood there is only the server-wide cap on unfinished
// bodies, which this test sets to 1 MiB (MAX_PENDING_BODY_BYTES); once the hook lands the same
// test holds with the refusal at the head instead. The one thing to get right: read the peak,
// not just the RSS after the flood, or a node that buffers and frees in time would pass.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/mesh/harness.h"

namespace meshtest {
namespace {

constexpr size_t kDeclared = 63'000'000;  // the body each connection announces
constexpr size_t kSent = 8u << 20;        // and how much of it it sends before stalling
constexpr int kConnections = 16;
constexpr long kToleranceKb = 8 * 1024;  // "within a few MB"

// A "VmRSS:" or "VmHWM:" line of /proc/<pid>/status, in kB; -1 when unreadable.
long procStatusKb(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Restarts the peak (VmHWM) from the current RSS (Linux >= 4.0).
bool resetPeak(pid_t pid) {
  std::ofstream f("/proc/" + std::to_string(pid) + "/clear_refs");
  f << "5";
  return static_cast<bool>(f.flush());
}

int connectTo(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval t{2, 0};  // a node that stops reading ends the send; a silent one ends the recv
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
  return fd;
}

// Sends `head` and then up to kSent bytes of body; stops early when the node closes or stops
// reading. The connection is left open (the body stays unfinished).
void sendUnfinished(int fd, const std::string& head) {
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  const std::string piece(64 * 1024, 'x');
  for (size_t sent = 0; sent < kSent;) {
    ssize_t n = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // closed (EPIPE, ECONNRESET) or not reading (timeout)
    sent += static_cast<size_t>(n);
  }
}

// The status line the node answered on fd, or "" (none within the receive timeout, or reset).
std::string statusLine(int fd) {
  std::string got;
  char buf[512];
  while (got.find("\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got.substr(0, got.find("\r\n"));
}

struct Flood {
  std::vector<int> fds;
  std::vector<std::string> answers;
  ~Flood() {
    for (int fd : fds) ::close(fd);
  }
};

// kConnections connections to `node`, each with an unfinished body for `path`.
void flood(NodeProcess& node, const std::string& path, const std::string& extraHeaders,
           Flood& out) {
  const std::string head = "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + extraHeaders +
                           "Content-Length: " + std::to_string(kDeclared) + "\r\n\r\n";
  for (int i = 0; i < kConnections; ++i) {
    int fd = connectTo(node.id(), node.port());
    ASSERT_GE(fd, 0);
    out.fds.push_back(fd);
    sendUnfinished(fd, head);
    out.answers.push_back(statusLine(fd));
  }
}

class BodyLimits : public ::testing::Test {
 protected:
  // Starts one node and measures its RSS once it has served a request.
  void startNode(const std::map<std::string, std::string>& env) {
    ASSERT_EQ(cluster_.addNode(-1, env), 0);
    node_ = &cluster_.node(0);
    ASSERT_EQ(node_->get("/set?k=a&v=b").status, 200);
    ASSERT_TRUE(resetPeak(node_->pid()));
    before_ = procStatusKb(node_->pid(), "VmRSS");
    ASSERT_GT(before_, 0);
  }
  // The node's peak and current RSS stayed within the tolerance, and it still serves.
  void expectMemoryKept() {
    long peak = procStatusKb(node_->pid(), "VmHWM");
    long now = procStatusKb(node_->pid(), "VmRSS");
    EXPECT_LT(peak - before_, kToleranceKb)
        << "peak RSS grew from " << before_ << " kB to " << peak << " kB";
    EXPECT_LT(now - before_, kToleranceKb) << "RSS grew from " << before_ << " kB to " << now;
    EXPECT_EQ(node_->get("/get?k=a").status, 200);
  }

  Cluster cluster_{"bodylimits"};
  NodeProcess* node_ = nullptr;
  long before_ = 0;
};

TEST_F(BodyLimits, UnfinishedBodiesOnPublicRoutesLeaveMemoryAlone) {
  startNode({});
  Flood f;
  flood(*node_, "/set?k=b&v=c", "", f);  // the routes take their input in the URL
  ASSERT_EQ(f.answers.size(), static_cast<size_t>(kConnections));
  for (const std::string& a : f.answers) {
    EXPECT_TRUE(a.empty() || a.rfind("HTTP/1.1 413 ", 0) == 0) << a;
  }
  EXPECT_EQ(f.answers[0].rfind("HTTP/1.1 413 ", 0), 0u) << "the first one, at least, is read";
  expectMemoryKept();  // measured while every connection is still open
}

TEST_F(BodyLimits, UnsignedBodiesOnAMeshRouteAreBoundedByTheServerCap) {
  std::map<std::string, std::string> env = {{"MESH_SECRET", "s3cret"},
                                            {"MAX_PENDING_BODY_BYTES", "1048576"}};
  // Under ASan a freed buffer would sit in the quarantine (resident) instead of going back.
  if (sanitized()) {
    const char* asan = std::getenv("ASAN_OPTIONS");
    env["ASAN_OPTIONS"] = std::string(asan != nullptr ? asan : "") + ":quarantine_size_mb=0";
  }
  startNode(env);
  Flood f;
  flood(*node_, "/_mesh/replicate", "X-Mesh-From: attacker\r\n", f);
  for (const std::string& a : f.answers) {
    // 503 BODY_MEMORY_FULL now; 401 once the signature is checked at the head.
    EXPECT_TRUE(a.empty() || a.rfind("HTTP/1.1 503 ", 0) == 0 || a.rfind("HTTP/1.1 401 ", 0) == 0)
        << a;
  }
  expectMemoryKept();
}

}  // namespace
}  // namespace meshtest
