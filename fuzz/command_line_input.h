// fuzz::CommandLine: turns a fuzz input into a program's command line and environment, for the
// configuration targets (lb_config, node_config). Each input line is one argv word, except a
// line "$NAME=value", which sets that environment variable. The one thing to get right: the
// environment is process-wide, so every name a target reads is unset before the input is
// applied and again when the CommandLine goes away (the next input must not inherit it).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz {

class CommandLine {
 public:
  CommandLine(const char* program, std::span<const char* const> envNames, const uint8_t* data,
              size_t size)
      : envNames_(envNames), words_{program} {
    unsetAll();
    std::string_view input(reinterpret_cast<const char*>(data), size);
    while (!input.empty()) {
      size_t nl = input.find('\n');
      std::string line(input.substr(0, nl));
      input = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
      line = line.c_str();  // argv and the environment are C strings
      if (!line.empty() && line.front() == '$') {
        size_t eq = line.find('=');
        if (eq != std::string::npos && eq > 1) {
          setenv(line.substr(1, eq - 1).c_str(), line.c_str() + eq + 1, 1);
        }
      } else {
        words_.push_back(std::move(line));
      }
    }
    for (auto& w : words_) argv_.push_back(w.data());
    argv_.push_back(nullptr);
  }
  ~CommandLine() { unsetAll(); }
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  int argc() const { return static_cast<int>(words_.size()); }
  char** argv() { return argv_.data(); }

 private:
  void unsetAll() {
    for (const char* name : envNames_) unsetenv(name);
  }

  std::span<const char* const> envNames_;
  std::vector<std::string> words_;
  std::vector<char*> argv_;
};

}  // namespace fuzz
