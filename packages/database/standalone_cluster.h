// StandaloneCluster: the db::Cluster of a node that runs alone (MESH_NETWORK_URL unset). It is
// always ready, every write is fully "replicated" once applied here, and /ping answers with an
// empty node list. Owned by the Node; holds no libuv handles.
#pragma once

#include "database/cluster.h"

namespace db {

class StandaloneCluster : public Cluster {
 public:
  void registerRoutes(common::http::Server& server) override;
  void start() override {}
  void onLocalWrite(const Mutation&) override {}
  void awaitReplication(const Mutation&, WriteConcern,
                        std::function<void(bool ok, int acked)> done) override {
    done(true, 1);
  }
  bool ready() const override { return true; }
  void appendStatus(std::string& json) const override;
  void leave(std::function<void()> done) override { done(); }
};

}  // namespace db
