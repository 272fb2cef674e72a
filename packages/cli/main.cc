// meshkv: the command line and interactive shell of meshkv. `meshkv get k`, `meshkv set k v`,
// ... run one command and exit (0 ok, 1 not found, 2 usage, 3 server or network error);
// `meshkv` alone opens the shell (cli/repl.h). The node is --node=host:port, else MESHKV_URL,
// else the balancer on 127.0.0.1:8080. One-shot commands talk to that address only; the shell
// also learns the members and spreads its requests over them.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "cli/args.h"
#include "cli/repl.h"
#include "cli/runner.h"
#include "cli/watch.h"
#include "meshkv/client.h"

namespace {
std::atomic<bool> gStop{false};  // `meshkv watch` ends cleanly on Ctrl-C / SIGTERM
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  cli::Output out;
  out.tty = isatty(STDOUT_FILENO) != 0;
  auto inv = cli::parse(words);
  if (!inv.ok()) return cli::report(inv.error(), out);
  if (inv->help || inv->command == "help") {
    std::printf("usage: meshkv [--node=HOST:PORT] [--json] COMMAND [ARGS]\n%s",
                cli::helpText().c_str());
    return cli::kOk;
  }
  if (inv->version) {
    std::printf("meshkv %s\n", MESHKV_VERSION);
    return cli::kOk;
  }
  meshkv::Options opts;
  opts.url = cli::nodeUrl(inv->node, std::getenv("MESHKV_URL"));
  opts.requestTimeoutMs = inv->timeoutMs;
  opts.connectTimeoutMs = std::min(inv->timeoutMs, 2000);
  const bool shell = inv->command.empty();
  opts.discovery = shell ? meshkv::Discovery::kCluster : meshkv::Discovery::kSeedOnly;
  if (inv->command == "join") opts.discovery = meshkv::Discovery::kSeedOnly;
  if (inv->command == "watch") {
    std::signal(SIGINT, [](int) { gStop = true; });
    std::signal(SIGTERM, [](int) { gStop = true; });
    return cli::watch(*inv, opts.url, out, gStop);
  }
  meshkv::Client client(opts);
  if (shell) return cli::repl(*inv, opts.url, client);
  return cli::run(*inv, client, out);
}
