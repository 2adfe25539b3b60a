#include "server/logger.h"

#include <ctime>

#include "protocol/json_text.h"

namespace switchboard::server {

namespace {

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendTimestamp(protocol::Frame& line) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char text[40];
  const size_t length = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(text + length, sizeof(text) - length, ".%03ldZ", now.tv_nsec / 1000000);
  protocol::AppendJsonString(line, text);
}

}  // namespace

LogLevel ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

void Logger::Log(LogLevel level, std::string_view message, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  // Frame is the project's append-only text buffer; its headroom is simply not written out.
  protocol::Frame line(128 + message.size());
  line.Append(R"({"ts":)");
  AppendTimestamp(line);
  line.Append(R"(,"level":")");
  line.Append(LevelName(level));
  line.Append(R"(","msg":)");
  protocol::AppendJsonString(line, message);
  for (const auto& [key, value] : fields) {
    line.Append(',');
    protocol::AppendJsonString(line, key);
    line.Append(':');
    if (const auto* text = std::get_if<std::string_view>(&value)) {
      protocol::AppendJsonString(line, *text);
    } else {
      line.Append(std::to_string(std::get<long long>(value)));
    }
  }
  line.Append("}\n");
  fwrite(line.body().data(), 1, line.size(), out_);
  fflush(out_);
}

}  // namespace switchboard::server
