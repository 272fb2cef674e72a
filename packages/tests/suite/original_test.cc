// The original suite's 43 cases (seed 001 listing, plus its two /healthcheck checks),
// translated one to one; names mirror "describe / it" of the listing. Each case stands alone
// (it writes what it reads, under this run's key prefix) so any filter or order works, where
// the original chained its steps. Where meshkv fixed a defect of the original (limits,
// Content-Type) the case asserts meshkv's rule. The list cases /clear the whole service.
#include <algorithm>
#include <set>

#include "tests/suite/testing.h"

namespace suite {
namespace {

// The original's over-long inputs (500-char key, 1000-char value), or past a larger limit.
std::string tooLongKey() {
  return repeat("k", std::max<size_t>(500, maxKeyLength() + 1));
}
std::string tooLongValue() {
  return repeat("v", std::max<size_t>(1000, maxValueLength() + 1));
}

// ---- /healthcheck and /status -------------------------------------------------------------

using Healthcheck = ApiTest;

TEST_F(Healthcheck, ShouldRespondWith200) {
  Response r = c_.get("/healthcheck");
  EXPECT_EQ(r.status, 200) << describe(r);
}

TEST_F(Healthcheck, ShouldRespondWithAnObjectBody) {
  Response r = c_.get("/healthcheck");
  auto d = parseJson(r.body);
  ASSERT_TRUE(d && d->IsObject()) << describe(r);
  ASSERT_TRUE(d->HasMember("status") && (*d)["status"].IsString()) << describe(r);
  EXPECT_STREQ((*d)["status"].GetString(), "ok");
}

using StatusCommand = ApiTest;

TEST_F(StatusCommand, GetNodeStatus_ShouldReturnExpectedSettingProperties) {
  Response r = c_.get("/status");
  ASSERT_EQ(r.status, 200) << describe(r);
  auto d = parseJson(r.body);
  ASSERT_TRUE(d && d->IsObject()) << describe(r);
  ASSERT_TRUE(d->HasMember("maxKeyLength") && (*d)["maxKeyLength"].IsUint()) << r.body;
  ASSERT_TRUE(d->HasMember("maxValueLength") && (*d)["maxValueLength"].IsUint()) << r.body;
  ASSERT_TRUE(d->HasMember("hostname") && (*d)["hostname"].IsString()) << r.body;
  EXPECT_GT((*d)["maxKeyLength"].GetUint(), 0u);
}

// ---- /set -----------------------------------------------------------------------------------

using SetCommand = ApiTest;

TEST_F(SetCommand, SuccessfulRecordSet_ShouldSaveEmptyValueWithoutError) {
  expectSuccess(c_.get("/set?k=" + enc(key("set:empty")) + "&v="));
  expectValue(c_, key("set:empty"), "");
}

TEST_F(SetCommand, SuccessfulRecordSet_ShouldSaveNormalValueWithoutError) {
  expectSuccess(c_.get("/set?k=" + enc(key("set:normal")) + "&v=ok"));
  expectValue(c_, key("set:normal"), "ok");
}

TEST_F(SetCommand, Utf16SuccessfulRecordSet_ShouldSaveUtf8KeyAndUtf16ValueWithoutError) {
  expectSuccess(c_.get("/set?k=" + enc(key("test:set:utf:✓")) + "&v=" + enc("𤭢")));
}

TEST_F(SetCommand, Utf16SuccessfulRecordSet_ShouldGetTheUtf16ValueByTheUtf8KeyWithoutError) {
  put(c_, key("test:set:utf:✓:read"), "𤭢");
  Response r = eventuallyGet(c_, "/get?k=" + enc(key("test:set:utf:✓:read")), 200);
  EXPECT_EQ(jsonString(r.body), std::optional<std::string>("𤭢")) << describe(r);
}

TEST_F(SetCommand, FailScenarios_ShouldRespondWithAnErrorForMissingKey) {
  expectError(c_.get("/set?v=x"), 400, "MISSING_KEY_PARAM");
}

TEST_F(SetCommand, FailScenarios_ShouldRespondWithAnErrorForEmptyKey) {
  expectError(c_.get("/set?k=&v=x"), 400, "EMPTY_KEY");
}

TEST_F(SetCommand, FailScenarios_ShouldRespondWithAnErrorForMaximumKeyLengthReached) {
  expectError(c_.get("/set?k=" + tooLongKey() + "&v=x"), 400, "MAXIMUM_KEY_LENGTH_REACHED");
}

TEST_F(SetCommand, FailScenarios_ShouldRespondWithAnErrorForMissingValue) {
  expectError(c_.get("/set?k=" + enc(key("set:novalue"))), 400, "MISSING_VALUE_PARAM");
}

TEST_F(SetCommand, FailScenarios_ShouldRespondWithAnErrorForMaximumValueLengthReached) {
  expectError(c_.get("/set?k=" + enc(key("set:longvalue")) + "&v=" + tooLongValue()), 400,
              "MAXIMUM_VALUE_LENGTH_REACHED");
  expectError(c_.get("/get?k=" + enc(key("set:longvalue"))), 404, "MISSING_RECORD");
}

// ---- /get -----------------------------------------------------------------------------------

using GetCommand = ApiTest;

TEST_F(GetCommand, SuccessfulRecordGet_ShouldSaveNormalRecordWithoutError) {
  expectSuccess(c_.get("/set?k=" + enc(key("get:normal")) + "&v=ok"));
}

TEST_F(GetCommand, SuccessfulRecordGet_ShouldGetTheSameRecordWithoutError) {
  put(c_, key("get:same"), "ok");
  Response r = eventuallyGet(c_, "/get?k=" + enc(key("get:same")), 200, "\"ok\"");
  EXPECT_EQ(r.body, "\"ok\"") << describe(r);
  EXPECT_EQ(r.header("content-type").rfind("application/json", 0), 0u);
}

TEST_F(GetCommand, MissingRecord_ShouldRespondWithAnErrorForMissingRecord) {
  expectError(c_.get("/get?k=" + enc(key("get:never-set"))), 404, "MISSING_RECORD");
}

TEST_F(GetCommand, FailScenarios_ShouldRespondWithAnErrorForMissingKey) {
  expectError(c_.get("/get"), 400, "MISSING_KEY_PARAM");
}

TEST_F(GetCommand, FailScenarios_ShouldRespondWithAnErrorForEmptyKey) {
  expectError(c_.get("/get?k="), 400, "EMPTY_KEY");
}

TEST_F(GetCommand, FailScenarios_ShouldRespondWithAnErrorForMaximumKeyLengthReached) {
  expectError(c_.get("/get?k=" + tooLongKey()), 400, "MAXIMUM_KEY_LENGTH_REACHED");
}

// ---- /rm ------------------------------------------------------------------------------------

using RmCommand = ApiTest;

TEST_F(RmCommand, SuccessfulRecordRemove_ShouldSaveNormalRecordWithoutError) {
  expectSuccess(c_.get("/set?k=" + enc(key("rm:save")) + "&v=ok"));
}

TEST_F(RmCommand, SuccessfulRecordRemove_ShouldRemoveTheSameRecordWithoutError) {
  put(c_, key("rm:same"), "ok");
  Response r = eventuallyGet(c_, "/rm?k=" + enc(key("rm:same")), 200);
  expectSuccess(r);
  expectError(eventuallyGet(c_, "/get?k=" + enc(key("rm:same")), 404), 404, "MISSING_RECORD");
}

TEST_F(RmCommand,
       SuccessfulRecordRemove_ShouldNotAllowToRemoveTheSameRecordAgainWithMissingRecordError) {
  put(c_, key("rm:again"), "ok");
  expectSuccess(eventuallyGet(c_, "/rm?k=" + enc(key("rm:again")), 200));
  expectError(eventuallyGet(c_, "/rm?k=" + enc(key("rm:again")), 404), 404, "MISSING_RECORD");
}

TEST_F(RmCommand, FailScenarios_ShouldRespondWithAnErrorForMissingKey) {
  expectError(c_.get("/rm"), 400, "MISSING_KEY_PARAM");
}

TEST_F(RmCommand, FailScenarios_ShouldRespondWithAnErrorForEmptyKey) {
  expectError(c_.get("/rm?k="), 400, "EMPTY_KEY");
}

TEST_F(RmCommand, FailScenarios_ShouldRespondWithAnErrorForMaximumKeyLengthReached) {
  expectError(c_.get("/rm?k=" + tooLongKey()), 400, "MAXIMUM_KEY_LENGTH_REACHED");
}

// ---- /is ------------------------------------------------------------------------------------

using IsCommand = ApiTest;

TEST_F(IsCommand, SuccessfulRecordExistCheck_ShouldSaveNormalRecordWithoutError) {
  expectSuccess(c_.get("/set?k=" + enc(key("is:save")) + "&v=ok"));
}

TEST_F(IsCommand, SuccessfulRecordExistCheck_ShouldFindTheSameExistsRecordWithoutError) {
  put(c_, key("is:find"), "ok");
  expectSuccess(eventuallyGet(c_, "/is?k=" + enc(key("is:find")), 200));
}

TEST_F(IsCommand, SuccessfulRecordExistCheck_ShouldRemoveTheSameRecordWithoutError) {
  put(c_, key("is:rm"), "ok");
  expectSuccess(eventuallyGet(c_, "/is?k=" + enc(key("is:rm")), 200));
  expectSuccess(c_.get("/rm?k=" + enc(key("is:rm"))));
}

TEST_F(IsCommand,
       SuccessfulRecordExistCheck_ShouldNotAllowToRemoveTheSameRecordAgainWithMissingRecordError) {
  put(c_, key("is:gone"), "ok");
  expectSuccess(eventuallyGet(c_, "/rm?k=" + enc(key("is:gone")), 200));
  expectError(eventuallyGet(c_, "/is?k=" + enc(key("is:gone")), 404), 404, "MISSING_RECORD");
}

TEST_F(IsCommand, FailScenarios_ShouldRespondWithAnErrorForMissingKey) {
  expectError(c_.get("/is"), 400, "MISSING_KEY_PARAM");
}

TEST_F(IsCommand, FailScenarios_ShouldRespondWithAnErrorForEmptyKey) {
  expectError(c_.get("/is?k="), 400, "EMPTY_KEY");
}

TEST_F(IsCommand, FailScenarios_ShouldRespondWithAnErrorForMaximumKeyLengthReached) {
  expectError(c_.get("/is?k=" + tooLongKey()), 400, "MAXIMUM_KEY_LENGTH_REACHED");
}

// ---- /clear ---------------------------------------------------------------------------------

using ClearCommand = ApiTest;

TEST_F(ClearCommand, SuccessfulClearAllTheRecords_ShouldSaveNormalRecordWithoutError) {
  expectSuccess(c_.get("/set?k=" + enc(key("clear:save")) + "&v=ok"));
}

TEST_F(ClearCommand, SuccessfulClearAllTheRecords_ShouldGetTheSomeRecordsWithoutError) {
  put(c_, key("clear:some"), "ok");
  Response last;
  bool ok = eventually([&] {
    last = c_.get("/getAll");
    auto pairs = pairArray(last.body);
    return last.status == 200 && pairs &&
           std::count(pairs->begin(), pairs->end(),
                      std::make_pair(key("clear:some"), std::string("ok"))) == 1;
  });
  EXPECT_TRUE(ok) << describe(last);
}

TEST_F(ClearCommand, SuccessfulClearAllTheRecords_ShouldClearAllRecordsWithoutError) {
  put(c_, key("clear:all"), "ok");
  expectSuccess(c_.get("/clear"));
}

// ---- /getKeys, /getValues, /getAll -----------------------------------------------------------

// Clears the service, then sets the same 10 pairs twice; returns them.
std::vector<std::pair<std::string, std::string>> saveTwice10(Client& c, const std::string& tag) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < 10; ++i) {
    pairs.emplace_back(key(tag + ":" + std::to_string(i)),
                       key(tag + ":value:" + std::to_string(i)));
  }
  for (int round = 0; round < 2; ++round) {
    for (const auto& [k, v] : pairs) put(c, k, v);
  }
  return pairs;
}

