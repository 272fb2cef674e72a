// ScalingPolicy with a fake clock and fake samples: thresholds over a full window, bounds,
// cool-downs, the back-off after failed actions, and samples without CPU (Swarm tasks on other
// hosts): connections alone decide.
#include "load-balancer/autoscale/policy.h"

#include <gtest/gtest.h>

namespace lb {
namespace {

ScalingOptions small() {
  ScalingOptions o;
  o.min = 2;
  o.max = 4;
  o.upCpu = 0.75;
  o.downCpu = 0.25;
  o.windowMs = 10000;
  o.upCooldownMs = 30000;
  o.downCooldownMs = 60000;
  o.backoffMs = 1000;
  o.maxBackoffMs = 8000;
  return o;
}

// Feeds one sample a second from `from` to `to` (inclusive) at `cpu`.
void feed(ScalingPolicy& p, uint64_t from, uint64_t to, double cpu, double conns = 0) {
  for (uint64_t t = from; t <= to; t += 1000) p.observe({t, cpu, conns});
}

TEST(ScalingPolicy, WaitsForAFullWindowBeforeScalingUp) {
  ScalingPolicy p(small());
  feed(p, 0, 9000, 0.9);
  EXPECT_EQ(p.decide(9000, 2).action, ScalingAction::kNone);
  feed(p, 10000, 10000, 0.9);
  ScalingDecision d = p.decide(10000, 2);
  EXPECT_EQ(d.action, ScalingAction::kUp);
  EXPECT_NE(d.reason.find("90 %"), std::string::npos) << d.reason;
}

TEST(ScalingPolicy, AveragesTheWindowSoOneSpikeDoesNotScale) {
  ScalingPolicy p(small());
  feed(p, 0, 9000, 0.3);
  feed(p, 10000, 10000, 3.0);  // mean (10 x 0.3 + 3.0) / 11 = 0.55
  EXPECT_EQ(p.decide(10000, 2).action, ScalingAction::kNone);
}

TEST(ScalingPolicy, OldSamplesLeaveTheWindow) {
  ScalingPolicy p(small());
  feed(p, 0, 20000, 0.1);
  feed(p, 21000, 40000, 0.9);
  EXPECT_EQ(p.decide(40000, 3).action, ScalingAction::kUp);
}

TEST(ScalingPolicy, ScalesDownWhenIdleButNotBelowTheMinimum) {
  ScalingPolicy p(small());
  feed(p, 0, 10000, 0.05);
  EXPECT_EQ(p.decide(10000, 3).action, ScalingAction::kDown);
  EXPECT_EQ(p.decide(10000, 2).action, ScalingAction::kNone);
}

TEST(ScalingPolicy, NeverAboveTheMaximum) {
  ScalingPolicy p(small());
  feed(p, 0, 10000, 2.0);
  EXPECT_EQ(p.decide(10000, 4).action, ScalingAction::kNone);
}

TEST(ScalingPolicy, OutsideTheBoundsStepsBackAtOnce) {
  ScalingPolicy p(small());
  EXPECT_EQ(p.decide(0, 1).action, ScalingAction::kUp);    // no window needed
  EXPECT_EQ(p.decide(0, 5).action, ScalingAction::kDown);  // e.g. after `up --scale 5`
}

TEST(ScalingPolicy, BetweenTheThresholdsNothingHappens) {
  ScalingPolicy p(small());
  feed(p, 0, 10000, 0.5);
  EXPECT_EQ(p.decide(10000, 3).action, ScalingAction::kNone);
}

TEST(ScalingPolicy, ConnectionsAloneCanScaleUpWhenEnabled) {
  ScalingOptions o = small();
  ScalingPolicy off(o);
  feed(off, 0, 10000, 0.1, 50);
  EXPECT_NE(off.decide(10000, 2).action, ScalingAction::kUp);
  o.upConnections = 20;
  ScalingPolicy on(o);
  feed(on, 0, 10000, 0.1, 50);
  EXPECT_EQ(on.decide(10000, 2).action, ScalingAction::kUp);
}

TEST(ScalingPolicy, NoDecisionWhileAnActionRuns) {
  ScalingPolicy p(small());
  feed(p, 0, 10000, 0.9);
  p.started(10000);
  EXPECT_EQ(p.decide(10000, 1).action, ScalingAction::kNone);
}

TEST(ScalingPolicy, CoolDownAfterScalingUp) {
  ScalingPolicy p(small());
  feed(p, 0, 10000, 0.9);
  p.started(10000);
  p.succeeded(10000, ScalingAction::kUp);
  feed(p, 11000, 39000, 0.9);  // window full again at 21 s, cool-down until 40 s
  EXPECT_EQ(p.decide(39000, 3).action, ScalingAction::kNone);
  feed(p, 40000, 40000, 0.9);
  EXPECT_EQ(p.decide(40000, 3).action, ScalingAction::kUp);
}

TEST(ScalingPolicy, ScaleDownWaitsItsLongerCoolDown) {
  ScalingPolicy p(small());
  feed(p, 0, 10000, 0.9);
  p.started(10000);
  p.succeeded(10000, ScalingAction::kUp);
  feed(p, 11000, 69000, 0.05);
  EXPECT_EQ(p.decide(69000, 3).action, ScalingAction::kNone);
  feed(p, 70000, 70000, 0.05);
  EXPECT_EQ(p.decide(70000, 3).action, ScalingAction::kDown);
}

TEST(ScalingPolicy, TheWindowStartsOverAfterAnAction) {
  ScalingOptions o = small();
  o.upCooldownMs = 0;
  ScalingPolicy p(o);
  feed(p, 0, 10000, 0.9);
  p.started(10000);
  p.succeeded(10000, ScalingAction::kUp);
  feed(p, 11000, 15000, 0.9);
  EXPECT_EQ(p.decide(15000, 3).action, ScalingAction::kNone);  // 4 s of the new group only
}

TEST(ScalingPolicy, FailuresBackOffExponentiallyUpToTheCap) {
  ScalingPolicy p(small());
  feed(p, 0, 10000, 0.9);
  uint64_t now = 10000;
  const uint64_t waits[] = {1000, 2000, 4000, 8000, 8000};
  for (uint64_t wait : waits) {
    ASSERT_EQ(p.decide(now, 2).action, ScalingAction::kUp);
    p.started(now);
    p.failed(now);
    EXPECT_EQ(p.decide(now + wait - 1, 2).action, ScalingAction::kNone);
    now += wait;
  }
  EXPECT_EQ(p.failuresInARow(), 5);
  p.started(now);
  p.succeeded(now, ScalingAction::kUp);
  EXPECT_EQ(p.failuresInARow(), 0);
  EXPECT_EQ(p.backoffUntilMs(), 0u);
}

TEST(ScalingPolicy, NoScaleDownThatWouldMakeTheRestHot) {
  ScalingOptions o = small();
  o.upConnections = 24;
  ScalingPolicy p(o);
  feed(p, 0, 10000, 0.01, 21);  // 64 connections over 3 nodes: 2 nodes would hold 32 each
  EXPECT_EQ(p.decide(10000, 3).action, ScalingAction::kNone);
  ScalingPolicy idle(o);
  feed(idle, 0, 10000, 0.01, 10);  // 2 nodes would hold 15 each: fine
  EXPECT_EQ(idle.decide(10000, 3).action, ScalingAction::kDown);
}

// No CPU reachable (every task on another host): the connections scale up; only a window with
// no connection open at all scales down; some open connections hold the size.
TEST(ScalingPolicy, WithoutCpuTheConnectionsDecide) {
  ScalingOptions o = small();
  o.upConnections = 24;
  auto feedBlind = [](ScalingPolicy& p, uint64_t from, uint64_t to, double conns) {
    for (uint64_t t = from; t <= to; t += 1000) p.observe({t, std::nullopt, conns});
  };
  ScalingPolicy busy(o);
  feedBlind(busy, 0, 10000, 30);
  ScalingDecision d = busy.decide(10000, 2);
  EXPECT_EQ(d.action, ScalingAction::kUp);
  EXPECT_NE(d.reason.find("CPU unknown"), std::string::npos) << d.reason;
  ScalingPolicy some(o);
  feedBlind(some, 0, 10000, 2);
  EXPECT_EQ(some.decide(10000, 3).action, ScalingAction::kNone)
      << "unknown CPU is not low CPU: open connections may be busy ones";
  ScalingPolicy idle(o);
  feedBlind(idle, 0, 10000, 0);
  d = idle.decide(10000, 3);
  EXPECT_EQ(d.action, ScalingAction::kDown);
  EXPECT_NE(d.reason.find("no open connection"), std::string::npos) << d.reason;
  ScalingPolicy mixed(o);  // a local task measured now and then: its CPU decides
  feedBlind(mixed, 0, 5000, 0);
  feed(mixed, 6000, 10000, 0.9);
  EXPECT_EQ(mixed.decide(10000, 3).action, ScalingAction::kUp);
}

}  // namespace
}  // namespace lb
