// Unit tests of the command line's parsing (args.h): flags anywhere, quoted REPL words, and the
// usage errors a user gets for what is wrong or not supported yet.
#include "cli/args.h"

#include <gtest/gtest.h>

namespace cli {
namespace {

TEST(Args, FlagsGoBeforeOrAfterTheCommand) {
  auto a = parse({"--node=h:1", "get", "k", "--json"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->command, "get");
  EXPECT_EQ(a->args, std::vector<std::string>{"k"});
  EXPECT_EQ(a->node, "h:1");
  EXPECT_TRUE(a->json);
  auto b = parse({"set", "k", "--", "--v"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->args, (std::vector<std::string>{"k", "--v"}));
  EXPECT_EQ(parse({"rm", "k"})->command, "del");
  EXPECT_TRUE(parse({})->command.empty()) << "no command: the shell";
}

TEST(Args, UsageErrorsSayWhatIsWrong) {
  EXPECT_EQ(parse({"get"}).error().code, "USAGE");
  EXPECT_EQ(parse({"fly"}).error().message, "unknown command fly (see meshkv help)");
  EXPECT_EQ(parse({"get", "k", "--colour"}).error().code, "USAGE");
  EXPECT_EQ(parse({"set", "users", "k", "v"}).error().message,
            "meshkv set KEY VALUE [--ttl=SECONDS]");
  EXPECT_EQ(parse({"get", "k", "--ttl", "5"}).error().message, "--ttl goes with set only");
  for (const char* bad : {"0", "-1", "x", "5s", ""}) {
    EXPECT_EQ(parse({"set", "k", "v", "--ttl", bad}).error().message,
              "--ttl needs a positive number of seconds")
        << bad;
  }
  EXPECT_EQ(parse({"get", "k", "-c"}).error().message, "-c needs a value");
  EXPECT_EQ(parse({"get", "k", "--timeout=x"}).error().code, "USAGE");
}

TEST(Args, CollectionAndTtlFlags) {
  auto a = parse({"-c", "users", "get", "k"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->collection, "users");
  EXPECT_EQ(a->args, std::vector<std::string>{"k"});
  EXPECT_EQ(parse({"keys", "--collection=orders"})->collection, "orders");
  EXPECT_EQ(parse({"watch", "p", "-c", "x"})->collection, "x");
  EXPECT_TRUE(parse({"get", "k"})->collection.empty()) << "the default collection";
  auto t = parse({"set", "k", "v", "--ttl=30", "-c", "s"});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ttl, 30u);
  EXPECT_EQ(t->collection, "s");
  EXPECT_EQ(parse({"set", "k", "v"})->ttl, 0u) << "no expiry";
  EXPECT_EQ(parse({"ttl", "k"})->command, "ttl");
  EXPECT_EQ(parse({"persist", "k"})->command, "persist");
  EXPECT_EQ(parse({"use", "users"})->args, std::vector<std::string>{"users"});
  EXPECT_EQ(parse({"set", "k", "--", "-c"})->args, (std::vector<std::string>{"k", "-c"}));
}

TEST(Args, ReplLinesKeepQuotedSpaces) {
  auto w = splitLine(R"(set "my key" 'a "b" c' plain\ word "x\"y")");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (std::vector<std::string>{"set", "my key", "a \"b\" c", "plain word", "x\"y"}));
  EXPECT_TRUE(splitLine("   ")->empty());
  EXPECT_EQ(splitLine("get \"open").error().code, "USAGE");
}

TEST(Args, NodeUrlComesFromTheFlagThenTheEnvironment) {
  EXPECT_EQ(nodeUrl("h:1", "http://e:2"), "http://h:1");
  EXPECT_EQ(nodeUrl("", "e:2"), "http://e:2");
  EXPECT_EQ(nodeUrl("", nullptr), "http://127.0.0.1:8080");
}

}  // namespace
}  // namespace cli
