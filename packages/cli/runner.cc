// See runner.h. Each command is: one client call, then one way of printing its answer.
#include "cli/runner.h"

#include <algorithm>

#include "common/http/json.h"

namespace cli {
namespace {

using common::json::appendString;

std::string jsonString(std::string_view s) {
  std::string out;
  appendString(out, s);
  return out;
}

void print(const Output& o, const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), o.out);
}

std::string bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

int listing(const Invocation& inv, meshkv::Client& client, const Output& o, meshkv::ListKind kind) {
  meshkv::ListOptions opts;
  opts.prefix = inv.args.empty() ? "" : inv.args[0];
  opts.collection = inv.collection;
  opts.kind = kind;
  opts.pageSize = 1000;
  std::vector<meshkv::Entry> all;
  for (meshkv::Pager p = client.list(opts); !p.done();) {
    auto page = p.next();
    if (!page.ok()) return report(page.error(), o);
    for (auto& e : page->entries) all.push_back(std::move(e));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  if (inv.json) {
    std::string s = "[";
    for (size_t i = 0; i < all.size(); ++i) {
      if (i > 0) s.push_back(',');
      if (kind == meshkv::ListKind::kKeys) {
        appendString(s, all[i].key);
      } else {
        s += "{\"k\":" + jsonString(all[i].key) + ",\"v\":" + jsonString(all[i].value) + "}";
      }
    }
    print(o, s + "]\n");
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  if (kind == meshkv::ListKind::kKeys) {
    rows.push_back({"KEY"});
    for (auto& e : all) rows.push_back({e.key});
  } else {
    rows.push_back({"KEY", "VALUE"});
    for (auto& e : all) rows.push_back({e.key, e.value});
  }
  print(o, table(rows, o.tty, true));
  if (o.tty)
    print(o, "(" + std::to_string(all.size()) + (all.size() == 1 ? " key)\n" : " keys)\n"));
  return kOk;
}

int stats(const Invocation& inv, meshkv::Client& client, const Output& o) {
  auto s = client.status();
  if (!s.ok()) return report(s.error(), o);
  if (inv.json) {
    print(o, s->json + "\n");
    return kOk;
  }
  size_t alive = 0;
  for (const auto& m : s->members) alive += m.state == "alive";
  std::vector<std::vector<std::string>> rows = {
      {"FIELD", "VALUE"},
      {"hostname", s->hostname},
      {"version", s->version},
      {"ready", s->ready ? "yes" : "no"},
      {"records", std::to_string(s->records)},
      {"uptime", std::to_string(s->uptimeSeconds) + " s"},
      {"connections", std::to_string(s->openConnections)},
      {"requests", std::to_string(s->totalRequests)},
      {"memory", o.tty ? bytes(s->residentBytes) : std::to_string(s->residentBytes)},
      {"members", std::to_string(s->members.size()) + " (" + std::to_string(alive) + " alive)"},
  };
  print(o, table(rows, o.tty, true));
  return kOk;
}

int members(const Invocation& inv, meshkv::Client& client, const Output& o) {
  auto s = client.status();
  if (!s.ok()) return report(s.error(), o);
  if (inv.json) {
    std::string j = "[";
    for (size_t i = 0; i < s->members.size(); ++i) {
      const auto& m = s->members[i];
      if (i > 0) j.push_back(',');
      j += "{\"id\":" + jsonString(m.id) + ",\"url\":" + jsonString(m.url) +
           ",\"state\":" + jsonString(m.state) + ",\"self\":" + (m.self ? "true" : "false") + "}";
    }
    print(o, j + "]\n");
    return kOk;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "URL", "STATE", "ANSWERED"}};
  for (const auto& m : s->members) rows.push_back({m.id, m.url, m.state, m.self ? "*" : ""});
  if (s->members.empty()) rows.push_back({s->hostname, "(standalone)", "alive", "*"});
  print(o, table(rows, o.tty, true));
  return kOk;
}

int done(const Invocation& inv, const Output& o) {
  print(o, inv.json ? "{\"success\":true}\n" : "OK\n");
  return kOk;
}

}  // namespace

