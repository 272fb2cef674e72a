// See args.h. Flags are accepted before or after the command (`meshkv get k --json` and
// `meshkv --json get k`), as --name=value or --name value.
#include "cli/args.h"

#include <algorithm>
#include <charconv>

namespace cli {
namespace {

common::Error usage(std::string message) {
  return common::Error{"USAGE", std::move(message)};
}

}  // namespace

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> kCommands = {
      {"get", 1, 1, "get KEY", "print the value of KEY (exit 1 if it does not exist)", true},
      {"set", 2, 2, "set KEY VALUE [--ttl=SECONDS]", "store VALUE under KEY", true},
      {"del", 1, 1, "del KEY", "remove KEY (exit 1 if it does not exist)", true},
      {"exists", 1, 1, "exists KEY", "exit 0 if KEY exists, 1 if not", true},
      {"ttl", 1, 1, "ttl KEY", "seconds until KEY expires, -1 if never (exit 1 if no KEY)", true},
      {"persist", 1, 1, "persist KEY", "KEY no longer expires (exit 1 if it does not exist)", true},
      {"keys", 0, 1, "keys [PREFIX]", "list the keys (that start with PREFIX)", true},
      {"all", 0, 1, "all [PREFIX]", "list keys and values (that start with PREFIX)", true},
      {"clear", 0, 0, "clear", "remove every key of the collection, on the whole cluster", false},
      {"stats", 0, 0, "stats", "the node's status: records, uptime, memory, members", false},
      {"members", 0, 0, "members", "the members of the mesh and their state", false},
      {"join", 1, 1, "join HOST:PORT", "tell the node to contact HOST:PORT and merge meshes",
       false},
      {"watch", 0, 1, "watch [PREFIX]",
       "print every change (to keys that start with PREFIX) as it happens, until Ctrl-C", true},
      {"use", 0, 1, "use [COLLECTION]",
       "shell only: work in COLLECTION from now on (none: the default collection)", false},
      {"help", 0, 1, "help [COMMAND]", "this help", false},
  };
  return kCommands;
}

const CommandSpec* findCommand(std::string_view name) {
  for (const auto& c : commands()) {
    if (name == c.name) return &c;
  }
  if (name == "rm" || name == "remove") return findCommand("del");
  return nullptr;
}

std::string helpText() {
  std::string out = "commands:\n";
  size_t width = 0;
  for (const auto& c : commands()) width = std::max(width, std::string_view(c.usage).size());
  for (const auto& c : commands()) {
    std::string u = c.usage;
    out += "  " + u + std::string(width - u.size() + 2, ' ') + c.summary + "\n";
  }
  out +=
      "flags:\n"
      "  --node=HOST:PORT   the node or balancer (else MESHKV_URL, else 127.0.0.1:8080)\n"
      "  --json             machine-readable output\n"
      "  -c, --collection=C the collection of key and list commands, clear, watch (default: none)\n"
      "  --w=quorum|all     write concern of set/del/persist/clear\n"
      "  --ttl=SECONDS      set: the key expires this long after the write\n"
      "  --timeout=MS       per request, retries included (5000)\n"
      "exit status: 0 ok, 1 not found, 2 usage, 3 server or network error\n"
      "with no command: an interactive shell (history in ~/.meshkv_history, Tab completes)\n";
  return out;
}

common::Result<std::vector<std::string>> splitLine(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool inWord = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == ' ' || c == '\t') {
      if (inWord) words.push_back(std::move(cur));
      cur.clear();
      inWord = false;
      continue;
    }
    inWord = true;
    if (c == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return usage("unclosed '");
      cur.append(line.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) {
          char e = line[++j];
          cur.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
        } else {
          cur.push_back(line[j]);
        }
      }
      if (j >= line.size()) return usage("unclosed \"");
      i = j;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur.push_back(line[++i]);
    } else {
      cur.push_back(c);
    }
  }
  if (inWord) words.push_back(std::move(cur));
  return words;
}

common::Result<Invocation> parse(const std::vector<std::string>& words) {
  Invocation inv;
  std::vector<std::string> rest;
  bool flagsDone = false;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (flagsDone || w.size() < 2 || w[0] != '-' || (w[1] != '-' && w != "-h" && w != "-c")) {
      rest.push_back(w);
      continue;
    }
    if (w == "--") {
      flagsDone = true;
      continue;
    }
    std::string name = w;
    std::optional<std::string> value;
    size_t eq = w.find('=');
    if (eq != std::string::npos) {
      name = w.substr(0, eq);
      value = w.substr(eq + 1);
    }
    auto needValue = [&]() -> common::Result<std::string> {
      if (value) return *value;
      if (i + 1 >= words.size()) return usage(name + " needs a value");
      return words[++i];
    };
    if (name == "--json") {
      inv.json = true;
    } else if (name == "--help" || name == "-h") {
      inv.help = true;
    } else if (name == "--version") {
      inv.version = true;
    } else if (name == "--node") {
      auto v = needValue();
      if (!v.ok()) return v.error();
      inv.node = *v;
    } else if (name == "--w") {
      auto v = needValue();
      if (!v.ok()) return v.error();
      inv.w = *v;
    } else if (name == "--collection" || name == "-c") {
      auto v = needValue();
      if (!v.ok()) return v.error();
      inv.collection = *v;
    } else if (name == "--ttl") {
      auto v = needValue();
      if (!v.ok()) return v.error();
      auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), inv.ttl);
      if (ec != std::errc() || p != v->data() + v->size() || inv.ttl == 0) {
        return usage("--ttl needs a positive number of seconds");
      }
    } else if (name == "--timeout") {
      auto v = needValue();
      if (!v.ok()) return v.error();
      int ms = 0;
      auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), ms);
      if (ec != std::errc() || p != v->data() + v->size() || ms <= 0) {
        return usage("--timeout needs a positive number of milliseconds");
      }
      inv.timeoutMs = ms;
    } else {
      return usage("unknown flag " + name + " (see meshkv --help)");
    }
  }
  if (rest.empty()) return inv;
  inv.command = rest[0];
  inv.args.assign(rest.begin() + 1, rest.end());
  const CommandSpec* spec = findCommand(inv.command);
  if (spec == nullptr) return usage("unknown command " + inv.command + " (see meshkv help)");
  inv.command = spec->name;  // aliases (rm) become the command's name
  if (inv.args.size() < spec->minArgs || inv.args.size() > spec->maxArgs) {
    return usage(std::string("meshkv ") + spec->usage);
  }
  if (inv.ttl != 0 && inv.command != "set") return usage("--ttl goes with set only");
  return inv;
}

std::string nodeUrl(const std::string& flag, const char* env) {
  std::string v = !flag.empty() ? flag : (env != nullptr && *env != '\0') ? env : "127.0.0.1:8080";
  if (v.rfind("http://", 0) != 0) v = "http://" + v;
  while (v.size() > 7 && v.back() == '/') v.pop_back();
  return v;
}

}  // namespace cli
