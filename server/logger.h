// Structured logs: one JSON object per line on stderr, as log collectors on Kubernetes expect.
#pragma once

#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace switchboard::server {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn" or "error"; anything else is kInfo.
LogLevel ParseLogLevel(std::string_view name);

class Logger {
 public:
  // A field value: text (escaped on output) or a number.
  using Value = std::variant<std::string_view, long long>;
  using Field = std::pair<std::string_view, Value>;

  // Writes to `out` (not owned), lines below `min_level` are skipped.
  explicit Logger(LogLevel min_level, FILE* out = stderr) : min_level_(min_level), out_(out) {}

  // Writes {"ts":"<UTC ISO 8601>","level":"...","msg":"<message>", <fields>...} and a newline,
  // flushed at once so that a crash loses nothing already logged.
  void Log(LogLevel level, std::string_view message, std::initializer_list<Field> fields = {});

  void Debug(std::string_view m, std::initializer_list<Field> f = {}) {
    Log(LogLevel::kDebug, m, f);
  }
  void Info(std::string_view m, std::initializer_list<Field> f = {}) { Log(LogLevel::kInfo, m, f); }
  void Warn(std::string_view m, std::initializer_list<Field> f = {}) { Log(LogLevel::kWarn, m, f); }
  void Error(std::string_view m, std::initializer_list<Field> f = {}) {
    Log(LogLevel::kError, m, f);
  }

  bool Enabled(LogLevel level) const { return level >= min_level_; }

 private:
  LogLevel min_level_;
  FILE* out_;
};

}  // namespace switchboard::server