int report(const common::Error& e, const Output& o, const std::string& key) {
  if (e.code == "USAGE") {
    std::fprintf(o.err, "meshkv: usage: %s\n", e.message.c_str());
    return kUsage;
  }
  if (e.code == meshkv::kMissingRecord) {
    std::fprintf(o.err, "meshkv: not found: %s\n", key.c_str());
    return kNotFound;
  }
  if (e.code == meshkv::kBadUrl) {
    std::fprintf(o.err, "meshkv: usage: bad node address (%s)\n", e.message.c_str());
    return kUsage;
  }
  std::fprintf(o.err, "meshkv: error: %s%s%s\n", e.code.c_str(), e.message.empty() ? "" : ": ",
               e.message.c_str());
  return kFailed;
}

std::string table(const std::vector<std::vector<std::string>>& rows, bool tty, bool header) {
  std::string out;
  if (!tty) {
    for (size_t r = header ? 1 : 0; r < rows.size(); ++r) {
      for (size_t c = 0; c < rows[r].size(); ++c) {
        if (c > 0) out.push_back('\t');
        out += rows[r][c];
      }
      out.push_back('\n');
    }
    return out;
  }
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

int run(const Invocation& inv, meshkv::Client& client, const Output& o) {
  const std::string& cmd = inv.command;
  const std::string key = inv.args.empty() ? "" : inv.args[0];
  meshkv::WriteOptions w{inv.w, inv.collection, inv.ttl};
  if (cmd == "get") {
    auto v = client.get(key, inv.collection);
    if (!v.ok()) return report(v.error(), o, key);
    print(o, (inv.json ? jsonString(*v) : *v) + "\n");
    return kOk;
  }
  if (cmd == "set") {
    auto st = client.set(key, inv.args[1], w);
    return st.ok() ? done(inv, o) : report(st.error(), o, key);
  }
  if (cmd == "del") {
    auto st = client.remove(key, w);
    return st.ok() ? done(inv, o) : report(st.error(), o, key);
  }
  if (cmd == "exists") {
    auto e = client.exists(key, inv.collection);
    if (!e.ok()) return report(e.error(), o, key);
    if (inv.json) print(o, *e ? "true\n" : "false\n");
    if (!*e) return report(common::Error{meshkv::kMissingRecord, ""}, o, key);
    return kOk;
  }
  if (cmd == "ttl") {
    auto t = client.ttl(key, inv.collection);
    if (!t.ok()) return report(t.error(), o, key);
    print(o, std::to_string(*t) + "\n");
    return kOk;
  }
  if (cmd == "persist") {
    auto st = client.persist(key, w);
    return st.ok() ? done(inv, o) : report(st.error(), o, key);
  }
  if (cmd == "clear") {
    auto st = client.clear(w);
    return st.ok() ? done(inv, o) : report(st.error(), o);
  }
  if (cmd == "keys") return listing(inv, client, o, meshkv::ListKind::kKeys);
  if (cmd == "all") return listing(inv, client, o, meshkv::ListKind::kAll);
  if (cmd == "stats") return stats(inv, client, o);
  if (cmd == "members") return members(inv, client, o);
  if (cmd == "join") {
    auto st = client.join(key);
    if (!st.ok()) return report(st.error(), o);
    print(o, inv.json ? "{\"success\":true}\n" : "OK: the node contacts " + key + "\n");
    return kOk;
  }
  if (cmd == "watch") {  // a stream that runs until Ctrl-C: one-shot only (main.cc, watch.h)
    return report(
        common::Error{"USAGE", "watch runs as a command of its own: meshkv watch [PREFIX]"}, o);
  }
  if (cmd == "use") {  // the shell's state, not a request (repl.cc)
    return report(common::Error{"USAGE", "use works in the shell; give -c COLLECTION here"}, o);
  }
  if (cmd == "help") {
    print(o, helpText());
    return kOk;
  }
  return report(common::Error{"USAGE", "unknown command " + cmd}, o);
}

}  // namespace cli