// route's answer eventually holds exactly `want` (each once, any order).
void expectExactly(Client& c, const std::string& route, std::vector<std::string> want) {
  std::sort(want.begin(), want.end());
  Response last;
  std::vector<std::string> got;
  bool ok = eventually([&] {
    last = c.get(route);
    auto items = stringArray(last.body);
    if (last.status != 200 || !items) return false;
    got = *items;
    std::sort(got.begin(), got.end());
    return got == want;
  });
  EXPECT_TRUE(ok) << route << ": " << describe(last);
}

using GetKeysCommand = ApiTest;

TEST_F(GetKeysCommand, SuccessfulClearAllTheRecords_ShouldClearAllRecordsWithoutError) {
  expectSuccess(c_.get("/clear"));
}

TEST_F(GetKeysCommand, SuccessfulGetAllTheKeys_ShouldSaveTwice10RecordsWithoutError) {
  expectSuccess(c_.get("/clear"));
  saveTwice10(c_, "getKeys:save");
}

TEST_F(GetKeysCommand, SuccessfulGetAllTheKeys_ShouldGetTheSameUniqueRecordsKeysWithoutError) {
  expectSuccess(c_.get("/clear"));
  auto pairs = saveTwice10(c_, "getKeys");
  std::vector<std::string> keys;
  for (const auto& p : pairs) keys.push_back(p.first);
  expectExactly(c_, "/getKeys", keys);
}

