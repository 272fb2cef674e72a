// See standalone_cluster.h.
#include "database/standalone_cluster.h"

namespace db {

void StandaloneCluster::registerRoutes(common::http::Server& server) {
  server.route("/ping", [](const common::http::Request&, common::http::Responder r) {
    r.respond(200, "{\"nodes\":[]}");
  });
}

void StandaloneCluster::appendStatus(std::string& json) const {
  json.append(",\"mesh\":false,\"ready\":true,\"members\":[]");
}

}  // namespace db
