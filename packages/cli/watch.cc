// See watch.h.
#include "cli/watch.h"

#include <curl/curl.h>
#include <rapidjson/document.h>

#include <memory>
#include <string_view>

namespace cli {
namespace {

struct Stream {
  const Output* o;
  bool json;
  const std::atomic<bool>* stop;
  std::string pending;  // the bytes after the last complete line
  std::string error;    // the node's JSON error body when it refused the watch
  long status = 0;
};

std::string field(const rapidjson::Value& v, const char* name) {
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

void printEvent(const Stream& s, std::string_view line) {
  if (s.json) {
    std::fwrite(line.data(), 1, line.size(), s.o->out);
    std::fputc('\n', s.o->out);
    return;
  }
  rapidjson::Document d;
  d.Parse(line.data(), line.size());
  if (d.HasParseError() || !d.IsObject()) return;  // not an event: nothing to show
  std::string kind = field(d, "kind");
  std::string text = kind;
  if (kind == "set") text += " " + field(d, "key") + " " + field(d, "value");
  if (kind == "rm" || kind == "expire") text += " " + field(d, "key");
  if (kind == "reset") text += " (" + field(d, "reason") + "): list the keys again";
  std::fprintf(s.o->out, "%s\n", text.c_str());
}

size_t onData(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Stream*>(user);
  size_t bytes = size * n;
  if (s->status >= 300) {
    s->error.append(data, bytes);
    return bytes;
  }
  s->pending.append(data, bytes);
  size_t start = 0;
  for (size_t nl; (nl = s->pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    printEvent(*s, std::string_view(s->pending).substr(start, nl - start));
  }
  s->pending.erase(0, start);
  std::fflush(s->o->out);
  return bytes;
}

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Stream*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // "HTTP/1.1 200 OK"
    auto sp = line.find(' ');
    if (sp != std::string_view::npos) s->status = std::strtol(line.data() + sp + 1, nullptr, 10);
  }
  return size * n;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Stream*>(user)->stop->load() ? 1 : 0;  // non-zero aborts the transfer
}

}  // namespace

int watch(const Invocation& inv, const std::string& url, const Output& o,
          const std::atomic<bool>& stop) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return report(common::Error{"UNAVAILABLE", "libcurl could not start"}, o);
  std::string target = url + "/watch";
  char sep = '?';
  auto param = [&](const char* name, const std::string& value) {
    char* p = curl_easy_escape(curl.get(), value.data(), static_cast<int>(value.size()));
    target += sep + std::string(name) + "=" + p;
    sep = '&';
    curl_free(p);
  };
  if (!inv.collection.empty()) param("c", inv.collection);
  if (!inv.args.empty()) param("prefix", inv.args[0]);
  Stream s{&o, inv.json, &stop, {}, {}, 0};
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/x-ndjson");
  curl_easy_setopt(curl.get(), CURLOPT_URL, target.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &onData);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, &onHeader);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &s);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, &onProgress);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &s);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(inv.timeoutMs));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl.get());
  curl_slist_free_all(headers);
  if (stop.load()) return kOk;  // Ctrl-C: the user ended it
  if (s.status >= 300) {
    rapidjson::Document d;
    d.Parse(s.error.c_str());
    std::string code = d.IsObject() ? field(d, "error") : "";
    return report(common::Error{code.empty() ? "HTTP_" + std::to_string(s.status) : code, ""}, o);
  }
  if (rc != CURLE_OK) return report(common::Error{"UNAVAILABLE", curl_easy_strerror(rc)}, o);
  return report(common::Error{"STREAM_ENDED", "the node closed the stream"}, o);
}

}  // namespace cli
