// See repl.h. libedit's readline returns NULL both at end of input and when a read is
// interrupted; our SIGINT handler (installed without SA_RESTART) sets a flag, so a NULL with the
// flag set is Ctrl-C (drop the line, prompt again) and a NULL without it is Ctrl-D.
#include "cli/repl.h"

#include <editline/readline.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cli/runner.h"

namespace cli {
namespace {

volatile sig_atomic_t gInterrupted = 0;
meshkv::Client* gClient = nullptr;  // for the completion callbacks (C function pointers)
std::string gCollection;            // `use`: the collection keys are completed from
std::vector<std::string> gMatches;
size_t gNext = 0;

void onSigint(int) {
  gInterrupted = 1;
}

char* nextMatch(const char*, int state) {
  if (state == 0) gNext = 0;
  if (gNext >= gMatches.size()) return nullptr;
  return strdup(gMatches[gNext++].c_str());
}

// Completes the word at [start, end) of rl_line_buffer: a command name for the first word, a
// key for the first argument of a command that takes one.
char** complete(const char* text, int start, int) {
  rl_attempted_completion_over = 1;  // never fall back to file names
  gMatches.clear();
  std::string before(rl_line_buffer, static_cast<size_t>(start));
  auto words = splitLine(before);
  if (!words.ok()) return nullptr;
  if (words->empty()) {
    for (const auto& c : commands()) {
      if (std::strncmp(c.name, text, std::strlen(text)) == 0) gMatches.push_back(c.name);
    }
    for (const char* extra : {"exit", "quit"}) {
      if (std::strncmp(extra, text, std::strlen(text)) == 0) gMatches.push_back(extra);
    }
  } else if (words->size() == 1 && gClient != nullptr) {
    const CommandSpec* spec = findCommand((*words)[0]);
    if (spec == nullptr || !spec->takesKey) return nullptr;
    auto keys = gClient->keys(text, 200, gCollection);
    if (!keys.ok()) return nullptr;
    gMatches = std::move(*keys);
  }
  if (gMatches.empty()) return nullptr;
  return rl_completion_matches(text, &nextMatch);
}

std::string historyPath() {
  if (const char* p = std::getenv("MESHKV_HISTORY")) return p;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.meshkv_history";
}

}  // namespace

int repl(const Invocation& defaults, const std::string& url, meshkv::Client& client) {
  gClient = &client;
  rl_readline_name = "meshkv";
  rl_catch_signals = 0;
  rl_attempted_completion_function = &complete;
  const std::string history = historyPath();
  read_history(history.c_str());
  stifle_history(1000);

  struct sigaction sa {};
  sa.sa_handler = &onSigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the read inside readline must return
  struct sigaction old {};
  sigaction(SIGINT, &sa, &old);

  std::string host = url.substr(url.find("//") + 2);
  gCollection = defaults.collection;
  // "meshkv HOST> ", or "meshkv HOST/COLLECTION> " after `use COLLECTION` (or -c).
  auto promptFor = [&host] {
    return "meshkv " + host + (gCollection.empty() ? "" : "/" + gCollection) + "> ";
  };
  std::string prompt = promptFor();
  std::printf("meshkv %s: connected to %s; type help, Tab completes, Ctrl-D leaves\n",
              MESHKV_VERSION, host.c_str());
  Output out;
  out.tty = isatty(STDOUT_FILENO) != 0;
  while (true) {
    gInterrupted = 0;
    char* raw = readline(prompt.c_str());
    if (raw == nullptr) {
      if (gInterrupted) {  // Ctrl-C: the line is dropped, a new prompt
        std::printf("^C\n");
        continue;
      }
      std::printf("\n");
      break;  // Ctrl-D
    }
    std::string line(raw);
    std::free(raw);
    auto words = splitLine(line);
    if (!words.ok()) {
      report(words.error(), out);
      continue;
    }
    if (words->empty()) continue;
    add_history(line.c_str());
    write_history(history.c_str());
    if ((*words)[0] == "exit" || (*words)[0] == "quit") break;
    auto inv = parse(*words);
    if (!inv.ok()) {
      report(inv.error(), out);
      continue;
    }
    if (inv->command.empty()) continue;
    if (inv->command == "use") {  // the server checks the name on the first request
      gCollection = inv->args.empty() ? "" : inv->args[0];
      prompt = promptFor();
      continue;
    }
    if (!inv->json) inv->json = defaults.json;
    if (inv->w.empty()) inv->w = defaults.w;
    if (inv->collection.empty()) inv->collection = gCollection;
    run(*inv, client, out);
    std::fflush(stdout);
  }
  sigaction(SIGINT, &old, nullptr);
  gClient = nullptr;
  return kOk;
}

}  // namespace cli
