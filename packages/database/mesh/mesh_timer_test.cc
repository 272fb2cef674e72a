// MeshTimer: the handler fixed at construction runs when the timer fires (once, or repeatedly),
// stop() keeps it from firing, and after close() the closed callback runs, a start() is ignored
// and the loop ends with no handle left open.
#include "database/mesh/mesh_timer.h"

#include <gtest/gtest.h>

#include "common/testing/run_until.h"

namespace db {
namespace {

using common::testing::runUntil;

class MeshTimerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    uv_run(&loop_, UV_RUN_DEFAULT);  // the close callbacks
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }
  uv_loop_t loop_;
};

TEST_F(MeshTimerTest, FiresItsHandlerOnceOrRepeatedly) {
  int once = 0, repeated = 0;
  MeshTimer a(&loop_, [&] { ++once; });
  MeshTimer b(&loop_, [&] { ++repeated; });
  a.start(1);
  b.start(1, 1);
  EXPECT_TRUE(a.active());
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return repeated >= 3; }, 5000));
  EXPECT_EQ(once, 1);
  EXPECT_FALSE(a.active());
  EXPECT_TRUE(b.active());
  b.stop();
  EXPECT_FALSE(b.active());
  int closed = 0;
  a.close([&] { ++closed; });
  b.close([&] { ++closed; });
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return closed == 2; }, 5000));
}

TEST_F(MeshTimerTest, AStartAfterCloseIsIgnored) {
  int fired = 0, closed = 0;
  MeshTimer t(&loop_, [&] { ++fired; });
  t.close([&] { ++closed; });
  t.start(0);  // a part that shut down asks again: nothing happens
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return closed == 1; }, 5000));
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(fired, 0);
  EXPECT_FALSE(t.active());
}

}  // namespace
}  // namespace db
