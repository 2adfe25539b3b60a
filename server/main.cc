// switchboard: the WebRTC signaling relay. See README.md and `switchboard --help`.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/logger.h"
#include "server/server.h"

int main(int argc, char** argv) {
  using namespace switchboard::server;
  char hostname[256] = "switchboard";
  gethostname(hostname, sizeof(hostname) - 1);

  Config config;
  std::string error;
  const std::vector<std::string> args(argv + 1, argv + argc);
  switch (ParseConfig(
      args, [](const char* name) { return std::getenv(name); }, hostname, &config, &error)) {
    case ConfigAction::kHelp:
      std::fputs(HelpText().c_str(), stdout);
      return 0;
    case ConfigAction::kError:
      Logger(LogLevel::kError).Error("bad configuration", {{"error", error}});
      return 2;
    case ConfigAction::kRun:
      break;
  }
  Logger logger(ParseLogLevel(config.log_level));
  Server server(std::move(config), logger);
  return server.Run();
}
