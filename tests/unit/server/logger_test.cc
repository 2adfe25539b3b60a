#include "server/logger.h"

#include <gtest/gtest.h>
#include <json/json.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

namespace switchboard::server {
namespace {

// Captures what a Logger writes, through a real FILE*.
class LoggerTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = tmpfile(); }
  void TearDown() override { fclose(file_); }

  std::string Written() {
    fflush(file_);
    rewind(file_);
    std::string text;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), file_)) > 0) text.append(buffer, n);
    return text;
  }

  FILE* file_ = nullptr;
};

TEST_F(LoggerTest, WritesOneJsonObjectPerLine) {
  Logger logger(LogLevel::kInfo, file_);
  logger.Info("listening", {{"port", 8080}, {"pod", "a\"b\n"}});
  logger.Warn("second");
  std::istringstream lines(Written());
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  Json::Value value;
  std::istringstream first(line);
  ASSERT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), first, &value, nullptr)) << line;
  EXPECT_EQ(value["level"].asString(), "info");
  EXPECT_EQ(value["msg"].asString(), "listening");
  EXPECT_EQ(value["port"].asInt(), 8080);
  EXPECT_EQ(value["pod"].asString(), "a\"b\n");
  EXPECT_TRUE(value["ts"].asString().ends_with("Z"));
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_NE(line.find("\"level\":\"warn\""), std::string::npos) << line;
  EXPECT_FALSE(std::getline(lines, line));
}

TEST_F(LoggerTest, SkipsLinesBelowItsLevel) {
  Logger logger(LogLevel::kWarn, file_);
  logger.Debug("no");
  logger.Info("no");
  logger.Error("yes");
  const std::string written = Written();
  EXPECT_EQ(written.find("\"no\""), std::string::npos) << written;
  EXPECT_NE(written.find("\"yes\""), std::string::npos) << written;
}

TEST(LogLevelTest, ParsesNames) {
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
}

}  // namespace
}  // namespace switchboard::server