using GetValuesCommand = ApiTest;

TEST_F(GetValuesCommand, SuccessfulClearAllTheRecords_ShouldClearAllRecordsWithoutError) {
  expectSuccess(c_.get("/clear"));
}

TEST_F(GetValuesCommand, SuccessfulGetAllTheValues_ShouldSaveTwice10RecordsWithoutError) {
  expectSuccess(c_.get("/clear"));
  saveTwice10(c_, "getValues:save");
}

TEST_F(GetValuesCommand,
       SuccessfulGetAllTheValues_ShouldGetTheSameUniqueRecordsValuesWithoutError) {
  expectSuccess(c_.get("/clear"));
  auto pairs = saveTwice10(c_, "getValues");
  std::vector<std::string> values;
  for (const auto& p : pairs) values.push_back(p.second);
  expectExactly(c_, "/getValues", values);
}

using GetAllCommand = ApiTest;

TEST_F(GetAllCommand, SuccessfulClearAllTheRecords_ShouldClearAllRecordsWithoutError) {
  expectSuccess(c_.get("/clear"));
}

TEST_F(GetAllCommand, SuccessfulGetAllTheRecords_ShouldSaveTwice10RecordsWithoutError) {
  expectSuccess(c_.get("/clear"));
  saveTwice10(c_, "getAll:save");
}

TEST_F(GetAllCommand, SuccessfulGetAllTheRecords_ShouldGetTheSameUniqueRecordsWithoutError) {
  expectSuccess(c_.get("/clear"));
  auto want = saveTwice10(c_, "getAll");
  std::sort(want.begin(), want.end());
  Response last;
  bool ok = eventually([&] {
    last = c_.get("/getAll");
    auto got = pairArray(last.body);
    if (last.status != 200 || !got) return false;
    std::sort(got->begin(), got->end());
    return *got == want;
  });
  EXPECT_TRUE(ok) << describe(last);
}

}  // namespace
}  // namespace suite
